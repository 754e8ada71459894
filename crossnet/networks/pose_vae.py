"""Pose VAE (Fig. 2, top left): joints <-> 20-d pose code z_y.

Input: root-relative joints in units of 50 mm, flattened (B, 3J) with x, y, z
of joint 0 first. Encoder 3J -> 40 (ReLU) -> mu, logvar (20 each); decoder
20 -> 40 (leaky ReLU 0.01) -> 3J (linear). Checkpoint files: ``en_params``
(fc1, mu, logvar: W, b each) and ``de_params`` (fc1, out: W, b each).
"""
from collections import namedtuple

import numpy as np

from .. import nn
from ..backend import at
from .config import POSE_CODE_DIM

__all__ = ["PoseEncoder", "PoseDecoder", "build_pose_encoder",
           "build_pose_decoder", "kl_divergence", "pca_init",
           "initialise_from_pca"]

HIDDEN = 40
PoseEncoder = namedtuple("PoseEncoder", "input fc1 mu logvar")
PoseDecoder = namedtuple("PoseDecoder", "input fc1 output")


def build_pose_encoder(pose_dim, input_var=None):
    """Encoder layers (see :func:`initialise_from_pca` for the paper's
    initialisation)."""
    l_in = nn.InputLayer((None, pose_dim), input_var, name="pose")
    fc1 = nn.DenseLayer(l_in, HIDDEN, name="enc_fc1", W=nn.init.Normal(0.01))
    mu = nn.DenseLayer(fc1, POSE_CODE_DIM, nonlinearity=None, name="enc_mu")
    logvar = nn.DenseLayer(fc1, POSE_CODE_DIM, nonlinearity=None,
                           name="enc_logvar")
    return PoseEncoder(l_in, fc1, mu, logvar)


def build_pose_decoder(pose_dim, input_var=None):
    """Decoder layers."""
    l_in = nn.InputLayer((None, POSE_CODE_DIM), input_var, name="pose_code")
    fc1 = nn.DenseLayer(l_in, HIDDEN, name="dec_fc1",
                        nonlinearity=nn.nonlinearities.LeakyRectify(0.01))
    out = nn.DenseLayer(fc1, pose_dim, nonlinearity=None, name="dec_out",
                        W=nn.init.Normal(0.01))
    return PoseDecoder(l_in, fc1, out)


def kl_divergence(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) per row, summed over the code."""
    return -0.5 * (1 + logvar - mu ** 2 - at.exp(logvar)).sum(axis=1)


def pca_init(poses, n_components=HIDDEN):
    """(W_enc (3J, k), W_dec (k, 3J)) from a PCA of training poses (N, 3J).

    The encoder's first layer starts as the projection onto the first ``k``
    principal components of the centred poses, the decoder's output layer as
    its transpose (SPEC section 2).
    """
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 2 or poses.shape[0] < 2:
        raise ValueError("pca_init needs poses of shape (N >= 2, 3J), got %s"
                         % (poses.shape,))
    centred = poses - poses.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    comps = np.zeros((n_components, poses.shape[1]))
    k = min(n_components, vt.shape[0])
    comps[:k] = vt[:k]
    return comps.T.astype("float32"), comps.astype("float32")


def initialise_from_pca(encoder, decoder, poses):
    """Set the encoder's first layer to the centred PCA projection of
    ``poses`` (N, 3J) (normalised, root-relative) and the decoder's output
    layer to its inverse (SPEC section 2): W, b of ``encoder.fc1`` and
    ``decoder.output``."""
    poses = np.asarray(poses, dtype=np.float64)
    W_enc, W_dec = pca_init(poses, encoder.fc1.num_units)
    mean = poses.mean(axis=0).astype("float32")
    encoder.fc1.W.set_value(W_enc)
    encoder.fc1.b.set_value((-mean @ W_enc).astype("float32"))
    decoder.output.W.set_value(W_dec)
    decoder.output.b.set_value(mean)
