"""A fused inference Op: 6x6 convolution, stride 2, pad 2, + bias + leaky ReLU.

Why: at batch 1 aesara's ``CorrMM`` spends about half of its time in a
generic im2col (a division and a modulo per element); for the posterior
path's 6x6 / stride 2 / pad 2 layers this Op builds the column matrix with
a specialised loop (row copies with stride 2, zeros only at the borders,
optionally spread over OpenMP threads), calls the same ``sgemm_`` aesara links
(its BLAS, or its NumPy C-API gemm), then adds the bias and applies the
leaky ReLU in place. No intermediate arrays between the three steps.

Kernel orientation: cross-correlation with ``W`` (F, C, 6, 6); to compute a
true convolution pass ``W[:, :, ::-1, ::-1]``. Inference only (no gradient).
The column buffer persists in the Op's C struct between calls.
"""
import numpy as np

from ..backend import at
from aesara.graph.basic import Apply
from aesara.link.c.op import OpenMPOp
from aesara.tensor import blas_headers
from aesara.tensor.blas import blas_header_version, ldflags

__all__ = ["Conv6x6S2", "conv6x6s2", "correlate6x6_s2p2"]


class Conv6x6S2(OpenMPOp):
    """``leaky_relu(correlate(pad(x, 2), W)[::2, ::2] + b)``.

    x (B, C, H, W) float32, W (F, C, 6, 6), b (F,) -> (B, F, H', W') with
    H' = (H + 4 - 6) // 2 + 1. ``leak`` is the negative slope (1.0 = linear).
    """

    __props__ = ("leak",)

    def __init__(self, leak=0.2, openmp=False):
        # OpenMP off by default: measured on 2 cores, its threads fight the
        # BLAS threads of the gemm (conv2 at batch 1: 2.1 ms with, 0.68 ms
        # without)
        super().__init__(openmp=openmp)
        self.leak = float(leak)

    def make_node(self, x, w, b):
        x = at.as_tensor_variable(x)
        w = at.as_tensor_variable(w)
        b = at.as_tensor_variable(b)
        if (x.ndim, w.ndim, b.ndim) != (4, 4, 1):
            raise ValueError("Conv6x6S2 takes x (4-d), W (4-d), b (1-d); got "
                             "%d-d, %d-d, %d-d" % (x.ndim, w.ndim, b.ndim))
        if {x.dtype, w.dtype, b.dtype} != {"float32"}:
            raise TypeError("Conv6x6S2 is float32 only")
        out = at.TensorType("float32", shape=(None,) * 4)()
        return Apply(self, [x, w, b], [out])

    def infer_shape(self, fgraph, node, shapes):
        (B, C, H, W), (F, _, _, _), _ = shapes
        return [(B, F, (H + 4 - 6) // 2 + 1, (W + 4 - 6) // 2 + 1)]

    def grad(self, inputs, output_grads):
        raise NotImplementedError("Conv6x6S2 is an inference Op; train with "
                                  "crossnet.nn.Conv2DLayer")

    def perform(self, node, inputs, outputs):
        x, w, b = inputs
        y = correlate6x6_s2p2(x, w) + b[None, :, None, None]
        outputs[0][0] = np.where(y > 0, y, self.leak * y).astype("float32")

    # -- C implementation -------------------------------------------------
    def c_support_code(self, **kwargs):
        return blas_headers.blas_header_text()

    def c_libraries(self, **kwargs):
        return ldflags()

    def c_compile_args(self, **kwargs):
        return ldflags(libs=False, flags=True) + super().c_compile_args(**kwargs) \
            + ["-O3"]

    def c_lib_dirs(self, **kwargs):
        return ldflags(libs=False, libs_dir=True)

    def c_header_dirs(self, **kwargs):
        return ldflags(libs=False, include_dir=True)

    def c_headers(self, **kwargs):
        return ["<string.h>", "<stdlib.h>"] + super().c_headers(**kwargs)

    def c_code_cache_version(self):
        return (4, self.openmp, blas_header_version())

    def c_support_code_struct(self, node, name):
        return "float* col_%(name)s; size_t col_size_%(name)s;" % {"name": name}

    def c_init_code_struct(self, node, name, sub):
        return "col_%(name)s = NULL; col_size_%(name)s = 0;" % {"name": name}

    def c_cleanup_code_struct(self, node, name):
        return "free(col_%(name)s); col_%(name)s = NULL;" % {"name": name}

    def c_code(self, node, name, inputs, outputs, sub):
        x, w, b = inputs
        (out,) = outputs
        omp = "#pragma omp parallel for schedule(static)" if self.openmp else ""
        return """
        {
        PyArrayObject* xc = PyArray_GETCONTIGUOUS(%(x)s);
        PyArrayObject* wc = PyArray_GETCONTIGUOUS(%(w)s);
        PyArrayObject* bc = PyArray_GETCONTIGUOUS(%(b)s);
        int ok = 1;
        const int B = PyArray_DIMS(xc)[0], C = PyArray_DIMS(xc)[1];
        const int H = PyArray_DIMS(xc)[2], Wd = PyArray_DIMS(xc)[3];
        const int F = PyArray_DIMS(wc)[0];
        if (PyArray_DIMS(wc)[1] != C || PyArray_DIMS(wc)[2] != 6
                || PyArray_DIMS(wc)[3] != 6 || PyArray_DIMS(bc)[0] != F
                || H < 2 || Wd < 2) {
            PyErr_Format(PyExc_ValueError,
                "Conv6x6S2: x (%%d, %%d, %%d, %%d), W (%%ld, %%ld, %%ld, %%ld) and "
                "b (%%ld) do not fit a 6x6 kernel over C channels",
                B, C, H, Wd, (long)PyArray_DIMS(wc)[0], (long)PyArray_DIMS(wc)[1],
                (long)PyArray_DIMS(wc)[2], (long)PyArray_DIMS(wc)[3],
                (long)PyArray_DIMS(bc)[0]);
            ok = 0;
        }
        const int Ho = (H - 2) / 2 + 1, Wo = (Wd - 2) / 2 + 1;
        const int K = C * 36, N = Ho * Wo;
        if (ok) {
            npy_intp dims[4] = {B, F, Ho, Wo};
            if (!%(out)s || PyArray_NDIM(%(out)s) != 4
                    || PyArray_DIMS(%(out)s)[0] != B || PyArray_DIMS(%(out)s)[1] != F
                    || PyArray_DIMS(%(out)s)[2] != Ho || PyArray_DIMS(%(out)s)[3] != Wo
                    || !PyArray_IS_C_CONTIGUOUS(%(out)s)) {
                Py_XDECREF(%(out)s);
                %(out)s = (PyArrayObject*)PyArray_EMPTY(4, dims, NPY_FLOAT32, 0);
                if (!%(out)s) ok = 0;
            }
        }
        if (ok && col_size_%(name)s < (size_t)K * N) {
            free(col_%(name)s);
            /* 64-byte aligned: whole cache lines, aligned AVX-512 loads */
            if (posix_memalign((void**)&col_%(name)s, 64,
                               sizeof(float) * (size_t)K * N) != 0)
                col_%(name)s = NULL;
            col_size_%(name)s = col_%(name)s ? (size_t)K * N : 0;
            if (!col_%(name)s) { PyErr_NoMemory(); ok = 0; }
        }
        if (ok) {
            const float* xin = (const float*)PyArray_DATA(xc);
            const float* wt = (const float*)PyArray_DATA(wc);
            const float* bias = (const float*)PyArray_DATA(bc);
            float* col = col_%(name)s;
            const float leak = %(leak)r;
            for (int n = 0; n < B; ++n) {
                const float* img = xin + (size_t)n * C * H * Wd;
                %(omp)s
                for (int r = 0; r < K; ++r) {
                    const int c = r / 36, kh = (r %% 36) / 6, kw = r %% 6;
                    const float* src = img + (size_t)c * H * Wd;
                    float* dst = col + (size_t)r * N;
                    /* ow with 0 <= 2 ow + kw - 2 < Wd */
                    int ow0 = (kw >= 2) ? 0 : (3 - kw) / 2;
                    int ow1 = (Wd + 1 - kw) / 2 + 1;
                    if (ow1 > Wo) ow1 = Wo;
                    for (int oh = 0; oh < Ho; ++oh) {
                        float* d = dst + (size_t)oh * Wo;
                        const int ih = 2 * oh + kh - 2;
                        if (ih < 0 || ih >= H) { memset(d, 0, sizeof(float) * Wo); continue; }
                        const float* s = src + (size_t)ih * Wd + kw - 2;
                        for (int ow = 0; ow < ow0; ++ow) d[ow] = 0.f;
                        for (int ow = ow0; ow < ow1; ++ow) d[ow] = s[2 * ow];
                        for (int ow = ow1; ow < Wo; ++ow) d[ow] = 0.f;
                    }
                }
                float* o = (float*)PyArray_DATA(%(out)s) + (size_t)n * F * N;
                {
                    char nt = 'N';
                    int Ni = N, Fi = F, Ki = K;
                    float one = 1.f, zero = 0.f;
                    sgemm_(&nt, &nt, &Ni, &Fi, &Ki, &one, col, &Ni,
                           (float*)wt, &Ki, &zero, o, &Ni);
                }
                %(omp)s
                for (int f = 0; f < F; ++f) {
                    float* of = o + (size_t)f * N;
                    const float bf = bias[f];
                    for (int i = 0; i < N; ++i) {
                        const float v = of[i] + bf;
                        of[i] = v > 0.f ? v : leak * v;
                    }
                }
            }
        }
        Py_XDECREF(xc); Py_XDECREF(wc); Py_XDECREF(bc);
        if (!ok) { %(fail)s }
        }
        """ % dict(x=x, w=w, b=b, out=out, name=name, omp=omp,
                   leak=self.leak, fail=sub["fail"])


def conv6x6s2(x, w, b, leak=0.2):
    """Symbolic fused 6x6 / stride 2 / pad 2 correlation + bias + leaky ReLU."""
    return Conv6x6S2(leak)(x, w, b)


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
