"""One Adam step over all parameters of an update, as one Op.

:func:`crossnet.nn.updates.adam` written per parameter gives aesara three
fused elementwise nodes per parameter (m, v and the parameter): a third of
the nodes of a training function, a fifth of its first compile (rewrites
and one C module per tensor rank and constant pattern), and as many
single-threaded passes per update. :class:`AdamStep` does the same
arithmetic for a list of tensors in one node:

``AdamStep(beta1, beta2, epsilon, n)(a_t, p_1..p_n, g_1..g_n, m_1..m_n,
v_1..v_n) -> (p'_1..p'_n, m'_1..m'_n, v'_1..v'_n)``

with ``a_t`` the float32 scalar step size ``lr sqrt(1 - beta2^t) / (1 -
beta1^t)``, p the parameters, g their gradients, m and v Adam's moments
(each g, m, v shaped like its p; any rank; float32). Outputs are new
arrays; inputs are never overwritten. No gradient: it is an update.

The arithmetic is ``crossnet/csrc/adam.c`` (OpenMP over large tensors),
built once into a shared library and called through ctypes from
``perform``: an aesara C module would carry aesara's glue code for each of
the 7n inputs and outputs (1.6 MB of C for stage 3b), slower to compile
than everything it saves. Without a C compiler, the same formula runs in
NumPy.
"""
import ctypes
import functools

import numpy as np

from ..backend import aesara, at
from aesara.graph.basic import Apply
from aesara.graph.op import Op

from ..csrc import build_shared_library

__all__ = ["AdamStep", "adam_step"]


@functools.lru_cache(maxsize=None)
def _kernel():
    """``cn_adam_update`` of ``crossnet/csrc/adam.c`` (built on first use),
    or None when there is no C compiler."""
    if not aesara.config.cxx:
        return None
    # -fno-math-errno (as aesara's own modules): without it sqrtf may set
    # errno, so gcc keeps the loop scalar (4x slower; same results)
    fn = build_shared_library("adam.c", ["-O3", "-march=native",
                                         "-fno-math-errno",
                                         "-fopenmp"]).cn_adam_update
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p] * 7 + [ctypes.c_long] + [ctypes.c_float] * 4
    return fn


class AdamStep(Op):
    """Adam's update of ``n`` tensors; see the module docstring."""

    __props__ = ("beta1", "beta2", "epsilon", "n")

    def __init__(self, beta1, beta2, epsilon, n):
        # the float32 values the arithmetic uses (as aesara's update does)
        self.beta1 = float(np.float32(beta1))
        self.beta2 = float(np.float32(beta2))
        self.epsilon = float(np.float32(epsilon))
        self.n = int(n)
        if self.n < 1:
            raise ValueError("AdamStep needs at least one parameter")

    def make_node(self, a_t, *tensors):
        a_t = at.as_tensor_variable(a_t)
        tensors = [at.as_tensor_variable(t) for t in tensors]
        n = self.n
        if len(tensors) != 4 * n:
            raise ValueError("AdamStep(n=%d) takes a_t and %d tensors (p, g, m, v "
                             "for each parameter), got %d" % (n, 4 * n, len(tensors)))
        if a_t.ndim != 0 or a_t.dtype != "float32":
            raise TypeError("AdamStep: a_t must be a float32 scalar, got %s" % a_t.type)
        for i in range(n):
            group = [tensors[i + k * n] for k in range(4)]
            if any(t.dtype != "float32" for t in group):
                raise TypeError("AdamStep is float32 only; parameter %d has %s"
                                % (i, ", ".join(t.dtype for t in group)))
            if any(t.ndim != group[0].ndim for t in group):
                raise ValueError("AdamStep: parameter %d's p, g, m, v ranks differ: %s"
                                 % (i, [t.ndim for t in group]))
        outs = [at.TensorType("float32", shape=(None,) * tensors[i % n].ndim)()
                for i in range(3 * n)]
        return Apply(self, [a_t] + tensors, outs)

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[1 + i % self.n] for i in range(3 * self.n)]

    def perform(self, node, inputs, outputs):
        n = self.n
        a_t = np.float32(inputs[0])
        kernel = _kernel()
        for i in range(n):
            p, g, m, v = (np.require(inputs[1 + i + k * n], "float32", "C")
                          for k in range(4))
            if not p.shape == g.shape == m.shape == v.shape:
                raise ValueError("AdamStep: parameter %d %s, gradient %s, m %s, v %s "
                                 "differ in shape" % (i, p.shape, g.shape, m.shape,
                                                      v.shape))
            if kernel is None:
                b1, b2, eps = (np.float32(x) for x in (self.beta1, self.beta2,
                                                       self.epsilon))
                m1 = b1 * m + (np.float32(1) - b1) * g
                v1 = b2 * v + (np.float32(1) - b2) * (g * g)
                p1 = p - (a_t * m1) / (eps + np.sqrt(v1))
            else:
                p1, m1, v1 = (np.empty_like(p) for _ in range(3))
                kernel(g.ctypes.data, p.ctypes.data, m.ctypes.data, v.ctypes.data,
                       p1.ctypes.data, m1.ctypes.data, v1.ctypes.data, p.size,
                       a_t, self.beta1, self.beta2, self.epsilon)
            outputs[i][0] = p1
            outputs[n + i][0] = m1
            outputs[2 * n + i][0] = v1


def adam_step(a_t, params, grads, ms, vs, beta1, beta2, epsilon):
    """Symbolic new (params, ms, vs) lists after one Adam step."""
    n = len(params)
    outs = AdamStep(beta1, beta2, epsilon, n)(a_t, *(list(params) + list(grads)
                                                    + list(ms) + list(vs)))
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    return outs[:n], outs[n:2 * n], outs[2 * n:]
