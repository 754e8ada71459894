"""Fully connected layer."""
import numpy as np

from ..backend import at
from . import init, nonlinearities
from .base import Layer

__all__ = ["DenseLayer"]


class DenseLayer(Layer):
    """``nonlinearity(flatten(x) @ W + b)``; W is (num_inputs, num_units).

    Inputs of more than 2 dimensions are flattened to (batch, rest), as in
    Lasagne. ``b=None`` drops the bias (used before batch norm).
    """

    def __init__(self, incoming, num_units, W=init.Normal(0.01),
                 b=init.Constant(0.0), nonlinearity=nonlinearities.relu,
                 name=None):
        super().__init__(incoming, name)
        if len(self.input_shape) < 2:
            raise ValueError("%s needs an input of at least 2 dimensions "
                             "(batch, features), got shape %s"
                             % (self.label, self.input_shape))
        if any(d is None for d in self.input_shape[1:]):
            raise ValueError("%s: input shape %s has unknown non-batch sizes"
                             % (self.label, self.input_shape))
        self.num_units = int(num_units)
        self.num_inputs = int(np.prod(self.input_shape[1:]))
        self.nonlinearity = nonlinearity or nonlinearities.identity
        self.W = self.add_param(W, (self.num_inputs, self.num_units), name="W")
        self.b = (None if b is None else
                  self.add_param(b, (self.num_units,), name="b",
                                 regularizable=False))

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], self.num_units)

    def get_output_for(self, input, **kwargs):
        if input.ndim > 2:
            input = input.flatten(2)
        activation = at.dot(input, self.W)
        if self.b is not None:
            activation = activation + self.b.dimshuffle("x", 0)
        return self.nonlinearity(activation)
