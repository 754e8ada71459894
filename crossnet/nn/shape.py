"""Layers that only move data around: reshape, slice, concat, nonlinearity."""
import numpy as np

from ..backend import at
from ..ops.batch_norm import BatchNormAct
from . import nonlinearities
from .base import Layer, MergeLayer

__all__ = ["ReshapeLayer", "SliceLayer", "ConcatLayer", "NonlinearityLayer"]


class ReshapeLayer(Layer):
    """Reshape to ``shape``; ``[0]`` copies an input size (e.g. the batch)."""

    def __init__(self, incoming, shape, name=None):
        super().__init__(incoming, name)
        self.shape = tuple(shape)
        known_in = [d for d in self.input_shape[1:]]
        out = self.get_output_shape_for(self.input_shape)
        if None not in known_in and None not in out[1:] and (
                np.prod(known_in) != np.prod(out[1:])):
            raise ValueError("%s: cannot reshape %s to %s" % (
                self.label, self.input_shape, out))

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[s[0]] if isinstance(s, list) else s
                     for s in self.shape)

    def get_output_for(self, input, **kwargs):
        shape = [input.shape[s[0]] if isinstance(s, list) else s
                 for s in self.shape]
        return input.reshape(tuple(shape))


class SliceLayer(Layer):
    """``input[..., indices, ...]`` along ``axis`` (a slice or an int)."""

    def __init__(self, incoming, indices, axis=-1, name=None):
        super().__init__(incoming, name)
        self.indices = indices
        self.axis = axis

    def get_output_shape_for(self, input_shape):
        shape = list(input_shape)
        axis = self.axis % len(shape)
        if isinstance(self.indices, int):
            del shape[axis]
        elif shape[axis] is not None:
            shape[axis] = len(range(*self.indices.indices(shape[axis])))
        return tuple(shape)

    def get_output_for(self, input, **kwargs):
        axis = self.axis % input.ndim
        return input[(slice(None),) * axis + (self.indices,)]


class ConcatLayer(MergeLayer):
    """Concatenate inputs along ``axis``; other sizes must agree."""

    def __init__(self, incomings, axis=1, name=None):
        super().__init__(incomings, name)
        self.axis = axis
        ndims = {len(s) for s in self.input_shapes}
        if len(ndims) != 1:
            raise ValueError("%s: inputs have different numbers of dimensions:"
                             " %s" % (self.label, self.input_shapes))
        ax = axis % ndims.pop()
        for dim in range(len(self.input_shapes[0])):
            sizes = {s[dim] for s in self.input_shapes} - {None}
            if dim != ax and len(sizes) > 1:
                raise ValueError("%s: input shapes %s differ outside axis %d"
                                 % (self.label, self.input_shapes, axis))

    def get_output_shape_for(self, input_shapes):
        shape = list(input_shapes[0])
        ax = self.axis % len(shape)
        sizes = [s[ax] for s in input_shapes]
        shape[ax] = None if None in sizes else sum(sizes)
        for dim in range(len(shape)):
            if dim != ax and shape[dim] is None:
                known = [s[dim] for s in input_shapes if s[dim] is not None]
                shape[dim] = known[0] if known else None
        return tuple(shape)

    def get_output_for(self, inputs, **kwargs):
        return at.concatenate(inputs, axis=self.axis)


class NonlinearityLayer(Layer):
    """Apply ``nonlinearity`` elementwise.

    On the output of a training-mode batch norm Op
    (:class:`crossnet.ops.batch_norm.BatchNormAct`, linear) a (leaky) ReLU
    becomes that Op's slope: the same values in one pass instead of two."""

    def __init__(self, incoming, nonlinearity=nonlinearities.relu, name=None):
        super().__init__(incoming, name)
        self.nonlinearity = nonlinearity or nonlinearities.identity

    def get_output_for(self, input, **kwargs):
        owner = input.owner
        leak = nonlinearities.leak_of(self.nonlinearity)
        if (leak is not None and owner is not None
                and isinstance(owner.op, BatchNormAct) and owner.op.leak == 1.0):
            return BatchNormAct(leak)(*owner.inputs)
        return self.nonlinearity(input)
