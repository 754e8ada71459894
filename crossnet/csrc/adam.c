/* One Adam step over one parameter tensor, for crossnet/ops/adam.py's
 * AdamStep (built into a shared library, called through ctypes). All
 * arrays float32, ``n`` elements, C order; p, m, v are the old values, p1,
 * m1, v1 receive the new ones:
 *   m1 = beta1 m + (1 - beta1) g
 *   v1 = beta2 v + (1 - beta2) g^2
 *   p1 = p - a_t m1 / (epsilon + sqrt(v1))
 * with a_t = lr sqrt(1 - beta2^t) / (1 - beta1^t) computed by the caller:
 * the float32 operations, in the order, of aesara's fused elementwise
 * update. Large tensors are split over the OpenMP threads in blocks
 * (elements are independent: the result does not depend on the number of
 * threads). */
#include <math.h>

/* elements [i0, i1): "omp simd" vectorises the loop (gcc alone does not:
   it would need run-time checks of 7 pointers for overlap) */
static void cn_adam_range(const float* g, const float* p, const float* m,
        const float* v, float* p1, float* m1, float* v1, long i0, long i1,
        float a_t, float beta1, float beta2, float epsilon) {
    const float c1 = 1.0f - beta1, c2 = 1.0f - beta2;
#pragma omp simd
    for (long i = i0; i < i1; ++i) {
        const float gi = g[i];
        const float mi = beta1 * m[i] + c1 * gi;
        const float vi = beta2 * v[i] + c2 * (gi * gi);
        m1[i] = mi;
        v1[i] = vi;
        p1[i] = p[i] - (a_t * mi) / (epsilon + sqrtf(vi));
    }
}

#define CN_ADAM_BLOCK 16384

void cn_adam_update(const float* g, const float* p, const float* m,
        const float* v, float* p1, float* m1, float* v1, long n, float a_t,
        float beta1, float beta2, float epsilon) {
    if (n < 4 * CN_ADAM_BLOCK) {
        cn_adam_range(g, p, m, v, p1, m1, v1, 0, n, a_t, beta1, beta2,
                      epsilon);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (long b = 0; b < (n + CN_ADAM_BLOCK - 1) / CN_ADAM_BLOCK; ++b) {
        const long i0 = b * CN_ADAM_BLOCK;
        cn_adam_range(g, p, m, v, p1, m1, v1, i0,
                      i0 + CN_ADAM_BLOCK < n ? i0 + CN_ADAM_BLOCK : n, a_t,
                      beta1, beta2, epsilon);
    }
}
