"""A Lasagne-style layer library for aesara.

Layers are small classes; :func:`get_output` turns a network into a plain
aesara expression; parameters are shared variables with tags::

    from crossnet import nn
    l = nn.InputLayer((None, 1, 128, 128))
    l = nn.Conv2DLayer(l, 32, 6, stride=2, pad=2, b=None)
    l = nn.batch_norm(l)
    y = nn.get_output(l)                       # training graph
    y_test = nn.get_output(l, deterministic=True)
    params = nn.get_all_params(l, trainable=True)
    updates = nn.updates.adam(loss, params, learning_rate=3e-4, beta1=0.5)
"""
from . import init, nonlinearities, updates  # noqa: F401
from .base import InputLayer, Layer, MergeLayer  # noqa: F401
from .conv import Conv2DLayer, TransposedConv2DLayer  # noqa: F401
from .dense import DenseLayer  # noqa: F401
from .helper import (count_params, count_values, get_all_layers, get_all_param_values,  # noqa: F401
                     get_all_params, get_output, get_output_shape,
                     set_all_param_values, set_param_values)
from .normalization import (BatchNormLayer, batch_norm,  # noqa: F401
                            recalibrate_batch_norm, BatchNormRecalibration)
from .shape import (ConcatLayer, NonlinearityLayer, ReshapeLayer,  # noqa: F401
                    SliceLayer)
