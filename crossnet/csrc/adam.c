/* One Adam step over one parameter tensor, for crossnet/ops/adam.py's
 * AdamStep (built into a shared library, called through ctypes). All
 * arrays float32, ``n`` elements, C order; p, m, v are the old values, p1,
 * m1, v1 receive the new ones:
 *   m1 = beta1 m + (1 - beta1) g
 *   v1 = beta2 v + (1 - beta2) g^2
 *   p1 = p - a_t m1 / (epsilon + sqrt(v1))
 * with a_t = lr sqrt(1 - beta2^t) / (1 - beta1^t) computed by the caller:
 * the float32 operations, in the order, of aesara's fused elementwise
 * update. Large tensors are split over the OpenMP threads (elements are
 * independent: the result does not depend on the number of threads). */
#include <math.h>

void cn_adam_update(const float* g, const float* p, const float* m,
        const float* v, float* p1, float* m1, float* v1, long n, float a_t,
        float beta1, float beta2, float epsilon) {
    const float c1 = 1.0f - beta1, c2 = 1.0f - beta2;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= 65536)
#endif
    for (long i = 0; i < n; ++i) {
        const float gi = g[i];
        const float mi = beta1 * m[i] + c1 * gi;
        const float vi = beta2 * v[i] + c2 * (gi * gi);
        m1[i] = mi;
        v1[i] = vi;
        p1[i] = p[i] - (a_t * mi) / (epsilon + sqrtf(vi));
    }
}
