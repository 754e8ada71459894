"""Fast test-time pose estimation: the posterior path with batch norm folded.

The path the paper times at 90 fps (batch 1, CPU): discriminator conv1-2 ->
posterior head (conv3-5, dense, dense) -> VAE decoder (+ root offset). At test
time batch norm is a fixed per-channel affine map, so it is folded into the
preceding layer: with ``s = gamma * inv_std``, ``W' = W * s`` (per output
channel) and ``b' = beta - mean * s``. What remains is 5 convolutions with
bias + leaky ReLU, the head's 2 dense layers and the decoder's 2, compiled
once with aesara's C linker that keeps intermediate buffers between calls
(``cvm_nogc``). The convolutions use crossnet's direct C Op
(:mod:`crossnet.ops.conv6x6`: register-tiled 6x6/stride-2 convolution +
bias + leaky ReLU, activations kept channels-last and pre-padded between
the five layers, rows over OpenMP threads) by default, or aesara's
``CorrMM`` (im2col + gemm) with ``conv='corrmm'``.

``FoldedPosterior.numpy_forward`` is the same network in plain numpy, used as
a correctness reference and as a timing peer.
"""
import time

import numpy as np

from . import nn
from .backend import aesara, at
from .networks.config import POSE_CODE_DIM, UNIT_MM
from .ops import conv6x6s2, correlate6x6_s2p2, dense_leaky, hwio_kernel

__all__ = ["fold_bn", "FoldedPosterior", "posterior_path_macs"]

LEAK = 0.2            # leaky ReLU of D and the posterior head
DECODER_LEAK = 0.01   # leaky ReLU of the VAE decoder's hidden layer


def fold_bn(W, bn, axis):
    """(W', b') with batch norm ``bn`` (a BatchNormLayer) folded into a layer
    whose output channels run along ``axis`` of W."""
    s = bn.gamma.get_value() * bn.inv_std.get_value()
    b = bn.beta.get_value() - bn.mean.get_value() * s
    shape = [1] * W.ndim
    shape[axis] = -1
    return (W * s.reshape(shape)).astype("float32"), b.astype("float32")


def _collect(net):
    """[(kind, W, b)] of the posterior path, BN folded, in order."""
    convs = ("dis_conv1", "dis_conv2", "pos_conv3", "pos_conv4", "pos_conv5")
    layers = {lay.name: lay for lay in nn.get_all_layers(net.posterior_head)}
    out = []
    for name in convs:
        conv, bn = layers[name], layers[name + "_bn"]
        W, b = fold_bn(conv.W.get_value(), bn, axis=0)
        out.append(("conv", W, b))
    fc, bn = layers["pos_fc"], layers["pos_fc_bn"]
    W, b = fold_bn(fc.W.get_value(), bn, axis=1)
    out.append(("dense_lrelu", W, b))
    o = layers["pos_out"]
    out.append(("dense", o.W.get_value(), o.b.get_value()))
    return out


def posterior_path_macs(image_size=128, num_joints=16):
    """Multiply-adds of one frame through the posterior path (+ decoder)."""
    macs, s, c_in = 0, image_size, 1
    for _ in range(5):
        s //= 2
        macs += s * s * 32 * c_in * 36
        c_in = 32
    macs += 32 * s * s * 23 + 23 * 23            # dense layers of the head
    macs += POSE_CODE_DIM * 40 + 40 * 3 * num_joints  # VAE decoder
    return macs


class FoldedPosterior(object):
    """The folded posterior path of a :class:`CrossingNet` (weights copied at
    construction: rebuild after changing the network).

    ``__call__(depth)``: (B, S, S) or (B, 1, S, S) normalised depth ->
    (B, J, 3) joints in mm relative to the crop centre.
    """

    def __init__(self, net, linker="cvm_nogc", conv="direct"):
        if conv not in ("direct", "corrmm"):
            raise ValueError("conv must be 'direct' (crossnet's C Op) or "
                             "'corrmm' (aesara's), got %r" % conv)
        self.conv = conv
        self.net = net
        self.layers = _collect(net)
        dec = nn.get_all_layers(net.decoder.output)
        self.decoder = [(lay.W.get_value(), lay.b.get_value())
                        for lay in dec if isinstance(lay, nn.DenseLayer)]
        self.num_joints = net.config.num_joints
        self.size = net.config.image_size
        self.linker = linker
        start = time.perf_counter()
        self._fn = self._compile()
        self.compile_s = time.perf_counter() - start

    def expression(self, x):
        """Symbolic (B, 1, S, S) -> (B, J, 3) mm."""
        direct = self.conv == "direct"

        def dense(h, W, b, leak):
            if direct:      # BLAS-free: no BLAS threads next to OpenMP's
                return dense_leaky(h, aesara.shared(W), aesara.shared(b), leak)
            h = at.dot(h, W) + b
            return h if leak == 1.0 else at.switch(h > 0, h, leak * h)

        h = x
        n_conv = sum(kind == "conv" for kind, _, _ in self.layers)
        i_conv = 0
        for kind, W, b in self.layers:
            if kind == "conv" and direct:
                # channels-last, pre-padded between the direct convolutions
                i_conv += 1
                h = conv6x6s2(h, aesara.shared(hwio_kernel(W, flip=True)),
                              aesara.shared(b), LEAK,
                              in_layout="nchw" if i_conv == 1 else "nhwc_pad2",
                              out_layout="nchw" if i_conv == n_conv else "nhwc_pad2")
            elif kind == "conv":
                h = nn.Conv2DLayer(
                    (None, W.shape[1], None, None), W.shape[0], 6, stride=2,
                    pad=2, W=W, b=b, nonlinearity=nn.nonlinearities.LeakyRectify(LEAK)
                ).get_output_for(h)
            else:
                h = dense(h.flatten(2), W, b, LEAK if kind == "dense_lrelu" else 1.0)
        z = h
        (W1, b1), (W2, b2) = self.decoder
        hid = dense(z[:, :POSE_CODE_DIM], W1, b1, DECODER_LEAK)
        rel = dense(hid, W2, b2, 1.0).reshape((z.shape[0], self.num_joints, 3))
        return (rel + z[:, POSE_CODE_DIM:].dimshuffle(0, "x", 1)) * UNIT_MM

    def _compile(self):
        x = at.tensor4("depth", dtype="float32")
        mode = aesara.compile.mode.Mode(linker=self.linker, optimizer="fast_run")
        return aesara.function([x], self.expression(x), mode=mode)

    def _as_input(self, depth):
        depth = np.asarray(depth, dtype="float32")
        if depth.ndim == 3:
            depth = depth[:, None]
        if depth.shape[1:] != (1, self.size, self.size):
            raise ValueError("expected (B, %d, %d) depth crops, got %s"
                             % (self.size, self.size, depth.shape))
        return np.ascontiguousarray(depth)

    def __call__(self, depth):
        x = self._as_input(depth)
        if len(x) == 0:     # aesara's flatten cannot infer -1 from 0 frames
            return np.zeros((0, self.num_joints, 3), "float32")
        return self._fn(x)

    @property
    def function(self):
        """The compiled aesara function (takes a (B, 1, S, S) float32 array)."""
        return self._fn

    # -- the same network in numpy (reference and timing peer) ----------
    def numpy_forward(self, depth):
        x = self._as_input(depth)
        for kind, W, b in self.layers:
            if kind == "conv":
                # true convolution = correlation with the kernel flipped
                x = correlate6x6_s2p2(x, W[:, :, ::-1, ::-1]) \
                    + b[None, :, None, None]
                x = np.where(x > 0, x, LEAK * x)
            else:
                x = x.reshape(len(x), -1) @ W + b
                if kind == "dense_lrelu":
                    x = np.where(x > 0, x, LEAK * x)
        (W1, b1), (W2, b2) = self.decoder
        hid = x[:, :POSE_CODE_DIM] @ W1 + b1
        hid = np.where(hid > 0, hid, DECODER_LEAK * hid)
        rel = (hid @ W2 + b2).reshape(len(x), self.num_joints, 3)
        return (rel + x[:, None, POSE_CODE_DIM:]) * UNIT_MM
