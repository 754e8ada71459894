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
import numpy as np

from ..backend import at
from aesara.graph.basic import Apply
from aesara.link.c.op import OpenMPOp

__all__ = ["Conv6x6S2", "conv6x6s2", "correlate6x6_s2p2", "hwio_kernel",
           "to_nhwc_pad2", "from_nhwc_pad2", "LAYOUTS"]

LAYOUTS = ("nchw", "nhwc_pad2")

# below this many multiply-adds per call a layer runs on one thread (the
# fork/join of a parallel region costs a few microseconds)
PARALLEL_MIN_MACS = 1 << 20


class Conv6x6S2(OpenMPOp):
    """``leaky_relu(correlate(pad(x, 2), w)[::2, ::2] + b)``.

    x: (B, C, H, W) for ``in_layout="nchw"``, or (B, H + 4, W + 4, C) with a
    zero border of 2 for ``"nhwc_pad2"``; w (6, 6, C, F); b (F,); output
    (B, F, H', W') or (B, H' + 4, W' + 4, F) by ``out_layout``, with
    H' = (H - 2) // 2 + 1. ``leak`` is the negative slope (1.0 = linear).
    float32 throughout.
    """

    __props__ = ("leak", "in_layout", "out_layout")

    def __init__(self, leak=0.2, in_layout="nchw", out_layout="nchw", openmp=True):
        for layout in (in_layout, out_layout):
            if layout not in LAYOUTS:
                raise ValueError("layout must be one of %s, got %r" % (LAYOUTS, layout))
        super().__init__(openmp=openmp)
        self.leak = float(leak)
        self.in_layout = in_layout
        self.out_layout = out_layout

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

    def c_compile_args(self, **kwargs):
        return super().c_compile_args(**kwargs) + ["-O3"]

    def c_code_cache_version(self):
        return (11, self.openmp)

    def c_support_code(self, **kwargs):
        return _SUPPORT_CODE

    def c_support_code_struct(self, node, name):
        return "float* pad_%(name)s; size_t pad_size_%(name)s;" % {"name": name}

    def c_init_code_struct(self, node, name, sub):
        return "pad_%(name)s = NULL; pad_size_%(name)s = 0;" % {"name": name}

    def c_cleanup_code_struct(self, node, name):
        return "free(pad_%(name)s); pad_%(name)s = NULL;" % {"name": name}

    def c_code(self, node, name, inputs, outputs, sub):
        x, w, b = inputs
        (out,) = outputs
        return _C_CODE % dict(
            x=x, w=w, b=b, out=out, name=name, leak=self.leak,
            fail=sub["fail"], in_nchw=int(self.in_layout == "nchw"),
            out_nchw=int(self.out_layout == "nchw"),
            min_macs=PARALLEL_MIN_MACS,
            omp_for=("#pragma omp parallel for schedule(static) if(par)"
                     if self.openmp else ""))


_SUPPORT_CODE = r"""
#ifndef CROSSNET_CONV6X6_SUPPORT
#define CROSSNET_CONV6X6_SUPPORT
/* 16 floats: one AVX-512 register (two AVX2 / four SSE registers) */
typedef float cn_v16 __attribute__((vector_size(64), aligned(64)));
typedef float cn_v16u __attribute__((vector_size(64), aligned(4)));
#ifdef __AVX512F__
#define CN_TILE 12      /* 24 accumulators + 2 weights of 32 zmm registers */
#else
#define CN_TILE 3       /* 6 x 2 ymm accumulators + weights of 16 registers */
#endif

/* One tile of T output pixels x 32 channels:
   out[t][0:32] = lrelu(b + sum_{kh, j} x[kh * xs_row + t * 2C + j] w[kh][j][0:32])
   x points at padded row 2 oh, column 2 ow0, channel 0 (channels-last);
   j runs over the 6 C contiguous (kw, c) inputs of a kernel row; w is the
   (6, 6, C, F) kernel offset to this tile's first output channel. */
#define CN_DEFINE_TILE(T)                                                      \
static inline void cn_tile_##T(const float* x, long xs_row, int C,             \
        const float* w, long F, const float* bias, float leak,                 \
        float* out, long out_step, int out_nchw) {                             \
    cn_v16 a0[T], a1[T];                                                        \
    _Pragma("GCC unroll 16")                                                   \
    for (int t = 0; t < T; ++t) { a0[t] = (cn_v16){0}; a1[t] = (cn_v16){0}; }  \
    const int L = 6 * C, ps = 2 * C;                                            \
    for (int kh = 0; kh < 6; ++kh) {                                            \
        const float* xr = x + kh * xs_row;                                      \
        const float* wr = w + (long)kh * L * F;                                 \
        for (int j = 0; j < L; ++j) {                                           \
            const cn_v16 w0 = *(const cn_v16u*)(wr + j * F);                    \
            const cn_v16 w1 = *(const cn_v16u*)(wr + j * F + 16);               \
            _Pragma("GCC unroll 16")                                           \
            for (int t = 0; t < T; ++t) {                                       \
                const float xv = xr[t * ps + j];                                \
                a0[t] += w0 * xv;                                               \
                a1[t] += w1 * xv;                                               \
            }                                                                   \
        }                                                                       \
    }                                                                           \
    const cn_v16 b0 = *(const cn_v16u*)bias, b1 = *(const cn_v16u*)(bias + 16); \
    _Pragma("GCC unroll 16")                                                   \
    for (int t = 0; t < T; ++t) {                                               \
        cn_v16 v0 = a0[t] + b0, v1 = a1[t] + b1;                                \
        v0 = v0 > 0 ? v0 : v0 * leak;                                           \
        v1 = v1 > 0 ? v1 : v1 * leak;                                           \
        if (out_nchw) {            /* out: [f][pixel], f stride out_step */     \
            for (int f = 0; f < 16; ++f) {                                      \
                out[f * out_step + t] = v0[f];                                  \
                out[(f + 16) * out_step + t] = v1[f];                           \
            }                                                                   \
        } else {                   /* out: [pixel][f], pixel stride out_step */ \
            *(cn_v16u*)(out + t * out_step) = v0;                               \
            *(cn_v16u*)(out + t * out_step + 16) = v1;                          \
        }                                                                       \
    }                                                                           \
}
CN_DEFINE_TILE(12)
CN_DEFINE_TILE(8)
CN_DEFINE_TILE(4)
CN_DEFINE_TILE(3)
CN_DEFINE_TILE(2)
CN_DEFINE_TILE(1)

/* One output row (all Wo pixels, all F channels) of one image. */
static void cn_conv_row(const float* xrow, long xs_row, int C, int Wo,
        const float* w, int F, const float* bias, float leak,
        float* orow, int out_nchw, long out_fstride) {
    for (int fb = 0; fb < F; fb += 32) {
        int ow = 0;
        while (ow < Wo) {
            const int left = Wo - ow;
            const int T = left >= CN_TILE ? CN_TILE : left >= 8 ? 8 : left >= 4 ? 4
                        : left >= 3 ? 3 : left >= 2 ? 2 : 1;
            const float* x = xrow + (long)ow * 2 * C;
            const float* wf = w + fb;
            float* o;
            long step;
            if (out_nchw) { o = orow + (long)fb * out_fstride + ow; step = out_fstride; }
            else { o = orow + (long)ow * F + fb; step = F; }
            switch (T) {
            case 12: cn_tile_12(x, xs_row, C, wf, F, bias + fb, leak, o, step, out_nchw); break;
            case 8: cn_tile_8(x, xs_row, C, wf, F, bias + fb, leak, o, step, out_nchw); break;
            case 4: cn_tile_4(x, xs_row, C, wf, F, bias + fb, leak, o, step, out_nchw); break;
            case 3: cn_tile_3(x, xs_row, C, wf, F, bias + fb, leak, o, step, out_nchw); break;
            case 2: cn_tile_2(x, xs_row, C, wf, F, bias + fb, leak, o, step, out_nchw); break;
            default: cn_tile_1(x, xs_row, C, wf, F, bias + fb, leak, o, step, out_nchw); break;
            }
            ow += T;
        }
    }
}
#endif
"""

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
const int Hp = H + 4, Wp = Wd + 4;
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
    /* channels-last copy with a zero border of 2, kept between calls */
    const size_t need = (size_t)B * Hp * Wp * C + 16;   /* > 0 for B = 0 */
    if (pad_size_%(name)s < need) {
        free(pad_%(name)s);
        if (posix_memalign((void**)&pad_%(name)s, 64, sizeof(float) * need) != 0)
            pad_%(name)s = NULL;
        pad_size_%(name)s = pad_%(name)s ? need : 0;
        if (!pad_%(name)s) { PyErr_NoMemory(); ok = 0; }
    }
    if (ok) {
        float* p = pad_%(name)s;
        const float* src = (const float*)PyArray_DATA(xc);
        memset(p, 0, sizeof(float) * need);
        for (int n = 0; n < B; ++n)
            for (int c = 0; c < C; ++c)
                for (int i = 0; i < H; ++i) {
                    const float* s = src + (((size_t)n * C + c) * H + i) * Wd;
                    float* d = p + (((size_t)n * Hp + i + 2) * Wp + 2) * C + c;
                    for (int j = 0; j < Wd; ++j) d[(size_t)j * C] = s[j];
                }
        xp = p;
    }
} else if (ok) {
    xp = (const float*)PyArray_DATA(xc);
}
if (ok) {
    const float* wt = (const float*)PyArray_DATA(wc);
    const float* bias = (const float*)PyArray_DATA(bc);
    float* o = (float*)PyArray_DATA(%(out)s);
    const float leak = %(leak)r;
    const long rows = (long)B * Ho;
    const int par = (double)rows * Wo * F * C * 36 >= %(min_macs)d;
    const long xs_row = (long)Wp * C;
    const int Hq = Ho + 4, Wq = Wo + 4;
    if (!out_nchw) {     /* zero border rows of the padded output */
        for (int n = 0; n < B; ++n) {
            float* on = o + (size_t)n * Hq * Wq * F;
            memset(on, 0, sizeof(float) * 2 * Wq * F);
            memset(on + (size_t)(Ho + 2) * Wq * F, 0, sizeof(float) * 2 * Wq * F);
        }
    }
    %(omp_for)s
    for (long r = 0; r < rows; ++r) {
        const int n = r / Ho, oh = r %% Ho;
        const float* xrow = xp + ((size_t)n * Hp + 2 * oh) * xs_row;
        if (out_nchw) {
            float* orow = o + ((size_t)n * F * Ho + oh) * Wo;
            cn_conv_row(xrow, xs_row, C, Wo, wt, F, bias, leak, orow, 1, (long)Ho * Wo);
        } else {
            float* prow = o + (((size_t)n * Hq) + oh + 2) * Wq * F;
            memset(prow, 0, sizeof(float) * 2 * F);
            memset(prow + (size_t)(Wo + 2) * F, 0, sizeof(float) * 2 * F);
            cn_conv_row(xrow, xs_row, C, Wo, wt, F, bias, leak, prow + 2 * F, 0, 0);
        }
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
