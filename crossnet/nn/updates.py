"""Optimizers: functions returning an ordered dict of shared-variable updates."""
from collections import OrderedDict

import numpy as np

from ..backend import aesara, at
from .. import ops
from ..ops.adam import adam_step

__all__ = ["get_or_compute_grads", "adam", "optimizer_state"]


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
