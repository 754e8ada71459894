"""Free functions over a network given by its output layer(s)."""
from collections import OrderedDict, deque

import numpy as np

from ..backend import at
from .base import InputLayer, MergeLayer

__all__ = ["get_all_layers", "get_output", "get_output_shape",
           "get_all_params", "count_params", "count_values", "get_all_param_values",
           "set_param_values",
           "set_all_param_values"]


def get_all_layers(layer, treat_as_input=None):
    """All layers below ``layer`` (one or a list), inputs first.

    The order is Lasagne's (depth first, a layer's inputs in the order given,
    each layer once), so parameter lists match the authors' checkpoints.
    ``treat_as_input`` layers are included but not descended into.
    """
    queue = deque(layer) if isinstance(layer, (list, tuple)) else deque([layer])
    seen = set(treat_as_input or ())
    done = set()
    result = []
    while queue:
        current = queue[0]
        if current is None:
            queue.popleft()
        elif current not in seen:
            seen.add(current)
            if isinstance(current, MergeLayer):
                queue.extendleft(reversed(current.input_layers))
            elif current.input_layer is not None:
                queue.appendleft(current.input_layer)
        else:
            queue.popleft()
            if current not in done:
                result.append(current)
                done.add(current)
    return result


def _as_input_map(layer_or_layers, inputs):
    """Map InputLayer (or any layer) -> expression from ``inputs``."""
    all_layers = get_all_layers(layer_or_layers)
    if inputs is None:
        return {}
    if isinstance(inputs, dict):
        return dict(inputs)
    input_layers = [lay for lay in all_layers if isinstance(lay, InputLayer)]
    if len(input_layers) != 1:
        raise ValueError("get_output: a single input expression was given but "
                         "the network has %d input layers; pass a dict"
                         % len(input_layers))
    return {input_layers[0]: inputs}


def get_output(layer_or_layers, inputs=None, **kwargs):
    """Symbolic output(s) of ``layer_or_layers``.

    ``inputs`` is an expression for the single InputLayer, or a dict mapping
    layers to expressions (a non-input layer in the dict cuts the graph
    there). Keyword arguments (``deterministic=True`` for test mode) reach
    every ``get_output_for``.
    """
    given = _as_input_map(layer_or_layers, inputs)
    all_outputs = {}
    for lay, expr in given.items():
        expr = at.as_tensor_variable(expr)
        if expr.ndim != len(lay.output_shape):
            raise ValueError("get_output: expression for %s has %d dimensions, "
                             "the layer's shape %s has %d"
                             % (lay.label, expr.ndim, lay.output_shape,
                                len(lay.output_shape)))
        all_outputs[lay] = expr
    for lay in get_all_layers(layer_or_layers, treat_as_input=list(given)):
        if lay in all_outputs:
            continue
        if isinstance(lay, InputLayer):
            all_outputs[lay] = lay.input_var
        elif isinstance(lay, MergeLayer):
            all_outputs[lay] = lay.get_output_for(
                [all_outputs[i] for i in lay.input_layers], **kwargs)
        else:
            all_outputs[lay] = lay.get_output_for(
                all_outputs[lay.input_layer], **kwargs)
    if isinstance(layer_or_layers, (list, tuple)):
        return [all_outputs[lay] for lay in layer_or_layers]
    return all_outputs[layer_or_layers]


def get_output_shape(layer_or_layers):
    if isinstance(layer_or_layers, (list, tuple)):
        return [lay.output_shape for lay in layer_or_layers]
    return layer_or_layers.output_shape


def get_all_params(layer, **tags):
    """Parameters of all layers below ``layer``, in Lasagne's order.

    ``get_all_params(net, trainable=True)`` gives what an optimizer updates;
    with no tags it also gives batch-norm running statistics.
    """
    params = []
    for lay in get_all_layers(layer):
        params.extend(lay.get_params(**tags))
    return list(OrderedDict.fromkeys(params))


def count_values(params):
    """Total number of scalars in ``params`` (shared variables)."""
    return int(sum(np.prod(p.get_value(borrow=True).shape) for p in params))


def count_params(layer, **tags):
    """Total number of scalar parameters below ``layer``."""
    return count_values(get_all_params(layer, **tags))


def get_all_param_values(layer, **tags):
    """Values of :func:`get_all_params` (numpy arrays, copies)."""
    return [p.get_value() for p in get_all_params(layer, **tags)]


def _owner(layers, param):
    for lay in get_all_layers(layers):
        if param in lay.params:
            return lay.label
    return "?"


def set_param_values(params, values, source=None, layers=None):
    """Set ``params`` from ``values`` (same order, same shapes), checking
    everything before setting anything.

    Errors are ValueErrors naming ``source`` (e.g. a file), the array index,
    the parameter, its layer (found below ``layers``), the expected and the
    given shape, or the NaN/inf.
    """
    where = "%s: " % source if source else ""
    if len(params) != len(values):
        raise ValueError("%s%d arrays given, the network has %d parameters"
                         % (where, len(values), len(params)))
    for i, (p, v) in enumerate(zip(params, values)):
        shape = p.get_value(borrow=True).shape
        if np.shape(v) != shape:
            raise ValueError("%sarr_%d has shape %s, parameter %r of layer %s "
                             "expects %s" % (where, i, np.shape(v), p.name,
                                             _owner(layers or [], p), shape))
        if not np.all(np.isfinite(v)):
            raise ValueError("%sarr_%d for parameter %r of layer %s holds NaN "
                             "or inf" % (where, i, p.name,
                                         _owner(layers or [], p)))
    for p, v in zip(params, values):
        p.set_value(np.asarray(v, dtype=p.dtype))


def set_all_param_values(layer, values, source=None, **tags):
    """Set :func:`get_all_params` from ``values`` (same order, same shapes);
    see :func:`set_param_values` for the checks."""
    set_param_values(get_all_params(layer, **tags), values, source,
                     layer if isinstance(layer, (list, tuple)) else [layer])
