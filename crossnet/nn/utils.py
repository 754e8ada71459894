"""Small helpers for building parameters."""
import numpy as np

from ..backend import aesara

__all__ = ["floatX", "create_param"]


def floatX(arr):
    """``arr`` as a numpy array of aesara's floatX (float32)."""
    return np.asarray(arr, dtype=aesara.config.floatX)


def create_param(spec, shape, name=None):
    """A shared variable of ``shape`` from an initializer, array or shared var.

    ``spec`` may be a callable ``spec(shape) -> ndarray`` (an initializer), a
    numpy array of exactly ``shape``, or an existing shared variable (shared
    weights, e.g. between two networks).
    """
    shape = tuple(int(s) for s in shape)
    if isinstance(spec, aesara.compile.SharedVariable):
        value = spec.get_value(borrow=True)
        if value.shape != shape:
            raise ValueError("parameter %r: shared variable has shape %s, "
                             "expected %s" % (name, value.shape, shape))
        return spec
    if callable(spec):
        value = spec(shape)
    else:
        value = np.asarray(spec)
    value = floatX(value)
    if value.shape != shape:
        raise ValueError("parameter %r: initial value has shape %s, expected %s"
                         % (name, value.shape, shape))
    return aesara.shared(value, name=name)
