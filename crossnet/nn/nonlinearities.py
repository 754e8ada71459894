"""Elementwise nonlinearities (symbolic in, symbolic out)."""
from ..backend import at

__all__ = ["linear", "identity", "relu", "LeakyRectify", "leaky_rectify",
           "tanh", "sigmoid", "leak_of"]


def linear(x):
    return x


identity = linear


def relu(x):
    return at.maximum(x, 0)


class LeakyRectify(object):
    """max(x, leakiness * x); the paper uses leakiness 0.2 (D) and 0.01 (VAE)."""

    def __init__(self, leakiness=0.01):
        self.leakiness = leakiness

    def __call__(self, x):
        return at.switch(x > 0, x, self.leakiness * x)

    def __repr__(self):
        return "LeakyRectify(%g)" % self.leakiness


leaky_rectify = LeakyRectify(0.01)


def tanh(x):
    """tanh; crossnet's vectorised OpenMP Op (:mod:`crossnet.ops.elementwise`)
    for float32 tensors of 2 or more dimensions while the training Ops are
    on, else aesara's."""
    from .. import ops
    if ops.use_training_ops and x.dtype == "float32" and x.ndim >= 2:
        from ..ops.elementwise import tanh as fast_tanh
        return fast_tanh(x)
    return at.tanh(x)


def sigmoid(x):
    return at.sigmoid(x)


def leak_of(nonlinearity):
    """Negative slope of the identity (1.0), ReLU (0.0) or a LeakyRectify;
    None for any other nonlinearity."""
    if nonlinearity is None or nonlinearity is identity:
        return 1.0
    if nonlinearity is relu:
        return 0.0
    if isinstance(nonlinearity, LeakyRectify):
        return float(nonlinearity.leakiness)
    return None
