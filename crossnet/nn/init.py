"""Parameter initializers: ``init(shape) -> float32 ndarray``.

The random ones draw from a module-level ``numpy.random.RandomState`` that
:func:`set_rng` reseeds, so a run is reproducible from one seed.
"""
import numpy as np

from .utils import floatX

__all__ = ["Initializer", "Normal", "Constant", "set_rng", "get_rng"]

_rng = np.random.RandomState(1234)


def get_rng():
    return _rng


def set_rng(rng_or_seed):
    """Use ``rng_or_seed`` (a RandomState or an int seed) for all inits."""
    global _rng
    if not isinstance(rng_or_seed, np.random.RandomState):
        rng_or_seed = np.random.RandomState(rng_or_seed)
    _rng = rng_or_seed


class Initializer(object):
    def __call__(self, shape):
        return self.sample(tuple(shape))

    def sample(self, shape):
        raise NotImplementedError


class Normal(Initializer):
    """Gaussian with standard deviation ``std`` and mean ``mean``."""

    def __init__(self, std=0.01, mean=0.0):
        self.std = std
        self.mean = mean

    def sample(self, shape):
        return floatX(get_rng().normal(self.mean, self.std, size=shape))

    def __repr__(self):
        return "Normal(std=%g, mean=%g)" % (self.std, self.mean)


class Constant(Initializer):
    """Every entry equal to ``val``."""

    def __init__(self, val=0.0):
        self.val = val

    def sample(self, shape):
        return floatX(np.full(shape, self.val))

    def __repr__(self):
        return "Constant(%g)" % self.val
