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
 * (vectorised) added in double, in a fixed order: the results do not depend
 * on the number of threads.
 *
 * Elementwise passes run in parallel over (image, channel) planes, in a
 * static split: each thread reads the images the convolution before it
 * wrote (its output rows are split over images), from its own cache. So do
 * the statistics and the sums of the backward pass when x has at least
 * CNB_SPLIT_MIN floats: they keep each block's float sums (a small scratch
 * array) and add them per channel afterwards, in the order one channel at
 * a time would (bit-identical); a smaller x, which stays in cache, is read
 * one channel at a time. Read per channel, half of a large x came from the
 * other core's cache: the statistics of 25 x 32 x 32 x 32 floats took 190
 * us on 2 threads after a write split over images against 103 us after a
 * write split by channels.
 */
#ifndef CROSSNET_BATCH_NORM
#define CROSSNET_BATCH_NORM
#include <math.h>
#include <stdlib.h>

/* sum over blocks of CNB_BLOCK floats (vectorised, in float), then in double */
#define CNB_BLOCK 256

/* end of the block that starts at i0 in a plane of P floats */
static inline long cnb_block_end(long i0, long P) {
    return i0 + CNB_BLOCK < P ? i0 + CNB_BLOCK : P;
}

/* Sums of one block p[i0, i1): its float sum, and the float sum of squared
   deviations from its own mean (rounded to float), while it is in L1. */
static inline void cnb_block_moments(const float* p, long i0, long i1,
                                     float* sum, float* sum2) {
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
    *sum = part;
    *sum2 = part2;
}

/* Running (count, mean, sum of squared deviations) of one channel, a block
   of nb floats (sums from cnb_block_moments) merged in (Chan, Golub and
   LeVeque): x is read from memory once and nothing cancels. */
static inline void cnb_merge_block(double* cnt, double* mean, double* m2,
                                   float part, float part2, long nb_) {
    const double nb = (double)nb_, mb = part / nb;
    const double n = *cnt + nb, delta = mb - *mean;
    *mean += delta * nb / n;
    *m2 += part2 + delta * delta * *cnt * nb / n;
    *cnt = n;
}

static void cnb_plane_moments(const float* p, long P, double* cnt, double* mean,
                              double* m2) {
    for (long i0 = 0; i0 < P; i0 += CNB_BLOCK) {
        const long i1 = cnb_block_end(i0, P);
        float part, part2;
        cnb_block_moments(p, i0, i1, &part, &part2);
        cnb_merge_block(cnt, mean, m2, part, part2, i1 - i0);
    }
}

static long cnb_blocks(long P) { return (P + CNB_BLOCK - 1) / CNB_BLOCK; }

/* below this many floats x stays in cache: one pass per channel (no
   scratch array, one parallel region); the result is the same */
#define CNB_SPLIT_MIN 65536L

/* scratch for two float sums per block of every plane, or NULL (small x,
   or out of memory: the caller then reads one channel at a time) */
static float* cnb_block_scratch(long planes, long P) {
    if (planes * P < CNB_SPLIT_MIN) return NULL;
    return (float*)malloc(sizeof(float) * 2 * planes * cnb_blocks(P));
}

static void cnb_stats(const float* x, int B, int C, long P, double eps,
                      float* mean, float* inv_std) {
    const long K = cnb_blocks(P), planes = (long)B * C;
    float* sums = cnb_block_scratch(planes, P);
    if (sums) {
        #pragma omp parallel for schedule(static)
        for (long pl = 0; pl < planes; ++pl)
            for (long k = 0; k < K; ++k) {
                const long i0 = k * CNB_BLOCK;
                cnb_block_moments(x + (size_t)pl * P, i0,
                                  cnb_block_end(i0, P),
                                  sums + 2 * (pl * K + k),
                                  sums + 2 * (pl * K + k) + 1);
            }
    }
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; ++c) {
        double n = 0.0, m = 0.0, m2 = 0.0;
        for (int b = 0; b < B; ++b) {
            if (!sums) {        /* small x: read the channel here */
                cnb_plane_moments(x + ((size_t)b * C + c) * P, P, &n, &m, &m2);
                continue;
            }
            const float* q = sums + 2 * ((long)b * C + c) * K;
            for (long k = 0; k < K; ++k) {
                const long i0 = k * CNB_BLOCK;
                cnb_merge_block(&n, &m, &m2, q[2 * k], q[2 * k + 1],
                                cnb_block_end(i0, P) - i0);
            }
        }
        mean[c] = (float)m;
        inv_std[c] = (float)(1.0 / sqrt(m2 / n + eps));
    }
    free(sums);
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

/* One block of act grad: d[i] = g'[i] s over [i0, i1), and the float sums
   of g' and g' (x - mean) */
static inline void cnb_act_grad_block(const float* p, const float* g, float* d,
                                      long i0, long i1, float m, float s,
                                      float b, float leak, float* sum_g,
                                      float* sum_gx) {
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
    *sum_g = pg;
    *sum_gx = pgx;
}

/* out: dx (B, C, P), and per channel dmean, dinv_std, dgamma, dbeta */
static void cnb_act_grad(const float* x, const float* gy, int B, int C, long P,
                         const float* mean, const float* inv_std,
                         const float* gamma, const float* beta, float leak,
                         float* dx, float* dmean, float* dinv_std,
                         float* dgamma, float* dbeta) {
    const long K = cnb_blocks(P), planes = (long)B * C;
    float* sums = cnb_block_scratch(planes, P);
    if (sums) {
        #pragma omp parallel for schedule(static)
        for (long pl = 0; pl < planes; ++pl) {
            const int c = pl % C;
            const size_t off = (size_t)pl * P;
            for (long k = 0; k < K; ++k) {
                const long i0 = k * CNB_BLOCK;
                cnb_act_grad_block(x + off, gy + off, dx + off, i0,
                                   cnb_block_end(i0, P),
                                   mean[c], gamma[c] * inv_std[c], beta[c],
                                   leak, sums + 2 * (pl * K + k),
                                   sums + 2 * (pl * K + k) + 1);
            }
        }
    }
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; ++c) {
        const float s = gamma[c] * inv_std[c], m = mean[c], b = beta[c];
        double sg = 0.0, sgx = 0.0;
        for (int n = 0; n < B; ++n) {
            const size_t off = ((size_t)n * C + c) * P;
            for (long k = 0; k < K; ++k) {
                const long i0 = k * CNB_BLOCK;
                float pg, pgx;
                if (sums) {
                    const float* q = sums + 2 * (((long)n * C + c) * K + k);
                    pg = q[0];
                    pgx = q[1];
                } else {    /* small x: this channel's blocks here */
                    cnb_act_grad_block(x + off, gy + off, dx + off, i0,
                                       cnb_block_end(i0, P),
                                       m, s, b, leak, &pg, &pgx);
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
    free(sums);
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
