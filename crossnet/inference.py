"""Fast test-time pose estimation: the posterior path with batch norm folded.

The path the paper times at 90 fps (batch 1, CPU): discriminator conv1-2 ->
posterior head (conv3-5, dense, dense) -> VAE decoder (+ root offset). The
steps come from the layer graph (:func:`crossnet.nn.fold.fold_chain`: batch
norm folded into the layer before it, nonlinearities as leaky-ReLU slopes),
so a change of ``networks/`` reaches this path, its numpy twin, the PyTorch
peer of ``paper_experiments/timing.py`` and the FLOP count. They are
compiled once with aesara's C linker that keeps intermediate buffers between
calls (``cvm_nogc``). Convolutions of 6x6, stride 2, pad 2 use crossnet's
direct C Op (:mod:`crossnet.ops.conv6x6`: register-tiled, activations kept
channels-last and pre-padded between such layers, rows over OpenMP threads)
by default, or aesara's ``CorrMM`` (im2col + gemm) with ``conv='corrmm'``;
other shapes always use ``CorrMM``.

``FoldedPosterior.numpy_forward`` is the same network in plain numpy, used as
a correctness reference and as a timing peer.
"""
import time

import numpy as np

from . import nn
from .backend import aesara, at
from .networks.config import POSE_CODE_DIM, UNIT_MM
from .nn.fold import fold_chain, step_macs
from .ops import conv6x6s2, correlate6x6_s2p2, dense_leaky, hwio_kernel

__all__ = ["FoldedPosterior", "posterior_path_steps",
           "posterior_path_macs"]


def posterior_path_steps(net):
    """(head steps: depth -> 23-d latent, decoder steps: 20-d code -> 3J)
    of a :class:`CrossingNet`, from its layer graph."""
    return fold_chain(net.posterior_head), fold_chain(net.decoder.output)


def posterior_path_macs(net):
    """Multiply-adds of one frame through the posterior path (+ decoder)."""
    head, decoder = posterior_path_steps(net)
    return sum(step_macs(s) for s in head + decoder)


def _is_direct(step):
    return (step.kind == "conv" and step.W.shape[2:] == (6, 6)
            and tuple(step.stride) == (2, 2) and tuple(step.pad) == (2, 2))


def _leaky(x, leak):
    return x if leak == 1.0 else np.where(x > 0, x, leak * x)


def numpy_correlate(x, W, stride, pad):
    """numpy: cross-correlation of (B, C, H, W) with (F, C, kh, kw)."""
    if W.shape[2:] == (6, 6) and tuple(stride) == (2, 2) and tuple(pad) == (2, 2):
        return correlate6x6_s2p2(x, W)
    (sh, sw), (ph, pw) = stride, pad
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(xp, W.shape[2:], axis=(2, 3))
    win = win[:, :, ::sh, ::sw]                 # (B, C, Ho, Wo, kh, kw)
    return np.einsum("bchwij,fcij->bfhw", win, W, optimize=True)


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
        self.steps, self.decoder_steps = posterior_path_steps(net)
        self.num_joints = net.config.num_joints
        self.size = net.config.image_size
        self.linker = linker
        start = time.perf_counter()
        self._fn = self._compile()
        self.compile_s = time.perf_counter() - start

    def expression(self, x):
        """Symbolic (B, 1, S, S) -> (B, J, 3) mm."""
        direct = self.conv == "direct"

        def dense(h, step):
            W, b = aesara.shared(step.W), aesara.shared(step.b)
            if direct:      # BLAS-free: no BLAS threads next to OpenMP's
                return dense_leaky(h, W, b, step.leak)
            h = at.dot(h, W) + b
            return h if step.leak == 1.0 else at.switch(h > 0, h, step.leak * h)

        h, layout = x, "nchw"
        for i, step in enumerate(self.steps):
            if step.kind == "conv" and direct and _is_direct(step):
                # channels-last, pre-padded between consecutive direct convs
                nxt = self.steps[i + 1] if i + 1 < len(self.steps) else None
                out = "nhwc_pad2" if nxt is not None and _is_direct(nxt) \
                    else "nchw"
                h = conv6x6s2(h, aesara.shared(hwio_kernel(step.W, flip=False)),
                              aesara.shared(step.b), step.leak, in_layout=layout,
                              out_layout=out)
                layout = out
            elif step.kind == "conv":
                h = nn.Conv2DLayer(
                    (None,) + tuple(step.input_shape[1:]), step.W.shape[0],
                    step.W.shape[2:], stride=step.stride, pad=step.pad,
                    W=step.W, b=step.b, flip_filters=False,
                    nonlinearity=nn.nonlinearities.LeakyRectify(step.leak)
                    if step.leak != 1.0 else None).get_output_for(h)
            else:
                h = dense(h.flatten(2), step)
        z = h
        hid = z[:, :POSE_CODE_DIM]
        for step in self.decoder_steps:
            hid = dense(hid, step)
        rel = hid.reshape((z.shape[0], self.num_joints, 3))
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
        for step in self.steps:
            if step.kind == "conv":
                x = numpy_correlate(x, step.W, step.stride, step.pad) \
                    + step.b[None, :, None, None]
            else:
                x = x.reshape(len(x), -1) @ step.W + step.b
            x = _leaky(x, step.leak)
        hid = x[:, :POSE_CODE_DIM]
        for step in self.decoder_steps:
            hid = _leaky(hid @ step.W + step.b, step.leak)
        rel = hid.reshape(len(x), self.num_joints, 3)
        return (rel + x[:, None, POSE_CODE_DIM:]) * UNIT_MM
