"""2-d convolution and transposed convolution (NCHW, batch first).

6x6 kernels with stride 2 and pad (crop) 2 on even input sizes, the only
convolutions of Crossing Nets, use crossnet's direct C Ops
(:mod:`crossnet.ops.conv_train`: forward, input and weight gradients).
Every other shape, or every shape when ``crossnet.ops.use_training_ops``
is False, compiles to aesara's ``CorrMM`` / ``CorrMM_gradInputs`` (see
:mod:`crossnet.backend` for the repair that makes them work). The choice is
made when the graph is built.

Orientation: with ``flip_filters=True`` (Lasagne's default) ``Conv2DLayer`` is
a true convolution (the kernel is flipped relative to cross-correlation).
``TransposedConv2DLayer`` with ``flip_filters=False`` (Lasagne's default) is
the exact adjoint (gradient w.r.t. the input) of a true convolution whose
kernel ``W`` is laid out (in_channels, out_channels, h, w). Those are the
conventions of the authors' weights (SPEC section 8).
"""
from ..backend import at
from aesara.tensor.nnet import abstract_conv

from .. import ops
from ..ops.conv_train import (corr6x6s2, corr6x6s2_grad_inputs,
                              fits_corr6x6s2)
from . import init, nonlinearities
from .base import Layer

__all__ = ["Conv2DLayer", "TransposedConv2DLayer", "conv_output_length",
           "conv_input_length"]


def _uses_direct(layer, conv_input_shape):
    return (ops.use_training_ops and layer.W.dtype == "float32"
            and fits_corr6x6s2(layer.filter_size, layer.stride, layer.pad,
                               conv_input_shape))


def _pair(x, what, label):
    x = (x, x) if isinstance(x, int) else tuple(x)
    if len(x) != 2 or not all(isinstance(v, int) for v in x):
        raise ValueError("%s: %s must be an int or a pair of ints, got %r"
                         % (label, what, x))
    return x


def conv_output_length(length, filter_size, stride, pad):
    """Output size of a 'valid' convolution of a padded input."""
    if length is None:
        return None
    return (length + 2 * pad - filter_size) // stride + 1


def conv_input_length(length, filter_size, stride, crop):
    """Output size of a transposed convolution (input size of its adjoint)."""
    if length is None:
        return None
    return (length - 1) * stride - 2 * crop + filter_size


class Conv2DLayer(Layer):
    """Convolution: (B, C, H, W) -> (B, num_filters, H', W').

    ``pad`` is an int or pair of explicit zero-padding in pixels; ``b=None``
    drops the bias (before batch norm).
    """

    def __init__(self, incoming, num_filters, filter_size, stride=1, pad=0,
                 W=init.Normal(0.01), b=init.Constant(0.0),
                 nonlinearity=nonlinearities.relu, flip_filters=True,
                 name=None):
        super().__init__(incoming, name)
        self.check_input_ndim(4, "batch, channels, rows, columns")
        if self.input_shape[1] is None:
            raise ValueError("%s: the number of input channels must be known, "
                             "got input shape %s" % (self.label, self.input_shape))
        self.num_filters = int(num_filters)
        self.filter_size = _pair(filter_size, "filter_size", self.label)
        self.stride = _pair(stride, "stride", self.label)
        self.pad = _pair(pad, "pad", self.label)
        self.flip_filters = flip_filters
        self.nonlinearity = nonlinearity or nonlinearities.identity
        if any(n is not None and n < 1 for n in self.output_shape[2:]):
            raise ValueError("%s: input shape %s gives output shape %s (the "
                             "%s filter does not fit)" % (
                                 self.label, self.input_shape,
                                 self.output_shape, self.filter_size))
        self.W = self.add_param(W, self.get_W_shape(), name="W")
        self.b = (None if b is None else
                  self.add_param(b, (self.num_filters,), name="b",
                                 regularizable=False))

    def get_W_shape(self):
        return (self.num_filters, self.input_shape[1]) + self.filter_size

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], self.num_filters) + tuple(
            conv_output_length(input_shape[2 + i], self.filter_size[i],
                               self.stride[i], self.pad[i]) for i in (0, 1))

    def convolve(self, input):
        if _uses_direct(self, self.input_shape):
            W = self.W[:, :, ::-1, ::-1] if self.flip_filters else self.W
            return corr6x6s2(input, W)
        return at.nnet.conv2d(
            input, self.W, input_shape=self.input_shape,
            filter_shape=self.get_W_shape(), subsample=self.stride,
            border_mode=self.pad, filter_flip=self.flip_filters)

    def get_output_for(self, input, **kwargs):
        conved = self.convolve(input)
        if self.b is not None:
            conved = conved + self.b.dimshuffle("x", 0, "x", "x")
        return self.nonlinearity(conved)


class TransposedConv2DLayer(Conv2DLayer):
    """Transposed convolution ("deconvolution"): (B, C, H, W) -> (B, F, H', W')
    with H' = (H - 1) * stride - 2 * crop + filter_size.

    W is (C, F, h, w): the kernel of the convolution this layer is the adjoint
    of. ``flip_filters=False`` (default) makes that a true convolution.
    """

    def __init__(self, incoming, num_filters, filter_size, stride=1, crop=0,
                 W=init.Normal(0.01), b=init.Constant(0.0),
                 nonlinearity=nonlinearities.relu, flip_filters=False,
                 name=None):
        self.crop = crop
        super().__init__(incoming, num_filters, filter_size, stride=stride,
                         pad=crop, W=W, b=b, nonlinearity=nonlinearity,
                         flip_filters=flip_filters, name=name)
        self.crop = self.pad

    def get_W_shape(self):
        return (self.input_shape[1], self.num_filters) + self.filter_size

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], self.num_filters) + tuple(
            conv_input_length(input_shape[2 + i], self.filter_size[i],
                              self.stride[i], self.pad[i]) for i in (0, 1))

    def convolve(self, input):
        out_shape = self.output_shape
        if None in out_shape[2:]:
            raise ValueError("%s needs known spatial input sizes, got %s"
                             % (self.label, self.input_shape))
        if _uses_direct(self, out_shape):
            # the adjoint of a true convolution (flip_filters=False) with W
            W = self.W if self.flip_filters else self.W[:, :, ::-1, ::-1]
            return corr6x6s2_grad_inputs(W, input)
        op = abstract_conv.AbstractConv2d_gradInputs(
            imshp=out_shape, kshp=self.get_W_shape(), subsample=self.stride,
            border_mode=self.pad, filter_flip=not self.flip_filters)
        return op(self.W, input, out_shape[2:])
