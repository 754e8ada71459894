/* Elementwise tanh of float32, vectorised and over OpenMP threads.
 * Used by crossnet/ops/elementwise.py (read at import, compiled by aesara).
 *
 * libm's tanhf is a scalar call (through expm1f) of about 40 ns; the
 * generator's output layer runs it on every pixel of every fake depth map
 * (a 64x64 batch of 50: 8 ms of a stage-3b step on one thread). Here, a
 * native vector at a time (GCC vector extensions: 16 lanes in one AVX-512
 * register, 8 in an AVX one, 4 in SSE; wider vectors than the target's
 * registers are kept in memory, 4x slower on AVX2):
 *   |x| < 0.625:  x + x^3 P(x^2)           (Cephes tanhf, degree-4 P)
 *   otherwise:    sign(x) (1 - e) / (1 + e),  e = exp(-2 |x|), |x| <= 9
 *                 (tanh(9) is 1 in float32), exp by Cephes expf: 2^n
 *                 times a degree-6 polynomial of the remainder.
 * About 2 float32 ulp against tanh in double; NaN stays NaN, +-inf -> +-1.
 */
#ifndef CROSSNET_TANH
#define CROSSNET_TANH
#include <string.h>

#include "simd_width.h"
#define CNH_W CN_SIMD_W
typedef float cnh_vn __attribute__((vector_size(4 * CNH_W)));
typedef int cnh_in __attribute__((vector_size(4 * CNH_W)));

static inline cnh_vn cnh_splat(float a) {
    cnh_vn r;
    for (int i = 0; i < CNH_W; ++i) r[i] = a;
    return r;
}

/* exp(y) for -18.5 <= y <= 0 */
static inline cnh_vn cnh_exp_neg(cnh_vn y) {
    const cnh_vn n = __builtin_convertvector(
        __builtin_convertvector(y * cnh_splat(1.44269504088896341f)
                                - cnh_splat(0.5f), cnh_in), cnh_vn);
    /* y = n ln2 + r, ln2 in two parts so that n ln2 is exact */
    const cnh_vn r = y - n * cnh_splat(0.693359375f)
                      - n * cnh_splat(-2.12194440e-4f);
    cnh_vn p = cnh_splat(1.9875691500e-4f);
    p = p * r + cnh_splat(1.3981999507e-3f);
    p = p * r + cnh_splat(8.3334519073e-3f);
    p = p * r + cnh_splat(4.1665795894e-2f);
    p = p * r + cnh_splat(1.6666665459e-1f);
    p = p * r + cnh_splat(5.0000001201e-1f);
    p = p * (r * r) + r + cnh_splat(1.0f);
    /* times 2^n: n + 127 into the exponent field */
    const cnh_in e = (__builtin_convertvector(n, cnh_in) + 127) << 23;
    cnh_vn scale;
    memcpy(&scale, &e, sizeof(scale));
    return p * scale;
}

static inline cnh_vn cnh_tanh_vn(cnh_vn x) {
    const cnh_vn ax = x < 0 ? -x : x;
    const cnh_vn z = x * x;
    cnh_vn small = cnh_splat(-5.70498872745e-3f);
    small = small * z + cnh_splat(2.06390887954e-2f);
    small = small * z + cnh_splat(-5.37397155531e-2f);
    small = small * z + cnh_splat(1.33314422036e-1f);
    small = small * z + cnh_splat(-3.33332819422e-1f);
    small = small * z * x + x;
    const cnh_vn e = cnh_exp_neg(-2.0f * (ax < 9.0f ? ax : cnh_splat(9.0f)));
    cnh_vn large = (1.0f - e) / (1.0f + e);
    large = x < 0 ? -large : large;
    cnh_vn out = ax < 0.625f ? small : large;
    return x != x ? x : out;                    /* NaN */
}

/* y[i] = tanh(x[i]), i < n */
static void cnh_tanh(const float* x, long n, float* y) {
    const long nv = n / CNH_W;
    #pragma omp parallel for schedule(static) if (n > 32768)
    for (long b = 0; b < nv; ++b) {
        cnh_vn v;
        memcpy(&v, x + CNH_W * b, sizeof(v));
        v = cnh_tanh_vn(v);
        memcpy(y + CNH_W * b, &v, sizeof(v));
    }
    if (n > CNH_W * nv) {                       /* the tail, zero-padded */
        cnh_vn v = cnh_splat(0.0f);
        memcpy(&v, x + CNH_W * nv, sizeof(float) * (n - CNH_W * nv));
        v = cnh_tanh_vn(v);
        memcpy(y + CNH_W * nv, &v, sizeof(float) * (n - CNH_W * nv));
    }
}
#endif
