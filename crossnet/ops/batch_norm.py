"""Training-mode batch norm over (batch, rows, columns) + (leaky) ReLU.

aesara runs batch norm in training mode as a dozen single-threaded
elementwise and reduction passes. These Ops do it in a few OpenMP passes,
with C code in ``crossnet/csrc/batch_norm.c``:

* :class:`BatchStats` ``x -> (mean, inv_std)``: x (B, C, H, W), per-channel
  mean and ``1 / sqrt(var + epsilon)`` (biased variance), float32 (C,);
* :class:`BatchNormAct` ``(x, mean, inv_std, gamma, beta) -> y``:
  ``y = act((x - mean) * gamma * inv_std + beta)`` with ``act`` a leaky ReLU
  of slope ``leak`` (1.0: none, 0.0: ReLU);
* their gradients :class:`BatchNormActGrad` and :class:`BatchStatsGrad`
  (first order only: no stage differentiates twice through batch norm).

Splitting the statistics from the normalisation lets the running averages
(:class:`crossnet.nn.BatchNormLayer`) use the same ``mean``/``inv_std``
while a following NonlinearityLayer replaces the linear ``BatchNormAct`` by
one with its slope (one pass instead of two). Sums run in double, one
channel at a time in a fixed order, so results do not depend on the number
of threads.
"""
import numpy as np

from ..backend import at
from aesara.graph.basic import Apply
from aesara.gradient import DisconnectedType
from aesara.graph.rewriting.basic import node_rewriter
from aesara.tensor.elemwise import Elemwise
from aesara.tensor.rewriting.basic import register_specialize
import aesara.scalar as aes

from .csource import SourceOp

__all__ = ["BatchStats", "BatchNormAct", "BatchNormActGrad", "BatchStatsGrad",
           "batch_stats", "batch_norm_act", "fits_batch_norm",
           "fuse_stats_grad_add"]

_SOURCE = "batch_norm.c"


def fits_batch_norm(input, axes):
    """True when these Ops apply: a float32 4-d input normalised over
    (0, 2, 3)."""
    return input.ndim == 4 and tuple(axes) == (0, 2, 3) and input.dtype == "float32"


def _vector():
    return at.TensorType("float32", shape=(None,))()


def _tensor4():
    return at.TensorType("float32", shape=(None,) * 4)()


class _BatchNormOp(SourceOp):
    """C plumbing shared by the four Ops: input 0 is x (B, C, H, W); a
    subclass gives ``_outputs`` ("x": shaped like x, "c": one value per
    channel, for each output) and ``_call`` (the C kernel call)."""

    sources = (_SOURCE,)
    _outputs = ()

    def __init__(self, openmp=True):
        super().__init__(openmp=openmp)

    def _as(self, *variables):
        variables = [at.as_tensor_variable(v) for v in variables]
        if any(v.dtype != "float32" for v in variables):
            raise TypeError("%s is float32 only" % type(self).__name__)
        return variables

    def c_headers(self, **kwargs):
        return ["<math.h>", "<string.h>"] + super().c_headers(**kwargs)

    def c_code(self, node, name, inputs, outputs, sub):
        ins = "\n".join("PyArrayObject* in%d = PyArray_GETCONTIGUOUS(%s);"
                        % (i, v) for i, v in enumerate(inputs))
        free = " ".join("Py_XDECREF(in%d);" % i for i in range(len(inputs)))
        allocs = [_ALLOC % dict(out=out, nd=4 if kind == "x" else 1,
                                dims="PyArray_DIMS(in0)" if kind == "x" else "&Cd")
                  for out, kind in zip(outputs, self._outputs)]
        return _C_FRAME % dict(
            ins=ins, free=free, allocs="\n".join(allocs), fail=sub["fail"],
            op=type(self).__name__, checks=self._checks(len(inputs)),
            call=self._call(outputs))

    def _checks(self, n_inputs):
        """C condition, true when the input shapes are wrong: in0 is 4-d
        (B, C, H, W), the others (C,) or 4-d like in0."""
        conds = ["PyArray_NDIM(in0) != 4"]
        for i in range(1, n_inputs):
            conds.append("(PyArray_NDIM(in%d) == 1 ? PyArray_DIMS(in%d)[0] != C "
                         ": !PyArray_SAMESHAPE(in%d, in0))" % (i, i, i))
        return " || ".join(conds)


_C_FRAME = r"""
{
%(ins)s
int ok = 1;
const int B = PyArray_NDIM(in0) == 4 ? PyArray_DIMS(in0)[0] : 0;
const int C = PyArray_NDIM(in0) == 4 ? PyArray_DIMS(in0)[1] : 0;
const long P = PyArray_NDIM(in0) == 4 ? (long)PyArray_DIMS(in0)[2] * PyArray_DIMS(in0)[3] : 0;
npy_intp Cd = C;
if (%(checks)s) {
    PyErr_Format(PyExc_ValueError, "%(op)s: inputs must be x (B, C, H, W) and "
                 "per-channel vectors (C,) or arrays shaped like x; x is %%d-d "
                 "with %%d channels", PyArray_NDIM(in0), C);
    ok = 0;
}
if (ok && (long)B * P == 0) {
    PyErr_Format(PyExc_ValueError, "%(op)s: batch norm of an empty batch");
    ok = 0;
}
%(allocs)s
if (ok) {
%(call)s
}
%(free)s
if (!ok) { %(fail)s }
}
"""

_ALLOC = r"""
    if (ok && (!%(out)s || !PyArray_IS_C_CONTIGUOUS(%(out)s)
               || PyArray_NDIM(%(out)s) != %(nd)d
               || !PyArray_CompareLists(PyArray_DIMS(%(out)s), %(dims)s, %(nd)d))) {
        Py_XDECREF(%(out)s);
        %(out)s = (PyArrayObject*)PyArray_EMPTY(%(nd)d, %(dims)s, NPY_FLOAT32, 0);
        if (!%(out)s) ok = 0;
    }
"""


def _f(v):
    return "(const float*)PyArray_DATA(%s)" % v


def _o(v):
    return "(float*)PyArray_DATA(%s)" % v


def _np_stats(x, epsilon):
    mean = x.mean((0, 2, 3), dtype="float64")
    var = ((x - mean[None, :, None, None].astype("float32")) ** 2).mean(
        (0, 2, 3), dtype="float64")
    return (mean.astype("float32"),
            (1.0 / np.sqrt(var + epsilon)).astype("float32"))


def _bc(v):
    return v[None, :, None, None]


class BatchStats(_BatchNormOp):
    """x (B, C, H, W) -> mean (C,), inv_std (C,) over (0, 2, 3)."""

    __props__ = ("epsilon",)

    def __init__(self, epsilon=1e-4, openmp=True):
        super().__init__(openmp=openmp)
        self.epsilon = float(epsilon)

    def make_node(self, x):
        (x,) = self._as(x)
        if x.ndim != 4:
            raise ValueError("BatchStats takes a 4-d input, got %d-d" % x.ndim)
        return Apply(self, [x], [_vector(), _vector()])

    def infer_shape(self, fgraph, node, shapes):
        return [(shapes[0][1],), (shapes[0][1],)]

    _outputs = ("c", "c")

    def _call(self, outputs):
        return ("cnb_stats(%s, B, C, P, %r, %s, %s);"
                % (_f("in0"), self.epsilon, _o(outputs[0]), _o(outputs[1])))

    def perform(self, node, inputs, outputs):
        mean, inv_std = _np_stats(inputs[0], self.epsilon)
        outputs[0][0], outputs[1][0] = mean, inv_std

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        mean, inv_std = outputs
        gmean, ginv_std = [at.zeros_like(v) if isinstance(g.type, DisconnectedType)
                           else g for v, g in zip((mean, inv_std), output_grads)]
        return [BatchStatsGrad()(x, mean, inv_std, gmean, ginv_std)]


class BatchNormAct(_BatchNormOp):
    """``(x - mean) * gamma * inv_std + beta`` per channel of x (B, C, H, W),
    then a leaky ReLU of slope ``leak`` (1.0: linear)."""

    __props__ = ("leak",)

    def __init__(self, leak=1.0, openmp=True):
        super().__init__(openmp=openmp)
        self.leak = float(leak)

    def make_node(self, x, mean, inv_std, gamma, beta):
        x, mean, inv_std, gamma, beta = self._as(x, mean, inv_std, gamma, beta)
        if x.ndim != 4 or any(v.ndim != 1 for v in (mean, inv_std, gamma, beta)):
            raise ValueError("BatchNormAct takes x (B, C, H, W) and four (C,) "
                             "vectors")
        return Apply(self, [x, mean, inv_std, gamma, beta], [_tensor4()])

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    _outputs = ("x",)

    def _call(self, outputs):
        return ("cnb_act(%s, B, C, P, %s, %s, %s, %s, %r, %s);"
                % (_f("in0"), _f("in1"), _f("in2"), _f("in3"), _f("in4"),
                   self.leak, _o(outputs[0])))

    def perform(self, node, inputs, outputs):
        x, mean, inv_std, gamma, beta = inputs
        z = (x - _bc(mean)) * _bc(gamma * inv_std) + _bc(beta)
        outputs[0][0] = np.where(z > 0, z, self.leak * z).astype("float32")

    def grad(self, inputs, output_grads):
        return BatchNormActGrad(self.leak)(*(list(inputs) + list(output_grads)))


class BatchNormActGrad(_BatchNormOp):
    """Gradients of :class:`BatchNormAct` from its inputs and ``gy``:
    dx (B, C, H, W) (the direct term only), dmean, dinv_std, dgamma, dbeta."""

    __props__ = ("leak",)

    def __init__(self, leak=1.0, openmp=True):
        super().__init__(openmp=openmp)
        self.leak = float(leak)

    def make_node(self, x, mean, inv_std, gamma, beta, gy):
        x, mean, inv_std, gamma, beta, gy = self._as(x, mean, inv_std, gamma,
                                                     beta, gy)
        return Apply(self, [x, mean, inv_std, gamma, beta, gy],
                     [_tensor4()] + [_vector() for _ in range(4)])

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]] + [shapes[1]] * 4

    _outputs = ("x", "c", "c", "c", "c")

    def _call(self, outputs):
        return ("cnb_act_grad(%s, %s, B, C, P, %s, %s, %s, %s, %r, %s);"
                % (_f("in0"), _f("in5"), _f("in1"), _f("in2"), _f("in3"),
                   _f("in4"), self.leak, ", ".join(_o(o) for o in outputs)))

    def perform(self, node, inputs, outputs):
        x, mean, inv_std, gamma, beta, gy = inputs
        xc = x - _bc(mean)
        z = xc * _bc(gamma * inv_std) + _bc(beta)
        gp = np.where(z > 0, gy, self.leak * gy)
        sg = gp.sum((0, 2, 3), dtype="float64")
        sgx = (gp * xc).sum((0, 2, 3), dtype="float64")
        res = [gp * _bc(gamma * inv_std), -gamma * inv_std * sg, gamma * sgx,
               inv_std * sgx, sg]
        for out, v in zip(outputs, res):
            out[0] = np.asarray(v, dtype="float32")

    def grad(self, inputs, output_grads):
        raise NotImplementedError("BatchNormActGrad: second derivatives of "
                                  "batch norm are not implemented")


class BatchStatsGrad(_BatchNormOp):
    """dx of :class:`BatchStats` from x, mean, inv_std and the gradients
    ``gmean``, ``ginv_std`` (C,). With ``accumulate``, a sixth input
    ``base`` shaped like x is added to it (one pass instead of a separate,
    single-threaded elementwise add: see :func:`fuse_stats_grad_add`)."""

    __props__ = ("accumulate",)

    def __init__(self, accumulate=False, openmp=True):
        super().__init__(openmp=openmp)
        self.accumulate = bool(accumulate)

    def make_node(self, x, mean, inv_std, gmean, ginv_std, base=None):
        if (base is None) == self.accumulate:
            raise TypeError("BatchStatsGrad(accumulate=%s) takes %s" % (
                self.accumulate, "a sixth input, base" if self.accumulate
                else "five inputs"))
        inputs = self._as(x, mean, inv_std, gmean, ginv_std,
                          *([] if base is None else [base]))
        return Apply(self, inputs, [_tensor4()])

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    _outputs = ("x",)

    def _call(self, outputs):
        return ("cnb_stats_grad(%s, B, C, P, %s, %s, %s, %s, %s, %s);"
                % (_f("in0"), _f("in1"), _f("in2"), _f("in3"), _f("in4"),
                   _f("in5") if self.accumulate else "NULL", _o(outputs[0])))

    def perform(self, node, inputs, outputs):
        x, mean, inv_std, gmean, ginv_std = inputs[:5]
        n = x.shape[0] * x.shape[2] * x.shape[3]
        dx = _bc(gmean / n) - _bc(ginv_std * inv_std ** 3 / n) * (x - _bc(mean))
        if self.accumulate:
            dx = inputs[5] + dx
        outputs[0][0] = dx.astype("float32")

    def grad(self, inputs, output_grads):
        raise NotImplementedError("BatchStatsGrad: second derivatives of "
                                  "batch norm are not implemented")


@node_rewriter([Elemwise])
def fuse_stats_grad_add(fgraph, node):
    """``base + BatchStatsGrad(...)`` -> ``BatchStatsGrad(accumulate)(...,
    base)`` when the sum has exactly these two float32 4-d terms of one
    shape (no broadcasting) and nothing else reads the statistics' term. In
    a backward pass, x's gradient is the sum of the normalisation's and the
    statistics' parts; aesara would add them in a separate single-threaded
    pass."""
    if not isinstance(node.op.scalar_op, aes.Add) or len(node.inputs) != 2:
        return None
    out = node.outputs[0]
    if out.ndim != 4 or out.dtype != "float32":
        return None
    for i, term in enumerate(node.inputs):
        base = node.inputs[1 - i]
        owner = term.owner
        if (owner is None or not isinstance(owner.op, BatchStatsGrad)
                or owner.op.accumulate or len(fgraph.clients[term]) != 1
                or base.type.broadcastable != out.type.broadcastable
                or term.type.broadcastable != out.type.broadcastable
                or base.dtype != "float32"):
            continue
        fused = BatchStatsGrad(True, owner.op.openmp)(*owner.inputs, base)
        if not out.type.is_super(fused.type):
            fused = at.specify_shape(fused, out.type.shape)
        return [fused]
    return None


register_specialize(fuse_stats_grad_add, "crossnet")


def batch_stats(x, epsilon=1e-4):
    """Symbolic per-channel (mean, inv_std) of x (B, C, H, W)."""
    return BatchStats(epsilon)(x)


def batch_norm_act(x, mean, inv_std, gamma, beta, leak=1.0):
    """Symbolic normalised x, scaled, shifted, then leaky ReLU (slope
    ``leak``)."""
    return BatchNormAct(leak)(x, mean, inv_std, gamma, beta)
