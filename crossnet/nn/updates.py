"""Optimizers: functions returning an ordered dict of shared-variable updates."""
from collections import OrderedDict

import numpy as np

from ..backend import aesara, at
from aesara.compile.sharedvalue import SharedVariable
from aesara.gradient import disconnected_grad
from aesara.graph.basic import clone_get_equiv, graph_inputs, io_toposort
from .. import ops
from ..ops.adam import adam_step
from .normalization import moving_average

__all__ = ["get_or_compute_grads", "adam", "optimizer_state", "after_update"]


def get_or_compute_grads(loss_or_grads, params):
    if isinstance(loss_or_grads, (list, tuple)):
        if len(loss_or_grads) != len(params):
            raise ValueError("%d gradients given for %d parameters"
                             % (len(loss_or_grads), len(params)))
        return list(loss_or_grads)
    return aesara.grad(loss_or_grads, params)


def adam(loss_or_grads, params, learning_rate=1e-3, beta1=0.9, beta2=0.999,
         epsilon=1e-8):
    """Adam (Kingma & Ba 2015), in Lasagne's formulation.

    ``t += 1; a = lr * sqrt(1 - beta2^t) / (1 - beta1^t);
    m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
    p -= a m / (sqrt(v) + epsilon)``.

    ``learning_rate`` may be a shared variable: a schedule then changes it
    with ``set_value`` without recompiling. The returned dict also updates
    the optimizer state (``t`` and one ``m``, ``v`` per parameter, named
    ``adam_t``, ``<param>_adam_m``, ``<param>_adam_v``), which
    :func:`optimizer_state` lists for checkpoints.
    """
    grads = get_or_compute_grads(loss_or_grads, params)
    dtype = aesara.config.floatX
    t_prev = aesara.shared(np.asarray(0.0, dtype=dtype), name="adam_t")
    updates = OrderedDict()
    one = at.constant(1.0, dtype=dtype)
    t = t_prev + 1
    a_t = learning_rate * at.sqrt(one - beta2 ** t) / (one - beta1 ** t)
    ms, vs = [], []
    for param in params:
        value = param.get_value(borrow=True)
        ms.append(aesara.shared(np.zeros(value.shape, dtype=value.dtype),
                                name="%s_adam_m" % param.name))
        vs.append(aesara.shared(np.zeros(value.shape, dtype=value.dtype),
                                name="%s_adam_v" % param.name))
    if (params and ops.use_training_ops and dtype == "float32"
            and all(p.dtype == "float32" for p in params)):
        new_p, new_m, new_v = adam_step(at.cast(a_t, "float32"), params,
                                        [at.cast(g, "float32") for g in grads],
                                        ms, vs, beta1, beta2, epsilon)
        for param, m_prev, v_prev, p_t, m_t, v_t in zip(params, ms, vs, new_p,
                                                         new_m, new_v):
            updates[m_prev] = m_t
            updates[v_prev] = v_t
            updates[param] = p_t
    else:
        for param, g_t, m_prev, v_prev in zip(params, grads, ms, vs):
            m_t = beta1 * m_prev + (one - beta1) * g_t
            v_t = beta2 * v_prev + (one - beta2) * g_t ** 2
            step = a_t * m_t / (at.sqrt(v_t) + epsilon)
            updates[m_prev] = m_t
            updates[v_prev] = v_t
            updates[param] = (param - step).astype(param.dtype)
    updates[t_prev] = t
    return updates


def optimizer_state(updates, params):
    """The shared variables in ``updates`` that are not ``params``."""
    params = set(params)
    return [v for v in updates if v not in params]


def after_update(outputs, updates):
    """``outputs`` as a second compiled step would compute them after a
    first step that applies ``updates``, for both steps in one function.

    Returns ``(outputs_after, running_updates)``. ``outputs_after`` is a
    clone of the part of the graph of ``outputs`` that depends on a shared
    variable ``updates`` updates, with each such variable reading its new
    value through ``disconnected_grad`` (no gradient flows back into the
    first step); the rest of the graph (e.g. a generator's output when only
    the discriminator moves) is shared, so it is computed once.
    ``running_updates`` moves the batch-norm running averages that the
    cloned passes move (``BatchNormLayer``'s ``tag.moving_average``) on
    from the value the first step leaves, with the clones' statistics: pass
    them to the function beside ``updates``, which they extend.
    """
    single = not isinstance(outputs, (list, tuple))
    outputs = [outputs] if single else list(outputs)
    memo = {var: disconnected_grad(new) for var, new in updates.items()
            if isinstance(var, SharedVariable)}
    replaced = list(memo)
    moved = set(replaced)        # variables whose value the update changes
    for node in io_toposort(list(graph_inputs(outputs)), outputs):
        if any(i in moved for i in node.inputs):
            moved.update(node.outputs)
        else:                    # not cloned
            memo[node] = node
            memo.update((o, o) for o in node.outputs)
    equiv = clone_get_equiv(replaced, outputs, copy_inputs=False,
                            copy_orphans=False, memo=memo)
    running = OrderedDict()
    for var in graph_inputs([equiv[o] for o in outputs]):
        moves = getattr(var.tag, "moving_average", None)
        if moves is None or var.default_update is None:
            continue
        alpha, statistic, n = moves
        if statistic not in moved:
            continue          # the update does not change these statistics
        first = updates.get(var, var.default_update)
        running[var] = moving_average(first, alpha, equiv[statistic], n)
    after = [equiv[o] for o in outputs]
    return (after[0] if single else after), running
