"""Layer base classes, as in Lasagne.

A layer knows its input layer(s), its parameters (aesara shared variables with
tags such as ``trainable`` and ``regularizable``) and its output shape; its
``get_output_for`` turns a symbolic input into a symbolic output. Shapes are
tuples with ``None`` for sizes unknown when the graph is built (the batch).
"""
from collections import OrderedDict

from ..backend import at
from .utils import create_param

__all__ = ["Layer", "MergeLayer", "InputLayer"]


class Layer(object):
    """A layer with one input layer (or an input shape)."""

    def __init__(self, incoming, name=None):
        if isinstance(incoming, tuple):
            self.input_shape = incoming
            self.input_layer = None
        else:
            self.input_shape = incoming.output_shape
            self.input_layer = incoming
        self.name = name
        self.params = OrderedDict()
        if any(d is not None and d <= 0 for d in self.input_shape):
            raise ValueError("%s: cannot build on input shape %s (a size is "
                             "not positive)" % (self.label, self.input_shape))

    @property
    def label(self):
        """``'Name (ClassName)'`` for error messages."""
        cls = type(self).__name__
        return "%r (%s)" % (self.name, cls) if self.name else cls

    @property
    def output_shape(self):
        return self.get_output_shape_for(self.input_shape)

    def get_params(self, **tags):
        """Parameters of this layer having all tags set True / False in ``tags``."""
        result = list(self.params.keys())
        only = {t for t, v in tags.items() if v}
        exclude = {t for t, v in tags.items() if not v}
        result = [p for p in result if only <= self.params[p]
                  and not (exclude & self.params[p])]
        return result

    def add_param(self, spec, shape, name=None, **tags):
        """Create a parameter, register it with its tags and return it.

        Tags default to ``trainable=True, regularizable=True``.
        """
        if name is not None and self.name is not None:
            name = "%s.%s" % (self.name, name)
        param = create_param(spec, shape, name)
        tags.setdefault("trainable", True)
        tags.setdefault("regularizable", True)
        self.params[param] = {t for t, v in tags.items() if v}
        return param

    def get_output_shape_for(self, input_shape):
        return input_shape

    def get_output_for(self, input, **kwargs):
        raise NotImplementedError

    def check_input_ndim(self, ndim, what):
        if len(self.input_shape) != ndim:
            raise ValueError("%s expects a %d-d input (%s), got shape %s"
                             % (self.label, ndim, what, self.input_shape))


class MergeLayer(Layer):
    """A layer with several input layers."""

    def __init__(self, incomings, name=None):
        self.input_shapes = [inc if isinstance(inc, tuple) else inc.output_shape
                             for inc in incomings]
        self.input_layers = [None if isinstance(inc, tuple) else inc
                             for inc in incomings]
        self.name = name
        self.params = OrderedDict()

    @property
    def output_shape(self):
        return self.get_output_shape_for(self.input_shapes)

    def get_output_for(self, inputs, **kwargs):
        raise NotImplementedError


class InputLayer(Layer):
    """Where data enters: ``shape`` like ``(None, 1, 128, 128)``.

    ``input_var`` defaults to a new symbolic tensor of the right number of
    dimensions and floatX dtype.
    """

    def __init__(self, shape, input_var=None, name=None):
        self.shape = tuple(shape)
        if any(d is not None and d <= 0 for d in self.shape):
            raise ValueError("InputLayer %r: sizes must be positive, got %s"
                             % (name, self.shape))
        if input_var is None:
            input_var = at.TensorType(
                "float32", shape=(None,) * len(self.shape))(name)
        elif input_var.ndim != len(self.shape):
            raise ValueError("InputLayer %r: input_var has %d dimensions, shape "
                             "%s has %d" % (name, input_var.ndim, self.shape,
                                            len(self.shape)))
        self.input_var = input_var
        self.name = name
        self.params = OrderedDict()
        self.input_layer = None
        self.input_shape = self.shape

    @property
    def output_shape(self):
        return self.shape
