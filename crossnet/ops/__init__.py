"""Custom aesara Ops with C code (the Theano-era way to extend the engine).

Training graphs use :mod:`.conv_train` (6x6 / stride-2 convolutions) and
:mod:`.batch_norm` (batch norm + leaky ReLU) wherever the shapes fit, when
the layers are asked for their output. Set ``use_training_ops = False``
before building a graph, or build it inside ``with training_ops(False):``
(or set ``CROSSNET_TRAINING_OPS=aesara`` in the environment before importing
crossnet), for aesara's own ``CorrMM`` and elementwise batch norm, e.g. to
compare the two.
"""
import contextlib
import os

from .conv6x6 import (Conv6x6S2, conv6x6s2, correlate6x6_s2p2,  # noqa: F401
                      from_nhwc_pad2, hwio_kernel, to_nhwc_pad2)
from .dense import DenseLeaky, dense_leaky  # noqa: F401

TRAINING_OPS_ENV = "CROSSNET_TRAINING_OPS"
_choice = os.environ.get(TRAINING_OPS_ENV, "crossnet")
if _choice not in ("crossnet", "aesara"):
    raise ValueError("%s must be 'crossnet' or 'aesara', got %r"
                     % (TRAINING_OPS_ENV, _choice))
use_training_ops = _choice == "crossnet"


@contextlib.contextmanager
def training_ops(enabled):
    """Graphs built inside use crossnet's training Ops (``enabled``) or
    aesara's own; the previous setting is restored on exit."""
    global use_training_ops
    old = use_training_ops
    use_training_ops = bool(enabled)
    try:
        yield
    finally:
        use_training_ops = old
