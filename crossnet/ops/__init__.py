"""Custom aesara Ops with C code (the Theano-era way to extend the engine)."""
from .conv6x6 import (Conv6x6S2, conv6x6s2, correlate6x6_s2p2,  # noqa: F401
                      from_nhwc_pad2, hwio_kernel, to_nhwc_pad2)
from .dense import DenseLeaky, dense_leaky  # noqa: F401
