"""All Crossing Nets networks for one dataset, and compiled test-time functions.

Shapes and units of the numpy API (batch first, float32):

* joints: (B, J, 3) in mm, relative to the crop centre (x right, y up, z away
  from the camera: the release's convention, SPEC section 5);
* latent z_y: (B, 23) = 20-d pose code + root-joint offset from the crop
  centre in units of 50 mm;
* depth: (B, S, S) normalised crops (nearest hand pixel -1, background +1).
"""
from collections import OrderedDict

import numpy as np

from .. import nn
from .. import function_cache
from ..backend import at
from .alignment import build_alignment
from .config import LATENT_DIM, POSE_CODE_DIM, UNIT_MM, config_for
from .depth_gan import build_discriminator, build_generator
from .metric_head import build_metric_head
from .posterior_head import build_posterior_head
from .pose_vae import build_pose_decoder, build_pose_encoder

__all__ = ["CrossingNet", "PART_FILES"]

# checkpoint file stem of each part, in the authors' naming
PART_FILES = OrderedDict([
    ("encoder", "en_params"), ("decoder", "de_params"), ("alignment", "align"),
    ("generator", "gen_params"), ("discriminator", "dis_params"),
    ("posterior_head", "reco_params"), ("metric_head", "metr_params"),
])


class CrossingNet(object):
    """Builds the pose VAE, Ali, generator, discriminator and both heads.

    ``seed`` seeds the initialisers (None keeps the current generator).
    """

    def __init__(self, dataset="icvl", image_size=None, seed=None):
        if seed is not None:
            nn.init.set_rng(seed)
        self.config = config_for(dataset, image_size)
        cfg = self.config
        self.encoder = build_pose_encoder(cfg.pose_dim)
        self.decoder = build_pose_decoder(cfg.pose_dim)
        self.alignment_input, self.alignment = build_alignment()
        self.generator = build_generator(cfg.image_size)
        self.discriminator = build_discriminator(cfg.image_size)
        self.posterior_head = build_posterior_head(self.discriminator.conv2)
        self.metric_head = build_metric_head(self.discriminator.conv2)
        self._functions = {}

    # -- parameters -----------------------------------------------------
    def part_layers(self, part):
        """(top layers, base layer or None) of a checkpoint part."""
        d = self.discriminator
        table = {
            "encoder": ([self.encoder.mu, self.encoder.logvar], None),
            "decoder": ([self.decoder.output], None),
            "alignment": ([self.alignment], None),
            "generator": ([self.generator.output], None),
            "discriminator": ([d.output], None),
            "posterior_head": ([self.posterior_head], d.conv2),
            "metric_head": ([self.metric_head], d.conv2),
        }
        if part not in table:
            raise ValueError("unknown part %r; parts: %s"
                             % (part, ", ".join(PART_FILES)))
        return table[part]

    def part_params(self, part, **tags):
        """Parameters of one part in Lasagne order (the checkpoint order);
        a head excludes the discriminator layers it branches from."""
        tops, base = self.part_layers(part)
        params = nn.get_all_params(tops, **tags)
        if base is not None:
            below = set(nn.get_all_params(base))
            params = [p for p in params if p not in below]
        return params

    def count_params(self, part, **tags):
        """Scalars of one part's parameters (see :meth:`part_params`)."""
        return nn.count_values(self.part_params(part, **tags))

    # -- symbolic graphs -------------------------------------------------
    def pose_from_latent_expr(self, z, deterministic=True):
        """(B, 23) latent -> (B, J, 3) joints in units of 50 mm relative to
        the crop centre: decoder(z[:, :20]) + z[:, 20:23]."""
        rel = nn.get_output(self.decoder.output, z[:, :POSE_CODE_DIM],
                            deterministic=deterministic)
        rel = rel.reshape((z.shape[0], self.config.num_joints, 3))
        return rel + z[:, POSE_CODE_DIM:].dimshuffle(0, "x", 1)

    def depth_from_latent_expr(self, z_y, deterministic=True):
        """(B, 23) pose latent -> Ali -> generator -> (B, 1, S, S)."""
        z_x = nn.get_output(self.alignment, z_y, deterministic=deterministic)
        return nn.get_output(self.generator.output,
                             {self.generator.input: z_x},
                             deterministic=deterministic)

    def latent_from_depth_expr(self, depth, deterministic=True):
        """(B, 1, S, S) depth -> D conv1-2 -> posterior head -> (B, 23)."""
        return nn.get_output(self.posterior_head,
                             {self.discriminator.input: depth},
                             deterministic=deterministic)

    # -- compiled functions (deterministic, compiled once each) ----------
    def _function(self, key, build):
        if key not in self._functions:
            inputs, output = build()
            self._functions[key] = function_cache.function(inputs, output)
        return self._functions[key]

    def _check_joints(self, joints):
        joints = np.asarray(joints, dtype="float32")
        J = self.config.num_joints
        if joints.ndim != 3 or joints.shape[1:] != (J, 3):
            raise ValueError("expected joints of shape (B, %d, 3) for %s, got %s"
                             % (J, self.config.dataset, joints.shape))
        return joints

    def _check_depth(self, depth):
        depth = np.asarray(depth, dtype="float32")
        S = self.config.image_size
        if depth.ndim == 3:
            depth = depth[:, None]
        if depth.ndim != 4 or depth.shape[1:] != (1, S, S):
            raise ValueError("expected depth crops of shape (B, %d, %d), got %s"
                             % (S, S, depth.shape))
        return depth

    def encode_normalised(self, pose):
        """(B, 3J) root-relative joints / 50 mm -> (B, 20) VAE mean."""
        return self.pose_posterior(pose)[0]

    def pose_posterior(self, pose):
        """(B, 3J) root-relative joints / 50 mm -> (mu, sigma), each (B, 20):
        the VAE's posterior q(z_y | y) = N(mu, sigma^2)."""
        pose = np.asarray(pose, dtype="float32")
        if pose.ndim != 2 or pose.shape[1] != self.config.pose_dim:
            raise ValueError("expected poses of shape (B, %d), got %s"
                             % (self.config.pose_dim, pose.shape))

        def build():
            x = at.matrix("pose", dtype="float32")
            mu, logvar = nn.get_output([self.encoder.mu, self.encoder.logvar],
                                       x, deterministic=True)
            return [x], [mu, at.exp(0.5 * logvar)]
        return tuple(self._function("pose_posterior", build)(pose))

    def recalibrate_batch_norm(self, depth, latents=None, batch_size=100,
                               posterior_only=False):
        """Population batch-norm statistics (:func:`crossnet.nn.
        recalibrate_batch_norm`) of the discriminator and both heads (only
        the posterior path, D conv1-2 + posterior head, with
        ``posterior_only``) over ``depth`` (N, S, S) training crops, and of
        Ali and the generator over ``latents`` (N, 23) pose latents
        (skipped when None)."""
        depth = self._check_depth(depth)
        d = self.discriminator
        key = "recalibrate_posterior" if posterior_only else "recalibrate_depth"
        if key not in self._functions:
            tops = [self.posterior_head] if posterior_only else [
                d.output, self.posterior_head, self.metric_head]
            self._functions[key] = nn.BatchNormRecalibration(tops)
        self._functions[key](_batches(depth, batch_size))
        if latents is None:
            return
        latents = np.asarray(latents, dtype="float32")
        if latents.ndim != 2 or latents.shape[1] != LATENT_DIM:
            raise ValueError("expected latents of shape (N, %d), got %s"
                             % (LATENT_DIM, latents.shape))
        if "recalibrate_alignment" not in self._functions:
            self._functions["recalibrate_alignment"] = \
                nn.BatchNormRecalibration(self.alignment)
            self._functions["recalibrate_generator"] = \
                nn.BatchNormRecalibration(self.generator.output)
        self._functions["recalibrate_alignment"](_batches(latents, batch_size))

        def build():
            zv = at.matrix("z_y", dtype="float32")
            return [zv], nn.get_output(self.alignment, zv, deterministic=True)
        align = self._function("align", build)
        z_x = np.concatenate([align(b) for b in _batches(latents, batch_size)])
        self._functions["recalibrate_generator"](_batches(z_x, batch_size))

    def encode_pose(self, joints):
        """(B, J, 3) mm rel. to the crop centre -> (B, 23) latent (VAE mean,
        root offset / 50 mm)."""
        joints = self._check_joints(joints) / UNIT_MM
        root = joints[:, self.config.root_joint]
        rel = (joints - root[:, None]).reshape(len(joints), -1)
        mu = self.encode_normalised(rel)
        return np.concatenate([mu, root], axis=1).astype("float32")

    def decode_latent(self, z):
        """(B, 23) latent -> (B, J, 3) joints in mm rel. to the crop centre."""
        def build():
            zv = at.matrix("z", dtype="float32")
            return [zv], self.pose_from_latent_expr(zv) * UNIT_MM
        return self._function("decode", build)(np.asarray(z, "float32"))

    def render(self, z_y):
        """(B, 23) pose latent -> (B, S, S) depth crops in [-1, 1]."""
        def build():
            zv = at.matrix("z_y", dtype="float32")
            return [zv], self.depth_from_latent_expr(zv)[:, 0]
        return self._function("render", build)(np.asarray(z_y, "float32"))

    def estimate(self, depth):
        """(B, S, S) depth crops -> (B, J, 3) joints in mm rel. to the crop
        centre (posterior head, then the VAE decoder)."""
        def build():
            x = at.tensor4("depth", dtype="float32")
            z = self.latent_from_depth_expr(x)
            return [x], self.pose_from_latent_expr(z) * UNIT_MM
        return self._function("estimate", build)(self._check_depth(depth))


def _batches(array, batch_size):
    return [array[i:i + batch_size] for i in range(0, len(array), batch_size)]
