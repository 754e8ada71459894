/* Batch normalisation over (batch, rows, columns) of (B, C, H, W) float32,
 * with the (leaky) ReLU after it, forward and backward.
 * Used by crossnet/ops/batch_norm.py (read at import, compiled by aesara).
 *
 *   stats:     mean[c] = sum x / N,  inv_std[c] = 1 / sqrt(sum (x - mean)^2 / N + eps)
 *   act:       y = z > 0 ? z : leak z,  z = (x - mean[c]) gamma[c] inv_std[c] + beta[c]
 *   act grad:  g' = gy (z > 0 ? 1 : leak);  dx = g' gamma inv_std,
 *              dmean = -gamma inv_std sum g',  dinv_std = gamma sum g' (x - mean),
 *              dgamma = inv_std sum g' (x - mean),  dbeta = sum g'
 *   stats grad: dx = gmean / N - ginv_std inv_std^3 (x - mean) / N
 * with N = B H W; the statistics in one pass over x (moments of blocks
 * merged, cnb_plane_moments). Sums are over one channel, in blocks of 256 floats
 * (vectorised) added in double, in a fixed order, one channel per OpenMP
 * iteration: the results do not depend on the number
 * of threads. Elementwise passes run in parallel over (image, channel) planes.
 */
#ifndef CROSSNET_BATCH_NORM
#define CROSSNET_BATCH_NORM
#include <math.h>

/* sum over blocks of CNB_BLOCK floats (vectorised, in float), then in double */
#define CNB_BLOCK 256

/* Running (count, mean, sum of squared deviations) of one channel, merged
   block by block (Chan, Golub and LeVeque): each block of CNB_BLOCK floats
   is summed, then centred on its own mean while it is in L1, so x is read
   from memory once and nothing cancels. */
static void cnb_plane_moments(const float* p, long P, double* cnt, double* mean,
                              double* m2) {
    for (long i0 = 0; i0 < P; i0 += CNB_BLOCK) {
        const long i1 = i0 + CNB_BLOCK < P ? i0 + CNB_BLOCK : P;
        float part = 0.0f, part2 = 0.0f;
        #pragma omp simd reduction(+:part)
        for (long i = i0; i < i1; ++i) part += p[i];
        const double nb = (double)(i1 - i0), mb = part / nb;
        const float mf = (float)mb;
        #pragma omp simd reduction(+:part2)
        for (long i = i0; i < i1; ++i) {
            const float d = p[i] - mf;
            part2 += d * d;
        }
        const double n = *cnt + nb, delta = mb - *mean;
        *mean += delta * nb / n;
        *m2 += part2 + delta * delta * *cnt * nb / n;
        *cnt = n;
    }
}

static void cnb_stats(const float* x, int B, int C, long P, double eps,
                      float* mean, float* inv_std) {
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; ++c) {
        double n = 0.0, m = 0.0, m2 = 0.0;
        for (int b = 0; b < B; ++b)
            cnb_plane_moments(x + ((size_t)b * C + c) * P, P, &n, &m, &m2);
        mean[c] = (float)m;
        inv_std[c] = (float)(1.0 / sqrt(m2 / n + eps));
    }
}

static void cnb_act(const float* x, int B, int C, long P, const float* mean,
                    const float* inv_std, const float* gamma, const float* beta,
                    float leak, float* y) {
    #pragma omp parallel for schedule(static)
    for (long pl = 0; pl < (long)B * C; ++pl) {
        const int c = pl % C;
        const float s = gamma[c] * inv_std[c], m = mean[c], b = beta[c];
        const float* p = x + (size_t)pl * P;
        float* q = y + (size_t)pl * P;
        #pragma omp simd
        for (long i = 0; i < P; ++i) {
            const float z = (p[i] - m) * s + b;
            q[i] = z > 0.0f ? z : leak * z;
        }
    }
}

/* out: dx (B, C, P), and per channel dmean, dinv_std, dgamma, dbeta */
static void cnb_act_grad(const float* x, const float* gy, int B, int C, long P,
                         const float* mean, const float* inv_std,
                         const float* gamma, const float* beta, float leak,
                         float* dx, float* dmean, float* dinv_std,
                         float* dgamma, float* dbeta) {
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; ++c) {
        const float s = gamma[c] * inv_std[c], m = mean[c], b = beta[c];
        double sg = 0.0, sgx = 0.0;
        for (int n = 0; n < B; ++n) {
            const size_t off = ((size_t)n * C + c) * P;
            const float* p = x + off;
            const float* g = gy + off;
            float* d = dx + off;
            for (long i0 = 0; i0 < P; i0 += CNB_BLOCK) {
                const long i1 = i0 + CNB_BLOCK < P ? i0 + CNB_BLOCK : P;
                float pg = 0.0f, pgx = 0.0f;
                #pragma omp simd reduction(+:pg, pgx)
                for (long i = i0; i < i1; ++i) {
                    const float xc = p[i] - m;
                    const float z = xc * s + b;
                    const float gp = z > 0.0f ? g[i] : leak * g[i];
                    d[i] = gp * s;
                    pg += gp;
                    pgx += gp * xc;
                }
                sg += pg;
                sgx += pgx;
            }
        }
        dmean[c] = (float)(-(double)s * sg);
        dinv_std[c] = (float)((double)gamma[c] * sgx);
        dgamma[c] = (float)((double)inv_std[c] * sgx);
        dbeta[c] = (float)sg;
    }
}

/* dx = base + (the statistics' part of the gradient); base may be NULL */
static void cnb_stats_grad(const float* x, int B, int C, long P,
                           const float* mean, const float* inv_std,
                           const float* gmean, const float* ginv_std,
                           const float* base, float* dx) {
    const float invN = (float)(1.0 / ((double)B * P));
    #pragma omp parallel for schedule(static)
    for (long pl = 0; pl < (long)B * C; ++pl) {
        const int c = pl % C;
        const float is = inv_std[c];
        const float a = gmean[c] * invN;
        const float k = -ginv_std[c] * is * is * is * invN;
        const float m = mean[c];
        const float* p = x + (size_t)pl * P;
        float* d = dx + (size_t)pl * P;
        if (base) {
            const float* b = base + (size_t)pl * P;
            #pragma omp simd
            for (long i = 0; i < P; ++i) d[i] = b[i] + (a + k * (p[i] - m));
        } else {
            #pragma omp simd
            for (long i = 0; i < P; ++i) d[i] = a + k * (p[i] - m);
        }
    }
}
#endif
