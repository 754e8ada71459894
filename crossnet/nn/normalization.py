"""Batch normalisation (Ioffe & Szegedy 2015), Lasagne-style."""
import numpy as np

from .. import function_cache
from ..backend import at
from .. import ops
from ..ops.batch_norm import batch_norm_act, batch_stats, fits_batch_norm
from . import init
from .base import Layer

__all__ = ["BatchNormLayer", "batch_norm", "moving_average",
           "recalibrate_batch_norm", "BatchNormRecalibration"]


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
    has to be passed around); ``batch_norm_update_averages=n`` (a whole
    number) moves them n times with the same batch statistics, as n compiled
    functions that each run this forward pass would. ``deterministic=True``
    uses the running averages. ``inv_std = 1 / sqrt(var + epsilon)``.

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
            running_inv_std = self.inv_std.clone()
            for running, statistic in ((running_mean, batch_mean),
                                       (running_inv_std, batch_inv_std)):
                moves = (self.alpha, statistic, int(update_averages))
                # what moves it, for a second step in the same function
                # (nn.updates.after_update)
                running.tag.moving_average = moves
                running.default_update = moving_average(running, *moves)
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


def moving_average(value, alpha, statistic, moves=1):
    """``value`` moved ``moves`` times toward ``statistic``:
    ``(1 - alpha) * value + alpha * statistic``, applied ``moves`` times
    (a batch-norm running average; symbolic or numpy)."""
    for _ in range(moves):
        value = (1 - alpha) * value + alpha * statistic
    return value


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
    """:func:`recalibrate_batch_norm` with its statistics passes compiled
    once (call it with ``batches`` as often as needed).

    The pass of level L reads the outputs of the level L-2 batch norms
    (kept from the pass before, frames x features in float32, if they fit
    in ``cache_bytes``) instead of running the network from its inputs, and
    keeps the outputs of level L-1 (final by then) for the next pass. A
    chain of n levels so costs about two forward passes instead of n; a
    layer that bypasses the kept outputs is recomputed from the inputs,
    so the result is the same either way.
    """

    def __init__(self, layer_or_layers, inputs=None, cache_bytes=2 ** 29):
        from .base import InputLayer
        from .helper import get_all_layers
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
        self.cache_bytes = cache_bytes
        self._variables = [self._variable(lay, "recalibration_input_%d" % i)
                           for i, lay in enumerate(self.inputs)]
        self._passes = {}

    @staticmethod
    def _variable(layer, name):
        return at.TensorType("float32", (False,) * len(layer.output_shape))(
            name)

    def _pass(self, level, fed, kept):
        """Compiled pass of ``level``: (inputs, outputs of the ``fed``
        layers) -> (mean, var) of each batch norm of the level, then the
        outputs of the ``kept`` layers."""
        from .helper import get_output
        key = (level, fed, kept)
        if key not in self._passes:
            fed_vars = [self._variable(lay, "recalibration_kept_%d" % i)
                        for i, lay in enumerate(fed)]
            givens = dict(zip(self.inputs, self._variables))
            givens.update(zip(fed, fed_vars))
            bns = self._at_level(level)
            below = get_output([bn.input_layer for bn in bns] + list(kept),
                               givens, deterministic=True)
            outs = []
            for bn, x in zip(bns, below):
                outs += [x.mean(bn.axes), x.var(bn.axes)]
            self._passes[key] = function_cache.function(
                self._variables + fed_vars, outs + below[len(bns):],
                on_unused_input="ignore")
        return self._passes[key]

    def _at_level(self, level):
        """The batch norms of ``level``, in the order of ``self.layers``."""
        return [bn for bn, lv in zip(self.layers, self.levels) if lv == level]

    def _keepable(self, layers, frames):
        """``layers`` if their outputs for ``frames`` fit in the cache."""
        size = 0
        for lay in layers:
            shape = lay.output_shape[1:]
            if any(n is None for n in shape):
                return ()
            size += 4 * frames * int(np.prod(shape))
        return tuple(layers) if size <= self.cache_bytes else ()

    def __call__(self, batches):
        batches = [[np.asarray(a, dtype="float32") for a in (
            [batch[lay] for lay in self.inputs] if isinstance(batch, dict)
            else [batch])] for batch in batches]
        if not batches:
            raise ValueError("recalibrate_batch_norm: no batches given")
        frames = sum(len(arrays[0]) for arrays in batches)
        top = max(self.levels, default=0)
        fed, kept_values = (), [[] for _ in batches]
        # one pass over the batches per level: layers of one level (e.g. the
        # first batch norm of two heads on one trunk) do not see each other
        for level in range(1, top + 1):
            bns = self._at_level(level)
            kept = () if level == top else self._keepable(
                self._at_level(level - 1), frames)
            run = self._pass(level, fed, kept)
            stats = [[0, 0.0, 0.0] for _ in bns]    # count, mean, m2
            new_values = []
            for arrays, values in zip(batches, kept_values):
                out = run(*(arrays + values))
                n = len(arrays[0])   # every frame has the same pixel count
                for j in range(len(bns)):
                    count, mean, m2 = stats[j]
                    b_mean = out[2 * j].astype(np.float64)
                    b_var = out[2 * j + 1].astype(np.float64)
                    delta = b_mean - mean
                    total = count + n
                    stats[j] = [total, mean + delta * n / total,
                                m2 + b_var * n + delta ** 2 * count * n / total]
                new_values.append(list(out[2 * len(bns):]))
            for bn, (count, mean, m2) in zip(bns, stats):
                var = m2 / count
                bn.mean.set_value(mean.astype(bn.mean.dtype))
                bn.inv_std.set_value((1.0 / np.sqrt(var + bn.epsilon)).astype(
                    bn.inv_std.dtype))
            fed, kept_values = kept, new_values
        return list(self.layers)
