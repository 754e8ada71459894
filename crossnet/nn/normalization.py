"""Batch normalisation (Ioffe & Szegedy 2015), Lasagne-style."""
import numpy as np

from ..backend import aesara, at
from .. import ops
from ..ops.batch_norm import batch_norm_act, batch_stats, fits_batch_norm
from . import init
from .base import Layer

__all__ = ["BatchNormLayer", "batch_norm", "recalibrate_batch_norm",
           "BatchNormRecalibration"]


class BatchNormLayer(Layer):
    """``(x - mean) * gamma * inv_std + beta`` per channel.

    Statistics run over ``axes`` ('auto': all but the channel axis 1, i.e.
    (0,) for (B, C) and (0, 2, 3) for (B, C, H, W)). Parameters, in this
    order: ``beta``, ``gamma`` (trainable), ``mean``, ``inv_std`` (running
    averages, tagged neither trainable nor regularizable).

    Training (``deterministic=False``) normalises with the batch statistics
    and, unless ``batch_norm_update_averages=False``, moves the running
    averages by ``alpha`` every time the compiled function runs (through
    ``default_update`` of a clone of each running variable, so no update list
    has to be passed around). ``deterministic=True`` uses the running
    averages. ``inv_std = 1 / sqrt(var + epsilon)``.

    In training mode a float32 (B, C, H, W) input is normalised by
    crossnet's C Ops (:mod:`crossnet.ops.batch_norm`; a NonlinearityLayer
    on top folds a (leaky) ReLU into the same pass), unless
    ``crossnet.ops.use_training_ops`` is False.
    """

    def __init__(self, incoming, axes="auto", epsilon=1e-4, alpha=0.1,
                 beta=init.Constant(0.0), gamma=init.Constant(1.0),
                 mean=init.Constant(0.0), inv_std=init.Constant(1.0),
                 name=None):
        super().__init__(incoming, name)
        if axes == "auto":
            axes = (0,) + tuple(range(2, len(self.input_shape)))
        self.axes = tuple(axes)
        self.epsilon = epsilon
        self.alpha = alpha
        shape = [size for axis, size in enumerate(self.input_shape)
                 if axis not in self.axes]
        if any(size is None for size in shape):
            raise ValueError("%s needs known sizes along the non-normalised "
                             "axes, got input shape %s" % (self.label,
                                                           self.input_shape))
        shape = tuple(shape)
        self.beta = self.add_param(beta, shape, "beta", regularizable=False)
        self.gamma = self.add_param(gamma, shape, "gamma", regularizable=False)
        self.mean = self.add_param(mean, shape, "mean", trainable=False,
                                   regularizable=False)
        self.inv_std = self.add_param(inv_std, shape, "inv_std",
                                      trainable=False, regularizable=False)

    def get_output_for(self, input, deterministic=False,
                       batch_norm_use_averages=None,
                       batch_norm_update_averages=None, **kwargs):
        use_averages = (deterministic if batch_norm_use_averages is None
                        else batch_norm_use_averages)
        update_averages = (not deterministic
                           if batch_norm_update_averages is None
                           else batch_norm_update_averages)
        fused = (ops.use_training_ops and not use_averages
                 and fits_batch_norm(input, self.axes))
        if fused:
            batch_mean, batch_inv_std = batch_stats(input, self.epsilon)
        else:
            batch_mean = input.mean(self.axes)
            batch_inv_std = at.reciprocal(at.sqrt(input.var(self.axes)
                                                  + self.epsilon))
        if use_averages:
            mean, inv_std = self.mean, self.inv_std
        else:
            mean, inv_std = batch_mean, batch_inv_std
        if update_averages:
            running_mean = self.mean.clone()
            running_mean.default_update = (
                (1 - self.alpha) * running_mean + self.alpha * batch_mean)
            running_inv_std = self.inv_std.clone()
            running_inv_std.default_update = (
                (1 - self.alpha) * running_inv_std
                + self.alpha * batch_inv_std)
            # put the clones in the graph so that their updates run
            mean = mean + 0 * running_mean
            inv_std = inv_std + 0 * running_inv_std
        if fused:
            return batch_norm_act(input, mean, inv_std, self.gamma, self.beta)
        pattern = []
        k = 0
        for axis in range(input.ndim):
            if axis in self.axes:
                pattern.append("x")
            else:
                pattern.append(k)
                k += 1
        beta = self.beta.dimshuffle(pattern)
        gamma = self.gamma.dimshuffle(pattern)
        mean = mean.dimshuffle(pattern)
        inv_std = inv_std.dimshuffle(pattern)
        return (input - mean) * (gamma * inv_std) + beta


def batch_norm(layer, name=None, **kwargs):
    """Put batch norm between ``layer`` and its nonlinearity, as Lasagne does.

    ``layer`` must have been built with ``b=None`` (a bias before batch norm
    is redundant; the authors' checkpoints have none). Returns the
    NonlinearityLayer on top (or the BatchNormLayer if ``layer`` was linear).
    """
    from . import nonlinearities
    from .shape import NonlinearityLayer

    if getattr(layer, "b", None) is not None:
        raise ValueError("batch_norm(%s): build the layer with b=None"
                         % layer.label)
    nonlinearity = getattr(layer, "nonlinearity", None)
    layer.nonlinearity = nonlinearities.identity
    bn_name = name or (layer.name and layer.name + "_bn")
    out = BatchNormLayer(layer, name=bn_name, **kwargs)
    if nonlinearity is not None and nonlinearity is not nonlinearities.identity:
        out = NonlinearityLayer(out, nonlinearity,
                                name=layer.name and layer.name + "_nl")
    return out


def recalibrate_batch_norm(layer_or_layers, batches, inputs=None):
    """Set every BatchNormLayer's ``mean`` and ``inv_std`` below
    ``layer_or_layers`` to population statistics of a deterministic pass.

    ``batches`` is a sequence of arrays for the network's single input
    layer, or of dicts mapping ``inputs`` (a list of layers, as for
    :func:`get_output`'s dict) to arrays. Layers are recalibrated inputs
    first, each on what it sees at test time: the layers below it use their
    new statistics (``deterministic=True`` everywhere). ``batches`` is read
    once per level (a layer's level is one more than the highest level of
    the batch norms below it; layers of one level, such as the first batch
    norms of two heads on one trunk, share a pass). Each batch's
    per-channel mean and biased variance are pooled over all batches,
    weighted by frames, in float64 (Chan's pairwise formula): the population
    mean and variance of all frames (and pixels); then
    ``inv_std = 1 / sqrt(var + epsilon)``.
    The batch size does not change the result. Returns the recalibrated
    layers. :class:`BatchNormRecalibration` compiles the pass once for
    repeated use.
    """
    return BatchNormRecalibration(layer_or_layers, inputs)(batches)


class BatchNormRecalibration(object):
    """:func:`recalibrate_batch_norm` with its statistics pass compiled once
    (call it with ``batches`` as often as needed)."""

    def __init__(self, layer_or_layers, inputs=None):
        from .base import InputLayer
        from .helper import get_all_layers, get_output
        layers = get_all_layers(layer_or_layers, treat_as_input=inputs)
        self.layers = [lay for lay in layers
                       if isinstance(lay, BatchNormLayer)]
        # level: 1 + the highest level of the batch norms below (in order)
        level = {}
        for lay in self.layers:
            below = get_all_layers(lay.input_layer, treat_as_input=inputs)
            level[lay] = 1 + max([level[b] for b in below if b in level],
                                 default=0)
        self.levels = [level[lay] for lay in self.layers]
        if inputs is None:
            inputs = [lay for lay in layers if isinstance(lay, InputLayer)]
            if len(inputs) != 1:
                raise ValueError("recalibrate_batch_norm: %d input layers; "
                                 "pass inputs=[...] and dict batches"
                                 % len(inputs))
        self.inputs = list(inputs)
        self._stats = None
        if not self.layers:
            return
        variables = [at.TensorType("float32", (False,) * len(lay.output_shape))(
            "recalibration_input_%d" % i) for i, lay in enumerate(self.inputs)]
        below = get_output([bn.input_layer for bn in self.layers],
                           dict(zip(self.inputs, variables)),
                           deterministic=True)
        outs = []
        for bn, x in zip(self.layers, below):
            outs += [x.mean(bn.axes), x.var(bn.axes)]
        self._stats = aesara.function(variables, outs)

    def __call__(self, batches):
        batches = list(batches)
        if not batches:
            raise ValueError("recalibrate_batch_norm: no batches given")
        # one pass over the batches per level: layers of one level (e.g. the
        # first batch norm of two heads on one trunk) do not see each other
        for level in sorted(set(self.levels)):
            ks = [k for k, lv in enumerate(self.levels) if lv == level]
            stats = {k: [0, 0.0, 0.0] for k in ks}    # count, mean, m2
            for batch in batches:
                arrays = ([batch[lay] for lay in self.inputs]
                          if isinstance(batch, dict) else [batch])
                arrays = [np.asarray(a, dtype="float32") for a in arrays]
                out = self._stats(*arrays)
                n = len(arrays[0])   # every frame has the same pixel count
                for k in ks:
                    count, mean, m2 = stats[k]
                    b_mean = out[2 * k].astype(np.float64)
                    b_var = out[2 * k + 1].astype(np.float64)
                    delta = b_mean - mean
                    total = count + n
                    stats[k] = [total, mean + delta * n / total,
                                m2 + b_var * n + delta ** 2 * count * n / total]
            for k in ks:
                bn = self.layers[k]
                count, mean, m2 = stats[k]
                var = m2 / count
                bn.mean.set_value(mean.astype(bn.mean.dtype))
                bn.inv_std.set_value((1.0 / np.sqrt(var + bn.epsilon)).astype(
                    bn.inv_std.dtype))
        return list(self.layers)
