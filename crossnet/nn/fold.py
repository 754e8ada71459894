"""A chain of layers as a list of affine steps with batch norm folded in.

At test time batch norm is a fixed per-channel affine map, so it folds into
the layer before it: with ``s = gamma * inv_std``, ``W' = W * s`` (per output
channel) and ``b' = b * s + beta - mean * s``. :func:`fold_chain` walks the
layers below an output (Lasagne order), and returns one :class:`Step` per
convolution or dense layer, each with its nonlinearity as a leaky-ReLU
slope (1 = linear, 0 = ReLU). Fast paths, numpy and PyTorch peers and FLOP
counts are all built from this one list, so a change of the network reaches
every one of them; a layer or nonlinearity it cannot fold raises.
"""
from collections import namedtuple

import numpy as np

from . import nonlinearities
from .base import InputLayer
from .conv import Conv2DLayer, TransposedConv2DLayer
from .dense import DenseLayer
from .helper import get_all_layers
from .normalization import BatchNormLayer
from .shape import NonlinearityLayer

__all__ = ["Step", "fold_chain", "fold_bn", "slope_of", "step_macs"]


class Step(namedtuple("Step", "kind W b stride pad leak input_shape "
                              "output_shape name")):
    """``kind`` 'conv' (W (F, C, kh, kw), a *correlation* kernel: flipped
    already where the layer flips) or 'dense' (W (K, N)); ``b`` the bias
    (zeros if none); ``stride``, ``pad`` (pairs, conv only); ``leak`` the
    negative slope of the nonlinearity after it; shapes (None for the batch)
    of the layer's input and output."""


def slope_of(nonlinearity, where):
    """Negative slope of a (leaky) ReLU or the identity; others raise."""
    leak = nonlinearities.leak_of(nonlinearity)
    if leak is not None:
        return leak
    raise ValueError("fold_chain: %s has nonlinearity %r; only identity, "
                     "ReLU and leaky ReLU fold into an affine step"
                     % (where, nonlinearity))


def fold_bn(W, b, bn, axis):
    """(W', b'): batch norm ``bn`` (a BatchNormLayer, test mode) folded into
    a layer with weights W (output channels along ``axis``) and bias b."""
    s = bn.gamma.get_value() * bn.inv_std.get_value()
    shift = bn.beta.get_value() - bn.mean.get_value() * s
    shape = [1] * W.ndim
    shape[axis] = -1
    return ((W * s.reshape(shape)).astype("float32"),
            (b * s + shift).astype("float32"))


def _fold_bn(step, bn):
    W, b = fold_bn(step.W, step.b, bn, 0 if step.kind == "conv" else 1)
    return step._replace(W=W, b=b)


def fold_chain(output_layer, stop_at=None):
    """[Step] from the input (or ``stop_at``, exclusive) to ``output_layer``.

    The layers must form a chain (each on the one before); batch norm must
    follow a linear conv / dense layer and must not be followed by another
    batch norm."""
    layers = get_all_layers(output_layer)
    if stop_at is not None:
        layers = layers[layers.index(stop_at) + 1:]
    steps = []
    for lay in layers:
        where = "layer %s (%s)" % (lay.label, type(lay).__name__)
        if isinstance(lay, InputLayer):
            continue
        if isinstance(lay, TransposedConv2DLayer):
            raise ValueError("fold_chain: %s: transposed convolutions are not "
                             "folded (the posterior path has none)" % where)
        if isinstance(lay, (Conv2DLayer, DenseLayer)):
            if steps and steps[-1].output_shape[1:] != lay.input_shape[1:] \
                    and not isinstance(lay, DenseLayer):
                raise ValueError("fold_chain: %s does not follow the layer "
                                 "before it" % where)
            W = lay.W.get_value()
            if isinstance(lay, Conv2DLayer):
                if lay.flip_filters:      # true convolution: correlate with
                    W = W[:, :, ::-1, ::-1]   # the kernel flipped
                kind, stride, pad = "conv", lay.stride, lay.pad
                if isinstance(pad, str):
                    raise ValueError("fold_chain: %s: pad %r not supported"
                                     % (where, pad))
                n_out = W.shape[0]
            else:
                kind, stride, pad, n_out = "dense", None, None, W.shape[1]
            b = (np.zeros(n_out, "float32") if lay.b is None
                 else lay.b.get_value())
            steps.append(Step(kind, np.ascontiguousarray(W, dtype="float32"),
                              b.astype("float32"), stride, pad,
                              slope_of(lay.nonlinearity, where),
                              lay.input_shape, lay.output_shape, lay.label))
        elif isinstance(lay, BatchNormLayer):
            if not steps or steps[-1].leak != 1.0 or \
                    steps[-1].name != lay.input_layer.label:
                raise ValueError("fold_chain: %s must directly follow a "
                                 "linear conv or dense layer" % where)
            steps[-1] = _fold_bn(steps[-1], lay)._replace(name=lay.label)
        elif isinstance(lay, NonlinearityLayer):
            if not steps or steps[-1].leak != 1.0:
                raise ValueError("fold_chain: %s must follow a linear layer"
                                 % where)
            steps[-1] = steps[-1]._replace(leak=slope_of(lay.nonlinearity,
                                                         where),
                                           name=lay.label)
        else:
            raise ValueError("fold_chain: cannot fold %s" % where)
    return steps


def step_macs(step):
    """Multiply-adds of one frame through ``step`` (forward)."""
    if step.kind == "conv":
        F, C, kh, kw = step.W.shape
        return int(np.prod(step.output_shape[2:])) * F * C * kh * kw
    return int(step.W.shape[0] * step.W.shape[1])
