"""A direct inference Op: 6x6 convolution, stride 2, pad 2, + bias + leaky ReLU.

Why: at batch 1 the posterior path is five 6x6 / stride-2 / pad-2
convolutions with 32 output channels; aesara's ``CorrMM`` (im2col + gemm)
spent about half of its time building the column matrix, and a gemm with 32
rows uses the SIMD units poorly. This Op computes the convolution directly,
with no column matrix:

* activations between these Ops are kept channels-last with the zero padding
  already in place (layout ``"nhwc_pad2"``: (B, H + 4, W + 4, C)), so the
  6 x C inputs under one kernel row are contiguous in memory;
* the kernel is taken as (6, 6, C, F) ("HWIO"), so the 32 output channels of
  one tap are one contiguous 128-byte vector;
* a tile of up to 12 output pixels x 32 channels is accumulated in 24
  16-float vector registers (GCC vector extensions: one AVX-512 register
  each, pairs of AVX2 registers elsewhere), each input value broadcast once
  per tile: 2 x 12 fused multiply-adds per two weight loads;
* bias and leaky ReLU are applied to the registers before one store;
* output rows are spread over OpenMP threads (BLAS is not used, so its
  threads do not compete for the cores).

Orientation: cross-correlation with ``w`` (6, 6, C, F); for a true
convolution with a Lasagne/Theano kernel W (F, C, 6, 6) pass
``hwio_kernel(W, flip=True)``. Inference only (no gradient).
"""
import os

import numpy as np

from ..backend import at
from aesara.graph.basic import Apply

from .csource import PortableSourceOp

__all__ = ["Conv6x6S2", "conv6x6s2", "correlate6x6_s2p2", "hwio_kernel",
           "to_nhwc_pad2", "from_nhwc_pad2", "LAYOUTS"]

LAYOUTS = ("nchw", "nhwc_pad2")

# below this many multiply-adds per call a layer runs on one thread (the
# fork/join of a parallel region costs a few microseconds)
PARALLEL_MIN_MACS = 1 << 20
# from this many multiply-adds per call a layer with 32k input and output
# channels and 16k output columns runs on AMX (bf16x3, where the CPU has it
# and ``amx``): a whole batch, not one frame (batch 1 keeps the FMA path)
AMX_MIN_MACS = 1 << 27
_SOURCE = "conv6x6s2_infer.c"
# the first includes the others
_SOURCES = (_SOURCE, "conv6x6s2_train.c", "conv6x6s2_amx.c",
            "conv6x6s2_winograd.c", "simd_width.h")


def _env_on(name):
    return os.environ.get(name, "1").strip() not in ("0", "no", "false", "off")


def amx_default():
    """Whether the convolution Ops (inference and training) use AMX (bf16x3)
    where the CPU has it: yes unless the environment sets ``CROSSNET_AMX=0``."""
    return _env_on("CROSSNET_AMX")


def winograd_default():
    """Whether the convolution Ops (inference and training) use Winograd
    F(4x4, 3x3) on the float32 path where the shapes fit: yes unless
    ``CROSSNET_WINOGRAD=0``."""
    return _env_on("CROSSNET_WINOGRAD")


class Conv6x6S2(PortableSourceOp):
    """``leaky_relu(correlate(pad(x, 2), w)[::2, ::2] + b)``.

    x: (B, C, H, W) for ``in_layout="nchw"``, or (B, H + 4, W + 4, C) with a
    zero border of 2 for ``"nhwc_pad2"``; w (6, 6, C, F); b (F,); output
    (B, F, H', W') or (B, H' + 4, W' + 4, F) by ``out_layout``, with
    H' = (H - 2) // 2 + 1. ``leak`` is the negative slope (1.0 = linear).
    float32 throughout. ``amx`` (default: on unless ``CROSSNET_AMX=0``):
    large channels-last layers on AMX tile products where the CPU has them
    (``AMX_MIN_MACS``; about 1e-5 relative instead of float32's 1e-7).
    ``winograd`` (default: on unless ``CROSSNET_WINOGRAD=0``): layers with
    16-channel blocks and at least 16 output columns (the 32 x 32 and 16 x
    16 outputs of the posterior path at 128 x 128) as Winograd F(4x4, 3x3)
    on the input's polyphase components (``csrc/conv6x6s2_winograd.c``;
    the transformed kernel is kept between calls; about 1e-5 relative).
    ``isa``: the instruction set of the build (default ``$CROSSNET_ISA``,
    else "native"; see :func:`crossnet.ops.csource.isa_default`).
    """

    __props__ = ("leak", "in_layout", "out_layout", "amx", "winograd", "isa")
    sources = _SOURCES
    version = 14

    def __init__(self, leak=0.2, in_layout="nchw", out_layout="nchw", openmp=True,
                 amx=None, winograd=None, isa=None):
        for layout in (in_layout, out_layout):
            if layout not in LAYOUTS:
                raise ValueError("layout must be one of %s, got %r" % (LAYOUTS, layout))
        super().__init__(openmp=openmp)
        self.leak = float(leak)
        self.in_layout = in_layout
        self.out_layout = out_layout
        self._set_isa(isa)
        self.amx = bool(amx_default() if amx is None else amx) and self.isa == "native"
        self.winograd = bool(winograd_default() if winograd is None else winograd)

    def make_node(self, x, w, b):
        x = at.as_tensor_variable(x)
        w = at.as_tensor_variable(w)
        b = at.as_tensor_variable(b)
        if (x.ndim, w.ndim, b.ndim) != (4, 4, 1):
            raise ValueError("Conv6x6S2 takes x (4-d), w (4-d), b (1-d); got "
                             "%d-d, %d-d, %d-d" % (x.ndim, w.ndim, b.ndim))
        if {x.dtype, w.dtype, b.dtype} != {"float32"}:
            raise TypeError("Conv6x6S2 is float32 only")
        out = at.TensorType("float32", shape=(None,) * 4)()
        return Apply(self, [x, w, b], [out])

    def infer_shape(self, fgraph, node, shapes):
        xs, ws, _ = shapes
        if self.in_layout == "nchw":
            B, H, W = xs[0], xs[2], xs[3]
        else:
            B, H, W = xs[0], xs[1] - 4, xs[2] - 4
        F = ws[3]
        Ho, Wo = (H - 2) // 2 + 1, (W - 2) // 2 + 1
        if self.out_layout == "nchw":
            return [(B, F, Ho, Wo)]
        return [(B, Ho + 4, Wo + 4, F)]

    def grad(self, inputs, output_grads):
        raise NotImplementedError("Conv6x6S2 is an inference Op; train with "
                                  "crossnet.nn.Conv2DLayer")

    def perform(self, node, inputs, outputs):
        x, w, b = inputs
        if self.in_layout == "nhwc_pad2":
            x = from_nhwc_pad2(x)
        y = correlate6x6_s2p2(x, np.transpose(w, (3, 2, 0, 1))) \
            + b[None, :, None, None]
        y = np.where(y > 0, y, self.leak * y).astype("float32")
        outputs[0][0] = to_nhwc_pad2(y) if self.out_layout == "nhwc_pad2" else y

    # -- C implementation -------------------------------------------------
    def c_headers(self, **kwargs):
        return ["<string.h>", "<stdlib.h>"] + super().c_headers(**kwargs)

    def c_support_code_struct(self, node, name):
        return ("float* pad_%(name)s; size_t pad_size_%(name)s; cnt_ws ws_%(name)s;"
                % {"name": name})

    def c_init_code_struct(self, node, name, sub):
        return ("pad_%(name)s = NULL; pad_size_%(name)s = 0; cnt_ws_init(&ws_%(name)s);"
                % {"name": name})

    def c_cleanup_code_struct(self, node, name):
        return ("free(pad_%(name)s); pad_%(name)s = NULL; cnt_ws_free(&ws_%(name)s);"
                % {"name": name})

    def c_code(self, node, name, inputs, outputs, sub):
        x, w, b = inputs
        (out,) = outputs
        return _C_CODE % dict(
            x=x, w=w, b=b, out=out, name=name, leak=self.leak,
            fail=sub["fail"], in_nchw=int(self.in_layout == "nchw"),
            out_nchw=int(self.out_layout == "nchw"),
            min_macs=PARALLEL_MIN_MACS, openmp=int(bool(self.openmp)),
            amx=int(self.amx and bool(self.openmp)), amx_min_macs=AMX_MIN_MACS,
            wino=int(self.winograd))




_C_CODE = r"""
{
PyArrayObject* xc = PyArray_GETCONTIGUOUS(%(x)s);
PyArrayObject* wc = PyArray_GETCONTIGUOUS(%(w)s);
PyArrayObject* bc = PyArray_GETCONTIGUOUS(%(b)s);
int ok = 1;
const int in_nchw = %(in_nchw)d, out_nchw = %(out_nchw)d;
const int B = PyArray_DIMS(xc)[0];
const int C = in_nchw ? PyArray_DIMS(xc)[1] : PyArray_DIMS(xc)[3];
const int H = in_nchw ? PyArray_DIMS(xc)[2] : PyArray_DIMS(xc)[1] - 4;
const int Wd = in_nchw ? PyArray_DIMS(xc)[3] : PyArray_DIMS(xc)[2] - 4;
const int F = PyArray_DIMS(wc)[3];
if (PyArray_DIMS(wc)[0] != 6 || PyArray_DIMS(wc)[1] != 6
        || PyArray_DIMS(wc)[2] != C || PyArray_DIMS(bc)[0] != F
        || F %% 32 != 0 || H < 2 || Wd < 2) {
    PyErr_Format(PyExc_ValueError,
        "Conv6x6S2: x %%s (%%d, %%d, %%d, %%d), w (%%ld, %%ld, %%ld, %%ld) and b (%%ld) "
        "do not fit a (6, 6, C, F) kernel with F a multiple of 32 over C channels",
        in_nchw ? "nchw" : "nhwc_pad2",
        (int)PyArray_DIMS(xc)[0], (int)PyArray_DIMS(xc)[1],
        (int)PyArray_DIMS(xc)[2], (int)PyArray_DIMS(xc)[3],
        (long)PyArray_DIMS(wc)[0], (long)PyArray_DIMS(wc)[1],
        (long)PyArray_DIMS(wc)[2], (long)PyArray_DIMS(wc)[3],
        (long)PyArray_DIMS(bc)[0]);
    ok = 0;
}
const int Ho = (H - 2) / 2 + 1, Wo = (Wd - 2) / 2 + 1;
if (ok) {
    npy_intp dims[4];
    dims[0] = B;
    if (out_nchw) { dims[1] = F; dims[2] = Ho; dims[3] = Wo; }
    else { dims[1] = Ho + 4; dims[2] = Wo + 4; dims[3] = F; }
    if (!%(out)s || PyArray_NDIM(%(out)s) != 4
            || PyArray_DIMS(%(out)s)[0] != dims[0] || PyArray_DIMS(%(out)s)[1] != dims[1]
            || PyArray_DIMS(%(out)s)[2] != dims[2] || PyArray_DIMS(%(out)s)[3] != dims[3]
            || !PyArray_IS_C_CONTIGUOUS(%(out)s)) {
        Py_XDECREF(%(out)s);
        %(out)s = (PyArrayObject*)PyArray_EMPTY(4, dims, NPY_FLOAT32, 0);
        if (!%(out)s) ok = 0;
    }
}
const float* xp = NULL;
if (ok && in_nchw) {
    xp = cn_pack_nchw((const float*)PyArray_DATA(xc), B, C, H, Wd,
                      &pad_%(name)s, &pad_size_%(name)s);
    if (!xp) { PyErr_NoMemory(); ok = 0; }
} else if (ok) {
    xp = (const float*)PyArray_DATA(xc);
}
if (ok) {
    const double macs = (double)B * Ho * Wo * F * C * 36;
    int done = 0;
#if CNT_HAVE_AMX
    if (%(amx)d && !out_nchw && macs >= %(amx_min_macs)d && H %% 2 == 0
            && Wd %% 2 == 0 && cn_amx_fits(C, F, Wo) && cnt_amx_usable())
        done = cn_amx_conv_nhwc(xp, B, C, H, Wd, (const float*)PyArray_DATA(wc), F,
                                (const float*)PyArray_DATA(bc), %(leak)r,
                                (float*)PyArray_DATA(%(out)s), &ws_%(name)s) == 0;
#endif
    if (!done && %(wino)d && H %% 2 == 0 && Wd %% 2 == 0 && cnw_fits(C, F, Ho, Wo))
        done = cnw_forward(xp, 1, B, C, H, Wd, (const float*)PyArray_DATA(wc), 1, F,
                           6L * C * F, (long)C * F, F, (const float*)PyArray_DATA(bc),
                           %(leak)r, (float*)PyArray_DATA(%(out)s), !out_nchw,
                           &ws_%(name)s) == 0;
    if (!done) {
        const int par = %(openmp)d && macs >= %(min_macs)d;
        cn_conv_layer(xp, B, C, H, Wd, (const float*)PyArray_DATA(wc), F,
                      (const float*)PyArray_DATA(bc), %(leak)r,
                      (float*)PyArray_DATA(%(out)s), out_nchw, par);
    }
}
Py_XDECREF(xc); Py_XDECREF(wc); Py_XDECREF(bc);
if (!ok) { %(fail)s }
}
"""


def conv6x6s2(x, w, b, leak=0.2, in_layout="nchw", out_layout="nchw"):
    """Symbolic direct 6x6 / stride 2 / pad 2 correlation + bias + leaky
    ReLU; ``w`` is (6, 6, C, F) (see :func:`hwio_kernel`)."""
    return Conv6x6S2(leak, in_layout, out_layout)(x, w, b)


def hwio_kernel(W, flip=True):
    """(F, C, 6, 6) Lasagne kernel -> (6, 6, C, F) float32 for Conv6x6S2;
    ``flip=True`` for a true convolution (Lasagne's flip_filters)."""
    W = np.asarray(W, dtype="float32")
    if flip:
        W = W[:, :, ::-1, ::-1]
    return np.ascontiguousarray(np.transpose(W, (2, 3, 1, 0)))


def to_nhwc_pad2(x):
    """(B, C, H, W) -> (B, H + 4, W + 4, C) with a zero border of 2."""
    x = np.transpose(np.asarray(x, dtype="float32"), (0, 2, 3, 1))
    return np.ascontiguousarray(np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0))))


def from_nhwc_pad2(x):
    """(B, H + 4, W + 4, C) -> (B, C, H, W) (the border is dropped)."""
    return np.ascontiguousarray(np.transpose(x[:, 2:-2, 2:-2, :], (0, 3, 1, 2)))


def correlate6x6_s2p2(x, W):
    """numpy: cross-correlation of (B, C, H, W) with (F, C, 6, 6), stride 2,
    pad 2 (im2col through stride tricks + matmul) -> (B, F, H', W')."""
    B, C, H, Wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    Ho, Wo = (H - 2) // 2 + 1, (Wd - 2) // 2 + 1
    s = xp.strides
    cols = np.lib.stride_tricks.as_strided(
        xp, (B, C, 6, 6, Ho, Wo), (s[0], s[1], s[2], s[3], 2 * s[2], 2 * s[3]))
    y = np.matmul(W.reshape(len(W), -1), cols.reshape(B, C * 36, Ho * Wo))
    return y.reshape(B, -1, Ho, Wo)
