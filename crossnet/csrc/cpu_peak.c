/* This CPU's peak single-precision FLOP/s: a loop of independent FMAs.
 *
 * 12 accumulators of the widest SIMD vector the compiler targets (16 floats
 * with AVX-512, 8 with AVX, 4 otherwise) are updated as a = a * b + c, with
 * no memory traffic; 12 independent chains hide the FMA latency on every
 * x86 core of the last decade (latency 4-5 cycles x at most 2 units).
 * Built by crossnet/cpu_peak.py with -O2 -march=native -ffp-contract=fast. */
#include <time.h>

static double cn_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

#include "simd_width.h"
#define CN_LANES CN_SIMD_W
typedef float cn_vec __attribute__((vector_size(4 * CN_LANES)));

int cn_lanes(void) { return CN_LANES; }

/* Runs n iterations; returns the seconds taken. out[0..11] receives lane 1
 * of each accumulator (so the caller can check the arithmetic, and so the
 * loop cannot be optimised away). Accumulator k starts at s_k = (k + 1) *
 * 1e-3 in every lane. */
double cn_fma_loop(long n, float b_value, float c_value, float* out) {
    cn_vec a[12], b, c;
    for (int k = 0; k < 12; ++k)
        for (int i = 0; i < CN_LANES; ++i)
            a[k][i] = (k + 1) * 1e-3f;
    for (int i = 0; i < CN_LANES; ++i) {
        b[i] = b_value;
        c[i] = c_value;
    }
    cn_vec a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5];
    cn_vec a6 = a[6], a7 = a[7], a8 = a[8], a9 = a[9], a10 = a[10], a11 = a[11];
    double t0 = cn_now();
    for (long i = 0; i < n; ++i) {
        a0 = a0 * b + c; a1 = a1 * b + c; a2 = a2 * b + c; a3 = a3 * b + c;
        a4 = a4 * b + c; a5 = a5 * b + c; a6 = a6 * b + c; a7 = a7 * b + c;
        a8 = a8 * b + c; a9 = a9 * b + c; a10 = a10 * b + c; a11 = a11 * b + c;
    }
    double dt = cn_now() - t0;
    cn_vec r[12] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};
    for (int k = 0; k < 12; ++k)
        out[k] = r[k][1];
    return dt;
}
