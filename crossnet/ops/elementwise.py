"""Elementwise Ops that aesara runs slowly: tanh.

aesara's ``tanh`` is a scalar libm call per element on one thread (about
40 ns); the generator's output layer applies it to every pixel of every
fake depth map. :class:`Tanh` computes it 16 lanes at a time over OpenMP
threads (C in ``crossnet/csrc/tanh.c``; about 2 float32 ulp against tanh
in double). :func:`crossnet.nn.nonlinearities.tanh` uses it for float32
tensors while the training Ops are on (:mod:`crossnet.ops`).
"""
import numpy as np

from ..backend import at
from aesara.graph.basic import Apply

from .csource import SourceOp

__all__ = ["Tanh", "tanh"]

class Tanh(SourceOp):
    """``y = tanh(x)`` elementwise, float32, any shape."""

    __props__ = ()
    sources = ("tanh.c", "simd_width.h")

    def make_node(self, x):
        x = at.as_tensor_variable(x)
        if x.dtype != "float32":
            raise TypeError("Tanh is float32 only, got %s" % x.dtype)
        return Apply(self, [x], [x.type()])

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def grad(self, inputs, output_grads):
        (g,) = output_grads
        y = self(inputs[0])
        return [g * (np.float32(1) - y * y)]

    def perform(self, node, inputs, outputs):
        outputs[0][0] = np.tanh(inputs[0]).astype("float32")

    def c_code(self, node, name, inputs, outputs, sub):
        return _C_CODE % dict(x=inputs[0], y=outputs[0], fail=sub["fail"])


_C_CODE = r"""
{
PyArrayObject* xc = PyArray_GETCONTIGUOUS(%(x)s);
int ok = xc != NULL;
if (ok && (!%(y)s || !PyArray_IS_C_CONTIGUOUS(%(y)s)
           || PyArray_NDIM(%(y)s) != PyArray_NDIM(xc)
           || !PyArray_CompareLists(PyArray_DIMS(%(y)s), PyArray_DIMS(xc),
                                    PyArray_NDIM(xc)))) {
    Py_XDECREF(%(y)s);
    %(y)s = (PyArrayObject*)PyArray_EMPTY(PyArray_NDIM(xc), PyArray_DIMS(xc),
                                          NPY_FLOAT32, 0);
    if (!%(y)s) ok = 0;
}
if (ok)
    cnh_tanh((const float*)PyArray_DATA(xc), (long)PyArray_SIZE(xc),
             (float*)PyArray_DATA(%(y)s));
Py_XDECREF(xc);
if (!ok) { %(fail)s }
}
"""


def tanh(x):
    """Symbolic tanh of a float32 tensor with :class:`Tanh`."""
    return Tanh()(x)
