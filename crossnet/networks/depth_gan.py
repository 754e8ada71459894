"""Depth GAN (Fig. 2, bottom): generator z_x -> depth map, discriminator.

Generator: tanh -> Dense 23 -> 32 s s (no bias) + BN + ReLU -> reshape
(32, s, s) -> 4 x [transposed conv 32, 6x6, stride 2, crop 2, BN, ReLU] ->
transposed conv 1, 6x6, stride 2, crop 2, bias 0.8, tanh. With the paper's
128-pixel crop s = 4 (4 -> 8 -> 16 -> 32 -> 64 -> 128).

Discriminator: 5 x [conv 32, 6x6, stride 2, pad 2, no bias, BN, leaky ReLU
0.2] (128 -> 64 -> 32 -> 16 -> 8 -> 4) -> Dense 512 -> 1, sigmoid. Taps:
``conv2`` (branch point of the posterior and metric heads) and ``conv5``
(feature matching). Weights ~ N(0, 0.05), BN gamma ~ N(1, 0.02).
"""
from collections import namedtuple

from .. import nn
from .config import LATENT_DIM

__all__ = ["Generator", "Discriminator", "build_generator",
           "build_discriminator", "conv_block", "DEPTH_W", "DEPTH_GAMMA"]

CHANNELS = 32
KERNEL = 6
DEPTH_W = nn.init.Normal(0.05)
DEPTH_GAMMA = nn.init.Normal(0.02, mean=1.0)
Generator = namedtuple("Generator", "input output")
Discriminator = namedtuple("Discriminator", "input conv2 conv5 output")


def conv_block(incoming, name, num_filters=CHANNELS):
    """conv 6x6 stride 2 pad 2 (no bias) -> BN -> leaky ReLU 0.2; halves H, W."""
    conv = nn.Conv2DLayer(incoming, num_filters, KERNEL, stride=2, pad=2,
                          W=DEPTH_W, b=None, nonlinearity=None, name=name)
    bn = nn.BatchNormLayer(conv, gamma=DEPTH_GAMMA, name=name + "_bn")
    return nn.NonlinearityLayer(bn, nn.nonlinearities.LeakyRectify(0.2),
                                name=name + "_lrelu")


def _deconv_block(incoming, name):
    deconv = nn.TransposedConv2DLayer(incoming, CHANNELS, KERNEL, stride=2,
                                      crop=2, W=DEPTH_W, b=None,
                                      nonlinearity=None, name=name)
    bn = nn.BatchNormLayer(deconv, gamma=DEPTH_GAMMA, name=name + "_bn")
    return nn.NonlinearityLayer(bn, nn.nonlinearities.relu, name=name + "_relu")


def build_generator(image_size=128, input_var=None, input_layer=None):
    """Generator layers, (B, 23) -> (B, 1, image_size, image_size) in [-1, 1].

    ``input_layer`` builds it on top of another network (e.g. Ali's output).
    """
    start = image_size // 32
    l_in = input_layer or nn.InputLayer((None, LATENT_DIM), input_var,
                                        name="depth_code")
    h = nn.NonlinearityLayer(l_in, nn.nonlinearities.tanh, name="gen_tanh")
    h = nn.DenseLayer(h, CHANNELS * start * start, W=DEPTH_W, b=None,
                      nonlinearity=None, name="gen_fc")
    h = nn.BatchNormLayer(h, gamma=DEPTH_GAMMA, name="gen_fc_bn")
    h = nn.NonlinearityLayer(h, nn.nonlinearities.relu, name="gen_fc_relu")
    h = nn.ReshapeLayer(h, ([0], CHANNELS, start, start), name="gen_reshape")
    for i in range(1, 5):
        h = _deconv_block(h, "gen_deconv%d" % i)
    out = nn.TransposedConv2DLayer(h, 1, KERNEL, stride=2, crop=2, W=DEPTH_W,
                                   b=nn.init.Constant(0.8),
                                   nonlinearity=nn.nonlinearities.tanh,
                                   name="gen_deconv5")
    return Generator(l_in, out)


def build_discriminator(image_size=128, input_var=None):
    """Discriminator layers, (B, 1, S, S) depth in [-1, 1] -> (B, 1) P(real)."""
    l_in = nn.InputLayer((None, 1, image_size, image_size), input_var,
                         name="depth")
    h = l_in
    taps = {}
    for i in range(1, 6):
        h = conv_block(h, "dis_conv%d" % i)
        taps[i] = h
    out = nn.DenseLayer(h, 1, W=DEPTH_W, nonlinearity=nn.nonlinearities.sigmoid,
                        name="dis_out")
    return Discriminator(l_in, taps[2], taps[5], out)
