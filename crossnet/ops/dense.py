"""A BLAS-free inference Op: dense layer + bias + leaky ReLU.

Why: the posterior path's dense layers are tiny (at most 512 x 23), but
``Dot22`` hands them to the BLAS, and OpenBLAS runs a 512 x 23 gemv on two
threads. Its worker thread then competes with the OpenMP threads of the
convolutions (:mod:`crossnet.ops.conv6x6`) for the two cores, and whole
calls stall for a scheduler tick after any large numpy matmul in the same
process (paper_experiments/README.md has the measurement). This Op is a
plain loop on the calling thread.
"""
import zlib

import numpy as np

from ..backend import at
from ..csrc import read_source
from aesara.graph.basic import Apply
from aesara.link.c.op import COp

__all__ = ["DenseLeaky", "dense_leaky"]
_SOURCE = "dense_leaky.c"


class DenseLeaky(COp):
    """``leaky_relu(x @ W + b)``: x (B, K), W (K, N), b (N,) -> (B, N),
    float32; ``leak`` is the negative slope (1.0 = linear)."""

    __props__ = ("leak",)

    def __init__(self, leak=1.0):
        self.leak = float(leak)

    def make_node(self, x, w, b):
        x, w, b = (at.as_tensor_variable(v) for v in (x, w, b))
        if (x.ndim, w.ndim, b.ndim) != (2, 2, 1):
            raise ValueError("DenseLeaky takes x (2-d), W (2-d), b (1-d); got "
                             "%d-d, %d-d, %d-d" % (x.ndim, w.ndim, b.ndim))
        if {x.dtype, w.dtype, b.dtype} != {"float32"}:
            raise TypeError("DenseLeaky is float32 only")
        return Apply(self, [x, w, b], [at.TensorType("float32", shape=(None, None))()])

    def infer_shape(self, fgraph, node, shapes):
        return [(shapes[0][0], shapes[1][1])]

    def grad(self, inputs, output_grads):
        raise NotImplementedError("DenseLeaky is an inference Op; train with "
                                  "crossnet.nn.DenseLayer")

    def perform(self, node, inputs, outputs):
        x, w, b = inputs
        y = x @ w + b
        outputs[0][0] = np.where(y > 0, y, self.leak * y).astype("float32")

    def c_code_cache_version(self):
        return (2, zlib.crc32(read_source(_SOURCE).encode()))

    def c_support_code(self, **kwargs):
        return read_source(_SOURCE)

    def c_code(self, node, name, inputs, outputs, sub):
        x, w, b = inputs
        (out,) = outputs
        return """
        {
        PyArrayObject* xc = PyArray_GETCONTIGUOUS(%(x)s);
        PyArrayObject* wc = PyArray_GETCONTIGUOUS(%(w)s);
        PyArrayObject* bc = PyArray_GETCONTIGUOUS(%(b)s);
        int ok = 1;
        const npy_intp B = PyArray_DIMS(xc)[0], K = PyArray_DIMS(xc)[1];
        const npy_intp N = PyArray_DIMS(wc)[1];
        if (PyArray_DIMS(wc)[0] != K || PyArray_DIMS(bc)[0] != N) {
            PyErr_Format(PyExc_ValueError,
                "DenseLeaky: x (%%ld, %%ld), W (%%ld, %%ld) and b (%%ld) do not fit",
                (long)B, (long)K, (long)PyArray_DIMS(wc)[0], (long)N,
                (long)PyArray_DIMS(bc)[0]);
            ok = 0;
        }
        if (ok && (!%(out)s || PyArray_DIMS(%(out)s)[0] != B
                   || PyArray_DIMS(%(out)s)[1] != N
                   || !PyArray_IS_C_CONTIGUOUS(%(out)s))) {
            npy_intp dims[2] = {B, N};
            Py_XDECREF(%(out)s);
            %(out)s = (PyArrayObject*)PyArray_EMPTY(2, dims, NPY_FLOAT32, 0);
            if (!%(out)s) ok = 0;
        }
        if (ok)
            cn_dense_leaky((const float*)PyArray_DATA(xc), B, K,
                           (const float*)PyArray_DATA(wc), N,
                           (const float*)PyArray_DATA(bc), %(leak)r,
                           (float*)PyArray_DATA(%(out)s));
        Py_XDECREF(xc); Py_XDECREF(wc); Py_XDECREF(bc);
        if (!ok) { %(fail)s }
        }
        """ % dict(x=x, w=w, b=b, out=out, leak=self.leak, fail=sub["fail"])


def dense_leaky(x, w, b, leak=1.0):
    """Symbolic BLAS-free ``leaky_relu(x @ W + b)`` (``leak=1`` linear)."""
    return DenseLeaky(leak)(x, w, b)
