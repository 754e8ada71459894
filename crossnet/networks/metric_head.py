"""Metric ("smoothness") head: depth -> 23-d embedding m(x).

Branches from the discriminator's conv2 output: 3 x [conv 32, 6x6, stride 2,
pad 2, BN, leaky ReLU 0.2] -> Dense 512 -> 512 (no bias) + BN + leaky ReLU
0.2 -> Dense 512 -> 23 (linear, bias). smo(x1, x2) = m(x1) - m(x2) should
equal z(x1) - z(x2). Checkpoint file: ``metr_params``.
"""
from .. import nn
from .config import LATENT_DIM
from .depth_gan import DEPTH_GAMMA, DEPTH_W, conv_block

__all__ = ["build_metric_head"]

HIDDEN = 512


def build_metric_head(branch):
    """Layers on top of ``branch`` (the discriminator's conv2); returns the
    output layer (B, 23)."""
    h = branch
    for i in range(3, 6):
        h = conv_block(h, "metr_conv%d" % i)
    h = nn.DenseLayer(h, HIDDEN, W=DEPTH_W, b=None, nonlinearity=None,
                      name="metr_fc")
    h = nn.BatchNormLayer(h, gamma=DEPTH_GAMMA, name="metr_fc_bn")
    h = nn.NonlinearityLayer(h, nn.nonlinearities.LeakyRectify(0.2),
                             name="metr_fc_lrelu")
    return nn.DenseLayer(h, LATENT_DIM, W=DEPTH_W, nonlinearity=None,
                         name="metr_out")
