"""Training Ops: 6x6 / stride-2 / pad-2 correlation and its two gradients.

Every convolution of Crossing Nets is 6x6, stride 2, pad (or crop) 2, and
the transposed convolutions of the generator are the input gradient of such
a convolution. Three Ops, with C code in ``crossnet/csrc/conv6x6s2_train.c``:

* :class:`Corr6x6S2` ``(x, w) -> y``: x (B, C, H, W) with H, W even,
  w (F, C, 6, 6) a *correlation* kernel, y (B, F, H/2, W/2);
* :class:`Corr6x6S2GradInputs` ``(w, dy) -> dx`` (B, C, 2 Ho, 2 Wo): the
  adjoint of the forward pass in x (a transposed convolution);
* :class:`Corr6x6S2GradWeights` ``(x, dy) -> dw`` (F, C, 6, 6).

Each Op's ``grad`` is built from the three, so aesara differentiates a chain
of them to any order. All three are linear in each input. float32 only.

``isa`` chooses the instruction set the C code is compiled for: "native"
(what the CPU has, as aesara detects it), "avx2" (no AVX-512) or "sse" (no
AVX: the x86-64 baseline); default ``$CROSSNET_ISA``, else "native". The
arithmetic is the same; only tile sizes and the rounding of fused
multiply-adds differ. Tests force the portable paths.

``winograd`` (default: on unless ``CROSSNET_WINOGRAD=0``): the float32
path of the forward pass and of the input gradient runs as Winograd
F(4x4, 3x3) on the input's four polyphase components
(``crossnet/csrc/conv6x6s2_winograd.c``: 36 instead of 144 products per 4x4
output tile and channel pair; about 1e-5 relative error) where the shapes
fit (16-channel blocks, at least 16 output columns); elsewhere the direct
register tile.

``amx`` (default: on unless ``CROSSNET_AMX=0``; only with isa "native"):
where the CPU has AMX-BF16 and the kernel grants the tile registers (asked
once, at the first call), the shapes with 16/32-channel blocks run as tile
products in bf16x3 (``crossnet/csrc/conv6x6s2_amx.c``: about 1e-5 relative
error against 1e-7 for the FMA path); other shapes and CPUs use the FMA
path. Results stay independent of the number of threads.
"""
import numpy as np

from ..backend import at
from aesara.graph.basic import Apply

from .csource import ISAS, PortableSourceOp

from .conv6x6 import amx_default, correlate6x6_s2p2, winograd_default

__all__ = ["Corr6x6S2", "Corr6x6S2GradInputs", "Corr6x6S2GradWeights",
           "corr6x6s2", "corr6x6s2_grad_inputs", "corr6x6s2_grad_weights",
           "fits_corr6x6s2", "ISAS"]

_SOURCE = "conv6x6s2_train.c"
# the first includes the others
_SOURCES = (_SOURCE, "conv6x6s2_amx.c", "conv6x6s2_winograd.c", "simd_width.h")


def fits_corr6x6s2(filter_size, stride, pad, input_shape):
    """True when a convolution layer can use these Ops: 6x6 kernel, stride
    2, pad 2, and known, even input rows and columns."""
    rows, cols = input_shape[2], input_shape[3]
    return (tuple(filter_size) == (6, 6) and tuple(stride) == (2, 2)
            and tuple(pad) == (2, 2) and rows is not None and cols is not None
            and rows % 2 == 0 and cols % 2 == 0 and rows >= 2 and cols >= 2)


class _Corr6x6S2Op(PortableSourceOp):
    """Shared C plumbing: one grow-only workspace per Apply node. A
    subclass gives, in C over the dims ``A`` and ``Bd`` of its two inputs:
    ``_bad_shapes`` (a condition), ``_names`` and ``_why`` (the error
    message: the inputs' names, what is wrong), ``_dims`` (the
    output's four dims) and ``_kernel`` (the call; ``a``, ``b``, ``out``
    and ``ws`` stand for the data pointers and the workspace)."""

    __props__ = ("isa", "amx", "winograd")
    sources = _SOURCES
    version = 3
    _names = _bad_shapes = _why = _kernel = None
    _dims = ()

    def __init__(self, isa=None, amx=None, winograd=None, openmp=True):
        super().__init__(openmp=openmp)
        self._set_isa(isa)
        self.amx = bool(amx_default() if amx is None else amx) and self.isa == "native"
        self.winograd = bool(winograd_default() if winograd is None else winograd)

    def _peer(self, cls):
        """An Op of class ``cls`` with this one's settings (for grad)."""
        return cls(self.isa, self.amx, self.winograd)

    def _check(self, *variables):
        variables = [at.as_tensor_variable(v) for v in variables]
        if any(v.ndim != 4 for v in variables):
            raise ValueError("%s takes 4-d tensors, got %s-d" % (
                type(self).__name__, ", ".join(str(v.ndim) for v in variables)))
        if any(v.dtype != "float32" for v in variables):
            raise TypeError("%s is float32 only, got %s" % (
                type(self).__name__, ", ".join(v.dtype for v in variables)))
        return variables

    def _node(self, inputs):
        out = at.TensorType("float32", shape=(None,) * 4)()
        return Apply(self, inputs, [out])

    def c_headers(self, **kwargs):
        return ["<string.h>", "<stdlib.h>"] + super().c_headers(**kwargs)

    def c_support_code_struct(self, node, name):
        return "cnt_ws ws_%s;" % name

    def c_init_code_struct(self, node, name, sub):
        return "cnt_ws_init(&ws_%s);" % name

    def c_cleanup_code_struct(self, node, name):
        return "cnt_ws_free(&ws_%s);" % name

    def c_code(self, node, name, inputs, outputs, sub):
        a, b = inputs
        (out,) = outputs
        kernel = self._kernel % dict(
            a="(const float*)PyArray_DATA(ac)", b="(const float*)PyArray_DATA(bc)",
            out="(float*)PyArray_DATA(%s)" % out, ws="&ws_" + name,
            amx=int(self.amx), wino=int(self.winograd))
        return _C_CODE % dict(
            a=a, b=b, out=out, fail=sub["fail"], op=type(self).__name__,
            bad=self._bad_shapes, kernel=kernel, why=self._why,
            names=self._names, dims="".join(
                "dims[%d] = %s; " % (i, d) for i, d in enumerate(self._dims)))


_C_CODE = r"""
{
PyArrayObject* ac = PyArray_GETCONTIGUOUS(%(a)s);
PyArrayObject* bc = PyArray_GETCONTIGUOUS(%(b)s);
int ok = 1;
npy_intp dims[4];
const npy_intp* A = PyArray_DIMS(ac);
const npy_intp* Bd = PyArray_DIMS(bc);
if (%(bad)s) {
    PyErr_Format(PyExc_ValueError, "%(op)s: %(names)s (%%ld, %%ld, %%ld, %%ld) "
        "do not fit: %(why)s", (long)A[0], (long)A[1], (long)A[2], (long)A[3],
        (long)Bd[0], (long)Bd[1], (long)Bd[2], (long)Bd[3]);
    ok = 0;
} else {
    %(dims)s
}
if (ok && (!%(out)s || !PyArray_IS_C_CONTIGUOUS(%(out)s)
           || !PyArray_CompareLists(PyArray_DIMS(%(out)s), dims, 4))) {
    Py_XDECREF(%(out)s);
    %(out)s = (PyArrayObject*)PyArray_EMPTY(4, dims, NPY_FLOAT32, 0);
    if (!%(out)s) ok = 0;
}
if (ok && PyArray_SIZE(%(out)s) > 0 && %(kernel)s != 0) {
    PyErr_NoMemory();
    ok = 0;
}
Py_XDECREF(ac); Py_XDECREF(bc);
if (!ok) { %(fail)s }
}
"""


class Corr6x6S2(_Corr6x6S2Op):
    """``y = correlate(pad(x, 2), w)[::2, ::2]``: x (B, C, H, W) with H, W
    even, w (F, C, 6, 6) -> y (B, F, H/2, W/2)."""

    _names = "x (%ld, %ld, %ld, %ld) and w"
    _bad_shapes = ("Bd[1] != A[1] || Bd[2] != 6 || Bd[3] != 6 || A[2] % 2 "
                   "|| A[3] % 2 || A[2] < 2 || A[3] < 2")
    _why = ("w must be (F, C, 6, 6) over x's C channels, x's rows and "
            "columns even")
    _dims = ("A[0]", "Bd[0]", "A[2] / 2", "A[3] / 2")
    _kernel = ("cnt_forward(%(a)s, A[0], A[1], A[2], A[3], %(b)s, Bd[0], "
               "%(out)s, %(ws)s, %(amx)s, %(wino)s)")

    def make_node(self, x, w):
        return self._node(self._check(x, w))

    def infer_shape(self, fgraph, node, shapes):
        (B, _, H, W), (F, _, _, _) = shapes
        return [(B, F, H // 2, W // 2)]

    def grad(self, inputs, output_grads):
        x, w = inputs
        (g,) = output_grads
        return [self._peer(Corr6x6S2GradInputs)(w, g),
                self._peer(Corr6x6S2GradWeights)(x, g)]

    def perform(self, node, inputs, outputs):
        x, w = inputs
        outputs[0][0] = correlate6x6_s2p2(x, w).astype("float32")


class Corr6x6S2GradInputs(_Corr6x6S2Op):
    """``dx`` of :class:`Corr6x6S2` from w (F, C, 6, 6) and dy (B, F, Ho,
    Wo): (B, C, 2 Ho, 2 Wo). As a layer: a transposed convolution."""

    _names = "w (%ld, %ld, %ld, %ld) and dy"
    _bad_shapes = "A[0] != Bd[1] || A[2] != 6 || A[3] != 6"
    _why = "w must be (F, C, 6, 6) with dy's F channels"
    _dims = ("Bd[0]", "A[1]", "2 * Bd[2]", "2 * Bd[3]")
    _kernel = ("cnt_grad_input(%(b)s, Bd[0], Bd[1], Bd[2], Bd[3], %(a)s, A[1], "
               "%(out)s, %(ws)s, %(amx)s, %(wino)s)")

    def make_node(self, w, dy):
        return self._node(self._check(w, dy))

    def infer_shape(self, fgraph, node, shapes):
        (_, C, _, _), (B, _, Ho, Wo) = shapes
        return [(B, C, 2 * Ho, 2 * Wo)]

    def grad(self, inputs, output_grads):
        w, dy = inputs
        (g,) = output_grads
        return [self._peer(Corr6x6S2GradWeights)(g, dy),
                self._peer(Corr6x6S2)(g, w)]

    def perform(self, node, inputs, outputs):
        w, dy = inputs
        B, F, Ho, Wo = dy.shape
        dx = np.zeros((B, w.shape[1], 2 * Ho + 4, 2 * Wo + 4), "float32")
        for kh in range(6):
            for kw in range(6):
                dx[:, :, kh:kh + 2 * Ho:2, kw:kw + 2 * Wo:2] += np.einsum(
                    "nfhw,fc->nchw", dy, w[:, :, kh, kw])
        outputs[0][0] = np.ascontiguousarray(dx[:, :, 2:-2, 2:-2])


class Corr6x6S2GradWeights(_Corr6x6S2Op):
    """``dw`` of :class:`Corr6x6S2` from x (B, C, H, W) and dy (B, F, H/2,
    W/2): (F, C, 6, 6). Sums over images in a fixed order (independent of
    the number of threads)."""

    _names = "x (%ld, %ld, %ld, %ld) and dy"
    _bad_shapes = ("A[0] != Bd[0] || A[2] % 2 || A[3] % 2 || A[2] < 2 || A[3] < 2 "
                   "|| Bd[2] != A[2] / 2 || Bd[3] != A[3] / 2")
    _why = "dy must be (B, F, H/2, W/2) for x (B, C, H, W), H and W even"
    _dims = ("Bd[1]", "A[1]", "6", "6")
    _kernel = ("cnt_grad_weights(%(a)s, A[0], A[1], A[2], A[3], %(b)s, Bd[1], "
               "%(out)s, %(ws)s, %(amx)s, %(wino)s)")

    def make_node(self, x, dy):
        return self._node(self._check(x, dy))

    def infer_shape(self, fgraph, node, shapes):
        (_, C, _, _), (_, F, _, _) = shapes
        return [(F, C, 6, 6)]

    def grad(self, inputs, output_grads):
        x, dy = inputs
        (g,) = output_grads
        return [self._peer(Corr6x6S2GradInputs)(g, dy),
                self._peer(Corr6x6S2)(x, g)]

    def perform(self, node, inputs, outputs):
        x, dy = inputs
        _, _, Ho, Wo = dy.shape
        xp = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
        dw = np.empty((dy.shape[1], x.shape[1], 6, 6), "float32")
        for kh in range(6):
            for kw in range(6):
                dw[:, :, kh, kw] = np.einsum(
                    "nchw,nfhw->fc", xp[:, :, kh:kh + 2 * Ho:2, kw:kw + 2 * Wo:2], dy)
        outputs[0][0] = dw


def corr6x6s2(x, w, isa=None):
    """Symbolic (B, C, H, W) x (F, C, 6, 6) -> (B, F, H/2, W/2)."""
    return Corr6x6S2(isa)(x, w)


def corr6x6s2_grad_inputs(w, dy, isa=None):
    """Symbolic transposed convolution: (F, C, 6, 6), (B, F, Ho, Wo) ->
    (B, C, 2 Ho, 2 Wo)."""
    return Corr6x6S2GradInputs(isa)(w, dy)


def corr6x6s2_grad_weights(x, dy, isa=None):
    """Symbolic (B, C, H, W), (B, F, H/2, W/2) -> (F, C, 6, 6)."""
    return Corr6x6S2GradWeights(isa)(x, dy)
