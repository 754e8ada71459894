"""Posterior head (Fig. 2, right): depth -> estimate of the 23-d pose latent.

Branches from the discriminator's conv2 output (32 x S/4 x S/4): 3 x [conv
32, 6x6, stride 2, pad 2, BN, leaky ReLU 0.2] -> Dense 512 -> 23 (no bias) +
BN + leaky ReLU 0.2 -> Dense 23 -> 23 (linear, bias). The pose is the VAE
decoder of z[:, :20] plus the root offset z[:, 20:23], times 50 mm.
Checkpoint file: ``reco_params``. With D's conv1-2 and the VAE decoder this
is the test-time pose estimator the paper times at 90 fps.
"""
from .. import nn
from .config import LATENT_DIM
from .depth_gan import DEPTH_GAMMA, DEPTH_W, conv_block

__all__ = ["build_posterior_head"]


def build_posterior_head(branch):
    """Layers on top of ``branch`` (the discriminator's conv2); returns the
    output layer (B, 23)."""
    h = branch
    for i in range(3, 6):
        h = conv_block(h, "pos_conv%d" % i)
    h = nn.DenseLayer(h, LATENT_DIM, W=DEPTH_W, b=None, nonlinearity=None,
                      name="pos_fc")
    h = nn.BatchNormLayer(h, gamma=DEPTH_GAMMA, name="pos_fc_bn")
    h = nn.NonlinearityLayer(h, nn.nonlinearities.LeakyRectify(0.2),
                             name="pos_fc_lrelu")
    return nn.DenseLayer(h, LATENT_DIM, W=DEPTH_W, nonlinearity=None,
                         name="pos_out")
