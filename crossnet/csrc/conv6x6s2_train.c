/* Direct 6x6 / stride-2 / pad-2 cross-correlation for training: forward,
 * gradient with respect to the input, gradient with respect to the weights.
 * Used by crossnet/ops/conv_train.py (read at import, compiled by aesara).
 *
 * Shapes (all float32, C order, NCHW at the interface):
 *   x  (B, C, H, W), H and W even          w  (F, C, 6, 6) correlation kernel
 *   y  (B, F, H/2, W/2):  y[n,f,i,j] = sum_{c,kh,kw} xpad[n,c,2i+kh,2j+kw] w[f,c,kh,kw]
 * with xpad = x with a zero border of 2.  The input gradient is the adjoint
 * (a transposed convolution), the weight gradient the correlation of xpad
 * with dy.
 *
 * Inside a call the data is repacked channels-last with its zero border, so
 * that the 6 C inputs under one kernel row (or the 3 F inputs under one row
 * of an input-gradient sub-kernel) are contiguous, and the kernel so that
 * the output channels of one tap are one contiguous vector.  A tile of T
 * output pixels x (16 NV) channels is accumulated in T NV vectors of 16
 * floats (GCC vector extensions of the native width, cnt_vn: one AVX-512
 * register, two AVX or four SSE registers), each input value broadcast
 * once per tile.
 *
 * The input gradient splits into four stride-1 3x3 correlations of the
 * padded dy, one per parity (pi, pj) of the output pixel:
 *   dx[2a+pi, 2b+pj] = sum_{r,s<3} sum_f dyp[a+r, b+s, f] w[f, c, pi+4-2r, pj+4-2s]
 * with dyp = dy with a zero border of 1.  With fewer than 16 input channels
 * (the first layer of the discriminator, the last of the generator) it is
 * vectorised over pixels instead of channels.
 *
 * The weight gradient sums over images in fixed chunks, then over chunks in
 * order, so its result does not depend on the number of threads. With
 * fewer than 16 input channels it too is vectorised over pixels, reading dy
 * where it is (cnt_grad_weights_few).
 *
 * ISA: the tile sizes follow the vector registers the compiler targets
 * (AVX-512: 32 registers; otherwise the 16 of AVX or SSE); the arithmetic is
 * the same on every path (up to the rounding of fused multiply-adds).
 */
#ifndef CROSSNET_CONV6X6S2_TRAIN
#define CROSSNET_CONV6X6S2_TRAIN
#include <stdlib.h>
#include <string.h>

/* The native vector: CNT_VW floats, one register of the ISA the compiler
   targets (simd_width.h). The kernels count channels (or pixels) in
   vectors of 16, each CNT_VPER native ones. (Written with 64-byte vectors
   throughout, these kernels ran 7-24x slower on AVX2 than with native
   ones: GCC kept them in memory.) */
#include "simd_width.h"
#define CNT_VW CN_SIMD_W
#define CNT_VPER (16 / CNT_VW)
typedef float cnt_vn __attribute__((vector_size(4 * CNT_VW), aligned(4 * CNT_VW)));
typedef float cnt_vnu __attribute__((vector_size(4 * CNT_VW), aligned(4)));
typedef int cnt_in __attribute__((vector_size(4 * CNT_VW)));
/* shuffle masks interleaving two native vectors a, b: a0 b0 a1 b1 ... */
#if CNT_VW == 16
#define CNT_ZIP_LO {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23}
#define CNT_ZIP_HI {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31}
#elif CNT_VW == 8
#define CNT_ZIP_LO {0, 8, 1, 9, 2, 10, 3, 11}
#define CNT_ZIP_HI {4, 12, 5, 13, 6, 14, 7, 15}
#else
#define CNT_ZIP_LO {0, 4, 1, 5}
#define CNT_ZIP_HI {2, 6, 3, 7}
#endif

#ifdef __AVX512F__
#define CNT_TMAX 12     /* pixels per tile with 2 vectors of channels */
#define CNT_JMAX 12     /* weight-gradient inputs per block */
#else
#define CNT_TMAX 3
#define CNT_JMAX 3
#endif

/* the workspace (cnt_ws) and the AMX (bf16x3) kernels, chosen at run time
   where the CPU has them */
#include "conv6x6s2_amx.c"

/* ---- packing ---------------------------------------------------------- */

/* Row pr of the padded channels-last copy of image n: (W + 2p, C) floats
   of x's row pr - p (zeros outside x) with p zero pixels at each end; the
   interior by 16 x 16 transposes. */
static void cnt_pack_row(const float* x, int n, int C, int H, int W, int p,
                         int pr, float* d) {
    const int i = pr - p, Wp = W + 2 * p;
    if (i < 0 || i >= H) { memset(d, 0, sizeof(float) * Wp * C); return; }
    memset(d, 0, sizeof(float) * p * C);
    memset(d + (size_t)(W + p) * C, 0, sizeof(float) * p * C);
    cnt_transpose(x + ((size_t)n * C * H + i) * W, (long)H * W,
                  d + (size_t)p * C, C, C, W);
}

/* (B, C, H, W) -> (B, H + 2p, W + 2p, C) with a zero border of p. */
static void cnt_pack_nhwc(const float* x, int B, int C, int H, int W, int p,
                          float* out) {
    const int Hp = H + 2 * p, Wp = W + 2 * p;
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < (long)B * Hp; ++r)
        cnt_pack_row(x, r / Hp, C, H, W, p, r % Hp, out + (size_t)r * Wp * C);
}

/* (C, H, W) -> (C, H + 2, Wq) with a zero border of 1: rows of Wq >= W + 2
   floats, zeros past W + 1 (one image, in the calling thread). */
static void cnt_pad1_image(const float* x, int C, int H, int W, int Wq,
                           float* out) {
    const int Hq = H + 2;
    for (int c = 0; c < C; ++c) {
        float* d = out + (size_t)c * Hq * Wq;
        const float* s = x + (size_t)c * H * W;
        memset(d, 0, sizeof(float) * Wq);
        for (int i = 0; i < H; ++i) {
            float* row = d + (size_t)(i + 1) * Wq;
            row[0] = 0.0f;
            memcpy(row + 1, s + (size_t)i * W, sizeof(float) * W);
            memset(row + W + 1, 0, sizeof(float) * (Wq - W - 1));
        }
        memset(d + (size_t)(H + 1) * Wq, 0, sizeof(float) * Wq);
    }
}

static int cnt_round16(int n) { return (n + 15) / 16 * 16; }

/* ---- the tile: T pixels x NV vectors of 16 output channels -------------
   acc[t][v] = sum_{r<R} sum_{j<L} x[r xs_row + t ps + j] w[(r L + j) ws + 16 v]
   (plus out's values when `add`), then out[t o_ps + 16 v + k] = acc[t][v][k]:
   the tile is stored as whole
   vectors, channels-last, into a row buffer (the callers transpose it
   into NCHW: scattered single-float stores had cost a third of a tile). */
#define CNT_DEFINE_TILE(T, NV)                                                 \
static inline void cnt_tile_##T##_##NV(const float* x, long xs_row, int R,    \
        int L, long ps, const float* w, long ws, float* out, long o_ps,        \
        int add) {                                                             \
    enum { NW = NV * CNT_VPER };    /* native vectors of 16 NV channels */     \
    cnt_vn acc[T][NW];                                                         \
    _Pragma("GCC unroll 32")                                                  \
    for (int t = 0; t < T; ++t)                                                \
        for (int v = 0; v < NW; ++v)                                           \
            acc[t][v] = add ? *(const cnt_vnu*)(out + t * o_ps + CNT_VW * v)   \
                            : (cnt_vn){0};                                     \
    for (int r = 0; r < R; ++r) {                                              \
        const float* xr = x + r * xs_row;                                      \
        const float* wr = w + (long)r * L * ws;                                \
        for (int j = 0; j < L; ++j) {                                          \
            cnt_vn wv[NW];                                                     \
            for (int v = 0; v < NW; ++v)                                       \
                wv[v] = *(const cnt_vnu*)(wr + j * ws + CNT_VW * v);           \
            _Pragma("GCC unroll 32")                                          \
            for (int t = 0; t < T; ++t) {                                      \
                const float xv = xr[t * ps + j];                               \
                for (int v = 0; v < NW; ++v) acc[t][v] += wv[v] * xv;          \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    for (int t = 0; t < T; ++t)                                                \
        for (int v = 0; v < NW; ++v)                                           \
            *(cnt_vnu*)(out + t * o_ps + CNT_VW * v) = acc[t][v];              \
}
CNT_DEFINE_TILE(12, 2)
CNT_DEFINE_TILE(8, 2)
CNT_DEFINE_TILE(4, 2)
CNT_DEFINE_TILE(3, 2)
CNT_DEFINE_TILE(2, 2)
CNT_DEFINE_TILE(1, 2)
CNT_DEFINE_TILE(12, 1)
CNT_DEFINE_TILE(8, 1)
CNT_DEFINE_TILE(4, 1)
CNT_DEFINE_TILE(3, 1)
CNT_DEFINE_TILE(2, 1)
CNT_DEFINE_TILE(1, 1)

/* One row of npix output pixels x all wsz (a multiple of 16) packed
   channels, into out[pixel o_ps + channel] (added to it when `add`). */
static void cnt_row_acc(const float* x, long xs_row, int R, int L, long ps,
                        int npix, const float* w, int wsz, float* out,
                        long o_ps, int add) {
    for (int cb = 0; cb < wsz; cb += 32) {
        const int nv = wsz - cb >= 32 ? 2 : 1;
        int p = 0;
        while (p < npix) {
            const int T = cnt_tile_width(npix - p, CNT_TMAX);
            const float* xp = x + p * ps;
            const float* wp = w + cb;
            float* o = out + cb + p * o_ps;
#define CNT_CALL(TT) \
    if (nv == 2) cnt_tile_##TT##_2(xp, xs_row, R, L, ps, wp, wsz, o, o_ps, add); \
    else cnt_tile_##TT##_1(xp, xs_row, R, L, ps, wp, wsz, o, o_ps, add); break;
            switch (T) {
            case 12: CNT_CALL(12)
            case 8: CNT_CALL(8)
            case 4: CNT_CALL(4)
            case 3: CNT_CALL(3)
            case 2: CNT_CALL(2)
            default: CNT_CALL(1)
            }
#undef CNT_CALL
            p += T;
        }
    }
}

static void cnt_row(const float* x, long xs_row, int R, int L, long ps,
                    int npix, const float* w, int wsz, float* out, long o_ps) {
    cnt_row_acc(x, xs_row, R, L, ps, npix, w, wsz, out, o_ps, 0);
}

/* Per-thread row buffers: buffer `i` of the workspace holds one of `n`
   floats for each OpenMP thread; the calling thread's, or NULL. */
#ifdef _OPENMP
#include <omp.h>
#endif
static float* cnt_ws_threads(cnt_ws* ws, int i, size_t n) {
#ifdef _OPENMP
    const int nt = omp_get_max_threads();
#else
    const int nt = 1;
#endif
    n = (n + 15) / 16 * 16;
    return cnt_ws_get(ws, i, n * nt);
}

static float* cnt_thread_buffer(float* base, size_t n) {
    n = (n + 15) / 16 * 16;
#ifdef _OPENMP
    return base + n * omp_get_thread_num();
#else
    return base;
#endif
}

#define CNT_MAX_CHUNKS 16     /* partial sums of the weight gradients */

/* part[0 .. K) = sum over the nchunks partial sums part[ch K ..], added in
   chunk order (0 + p0 + p1 + ...: the same floats in every thread
   count), contiguous blocks in parallel */
static void cnt_sum_chunks(float* part, size_t K, int nchunks) {
    #pragma omp parallel for schedule(static)
    for (long b = 0; b < (long)((K + 1023) / 1024); ++b) {
        const size_t e0 = (size_t)b * 1024, e1 = e0 + 1024 < K ? e0 + 1024 : K;
        for (int ch = 1; ch < nchunks; ++ch) {
            const float* q = part + (size_t)ch * K;
            #pragma omp simd
            for (size_t e = e0; e < e1; ++e) part[e] += q[e];
        }
    }
}

#include "conv6x6s2_winograd.c"

/* ---- forward with few input channels -----------------------------------
   (the first layer of the discriminator): vectorised over 16 output pixels
   of a row instead of over channels, reading column-parity rows of the
   padded input, xq[n][c][r][pw][v] = xpad[n][c][r][2 v + pw] (v < Wo + 2,
   then 16 zeros of slack).  ws buffers: 0 the parity rows, 1 the kernel
   tap-major. */
#ifdef __AVX512F__
#define CNT_FB 16       /* output channels per pass: accumulator registers */
#else
#define CNT_FB 4
#endif

/* xq (ws buffer 0) <- the column-parity rows of x padded by 2; NULL when
   out of memory. Rows of 2 Wr floats, Wr = cnt_parity_row(W). */
static int cnt_parity_row(int W) {
    /* W / 2 + 2 columns, then at least 16 zeros of slack; a multiple of 16
       floats, so that every row of xq starts 64-byte aligned */
    return cnt_round16(W / 2 + 2) + 16;
}

static float* cnt_pack_parity_rows(const float* x, int B, int C, int H, int W,
                                   cnt_ws* ws) {
    const int Hp = H + 4, Wr = cnt_parity_row(W);
    float* xq = cnt_ws_get(ws, 0, (size_t)B * C * Hp * 2 * Wr);
    if (!xq) return NULL;
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < (long)B * C * Hp; ++r) {
        float* d = xq + (size_t)r * 2 * Wr;
        const int i = r % Hp - 2;
        memset(d, 0, sizeof(float) * 2 * Wr);
        if (i < 0 || i >= H) continue;
        const float* s = x + ((size_t)(r / Hp) * H + i) * W;
        for (int j = 0; j < W; ++j) d[((j + 2) & 1) * Wr + ((j + 2) >> 1)] = s[j];
    }
    return xq;
}

static int cnt_forward_few(const float* x, int B, int C, int H, int W,
                           const float* w, int F, float* y, cnt_ws* ws) {
    const int Hp = H + 4, Ho = H / 2, Wo = W / 2, Wr = cnt_parity_row(W);
    const int Fp = (F + CNT_FB - 1) / CNT_FB * CNT_FB;
    const float* xq = cnt_pack_parity_rows(x, B, C, H, W, ws);
    /* wq[(c 6 + kh) 6 + kw][f] = w[f][c][kh][kw], f < Fp (zeros past F):
       the CNT_FB weights of a tap next to each other */
    float* wq = cnt_ws_get(ws, 1, (size_t)C * 36 * Fp);
    if (!xq || !wq) return -1;
    for (int k = 0; k < C * 36; ++k)
        for (int f = 0; f < Fp; ++f)
            wq[(size_t)k * Fp + f] = f < F ? w[(size_t)f * C * 36 + k] : 0.0f;
    const long rows = (long)B * Ho;
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; ++r) {
        const int n = r / Ho, oh = r % Ho;
        for (int f0 = 0; f0 < F; f0 += CNT_FB) {
            const int nf = F - f0 < CNT_FB ? F - f0 : CNT_FB;
            for (int j0 = 0; j0 < Wo; j0 += 16) {
                cnt_vn acc[CNT_FB][CNT_VPER];
                for (int k = 0; k < CNT_FB; ++k)
                    for (int u = 0; u < CNT_VPER; ++u) acc[k][u] = (cnt_vn){0};
                for (int c = 0; c < C; ++c)
                    for (int kh = 0; kh < 6; ++kh) {
                        const float* row = xq + (((size_t)n * C + c) * Hp + 2 * oh + kh) * 2 * Wr + j0;
                        const float* wk = wq + ((size_t)c * 6 + kh) * 6 * Fp + f0;
                        for (int kw = 0; kw < 6; ++kw) {
                            const float* xr = row + (kw & 1) * Wr + (kw >> 1);
                            cnt_vn xv[CNT_VPER];
                            for (int u = 0; u < CNT_VPER; ++u)
                                xv[u] = *(const cnt_vnu*)(xr + CNT_VW * u);
                            for (int k = 0; k < CNT_FB; ++k)
                                for (int u = 0; u < CNT_VPER; ++u)
                                    acc[k][u] += xv[u] * wk[kw * Fp + k];
                        }
                    }
                const int nj = Wo - j0 < 16 ? Wo - j0 : 16;
                for (int k = 0; k < nf; ++k) {
                    float* o = y + (((size_t)n * F + f0 + k) * Ho + oh) * Wo + j0;
                    if (nj == 16)
                        for (int u = 0; u < CNT_VPER; ++u)
                            *(cnt_vnu*)(o + CNT_VW * u) = acc[k][u];
                    else
                        for (int j = 0; j < nj; ++j) o[j] = acc[k][j / CNT_VW][j % CNT_VW];
                }
            }
        }
    }
    return 0;
}

/* ---- the kernel, packed for the direct tiles ---------------------------
   Over the threads, each thread reading whole (f, c) kernels from its
   cache. (Written one output channel at a time, 4 KB apart, these took
   100-180 us a call on their own, a third of a 4x4-output layer's
   forward.) */

/* wp[(kh 6 + kw) C + c][f] = w[f][c][kh][kw], zeros for F <= f < Fp */
static void cnt_pack_kernel_taps(const float* w, int F, int C, int Fp,
                                 float* wp) {
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; ++c)
        for (int k = 0; k < 36; ++k) {
            float* o = wp + ((size_t)k * C + c) * Fp;
            for (int f = 0; f < F; ++f) o[f] = w[((size_t)f * C + c) * 36 + k];
            for (int f = F; f < Fp; ++f) o[f] = 0.0f;
        }
}

/* kp[pi][pj][r][s][f][c] = w[f][c][pi + 4 - 2r][pj + 4 - 2s] (the input
   gradient's four parity sub-kernels), zeros for C <= c < Cp */
static void cnt_pack_kernel_parities(const float* w, int F, int C, int Cp,
                                     float* kp) {
    #pragma omp parallel for schedule(static)
    for (int f = 0; f < F; ++f)
        for (int q = 0; q < 36; ++q) {     /* q = ((pi 2 + pj) 3 + r) 3 + s */
            const int pi = q / 18, pj = (q / 9) % 2, r = (q / 3) % 3, s = q % 3;
            const int tap = (pi + 4 - 2 * r) * 6 + pj + 4 - 2 * s;
            float* o = kp + ((size_t)q * F + f) * Cp;
            const float* g = w + (size_t)f * C * 36 + tap;
            for (int c = 0; c < C; ++c) o[c] = g[(size_t)c * 36];
            for (int c = C; c < Cp; ++c) o[c] = 0.0f;
        }
}

/* ---- forward ----------------------------------------------------------
   ws buffers: 0 padded channels-last x, 1 packed kernel, 2 a row buffer
   per thread. 0 on success.
   amx: use the AMX kernels when the CPU, the OS and the shapes allow;
   wino: Winograd F(4x4, 3x3) on the float32 path where the shapes fit. */
static int cnt_forward(const float* x, int B, int C, int H, int W,
                       const float* w, int F, float* y, cnt_ws* ws, int amx,
                       int wino) {
#if CNT_HAVE_AMX
    if (amx && cnt_amx_usable()) {
        if (cnt_amx_forward_pm_fits(C, F, W / 2))
            return cnt_amx_forward_pm(x, B, C, H, W, w, F, y, ws);
        if (cnt_amx_forward_fits(C, F, W / 2))
            return cnt_amx_forward(x, B, C, H, W, w, F, y, ws);
        if (cnt_amx_forward_c1_fits(C, F, W))
            return cnt_amx_forward_c1(x, B, H, W, w, F, y, ws);
    }
#endif
    if (C < 16) return cnt_forward_few(x, B, C, H, W, w, F, y, ws);
    if (wino && cnw_fits(C, F, H / 2, W / 2))
        return cnw_forward(x, 0, B, C, H, W, w, 36L * C, 36, 6, 1, F, NULL, 1.0f,
                           y, 0, ws);
    const int Hp = H + 4, Wp = W + 4, Ho = H / 2, Wo = W / 2;
    const int Fp = cnt_round16(F);
    float* xp = cnt_ws_get(ws, 0, (size_t)B * Hp * Wp * C);
    float* wp = cnt_ws_get(ws, 1, (size_t)36 * C * Fp);
    if (!xp || !wp) return -1;
    cnt_pack_nhwc(x, B, C, H, W, 2, xp);
    cnt_pack_kernel_taps(w, F, C, Fp, wp);
    float* rowbufs = cnt_ws_threads(ws, 2, (size_t)Wo * Fp);
    if (!rowbufs) return -1;
    const long rows = (long)B * Ho;
    #pragma omp parallel
    {
        float* yb = cnt_thread_buffer(rowbufs, (size_t)Wo * Fp);   /* [pixel][f] */
        #pragma omp for schedule(static)
        for (long r = 0; r < rows; ++r) {
            const int n = r / Ho, oh = r % Ho;
            cnt_row(xp + ((size_t)n * Hp + 2 * oh) * Wp * C, (long)Wp * C, 6,
                    6 * C, 2 * C, Wo, wp, Fp, yb, Fp);
            cnt_transpose(yb, Fp, y + ((size_t)n * F * Ho + oh) * Wo,
                          (long)Ho * Wo, Wo, F);
        }
    }
    return 0;
}

/* ---- input gradient with few input channels ----------------------------
   One channel of a row pair (2a, 2a + 1) of dx, over npix <= 16 NV output
   column pairs: the four parities (pi, pj) in NV vectors of 16 pixels
   each, from the same loads of the padded dy (d: channel f's row a + r at
   d + f fs + r rs) with the taps k[f ks][(pi + 4 - 2r) 6 + pj + 4 - 2s];
   each output summed over f, then r, then s. The column parities are
   interleaved in registers and stored as whole vectors:
   o[pi W + 2 b + pj]. (One parity at a time, over 64 pixels whatever the
   row's width, it read each dy vector four times and half its products
   fell off the 32-column rows of the networks.) */
/* The dy vectors at columns s, s + 1, s + 2 of a row: with AVX-512, the
   row's aligned vectors loaded once and shifted in registers (three
   unaligned loads per vector, each across two cache lines, made the
   generator's last layer load-bound at a quarter of the FMA peak); else
   unaligned loads. The same values either way. */
#if CNT_VW == 16
#define CNT_GI_ROW_LOAD(src)                                                   \
    cnt_vn al[NW + 1];                                                         \
    _Pragma("GCC unroll 16")                                                   \
    for (int v = 0; v <= NW; ++v) al[v] = *(const cnt_vn*)((src) + 16 * v)
static const cnt_in cnt_shift1 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const cnt_in cnt_shift2 = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
#define CNT_GI_SHIFTED(src, s, v)                                              \
    ((s) == 0 ? al[v] : (s) == 1 ? __builtin_shuffle(al[v], al[(v) + 1], cnt_shift1) \
                                 : __builtin_shuffle(al[v], al[(v) + 1], cnt_shift2))
#else
#define CNT_GI_ROW_LOAD(src) do { } while (0)
#define CNT_GI_SHIFTED(src, s, v) (*(const cnt_vnu*)((src) + (s) + CNT_VW * (v)))
#endif
#define CNT_DEFINE_GI_FEW(NV)                                                  \
static inline void cnt_grad_input_few_##NV(const float* d, long fs, long rs,   \
        int F, const float* k, long ks, float* o, int W, int npix) {           \
    enum { NW = NV * CNT_VPER };    /* native vectors of 16 NV pixels */       \
    cnt_vn acc[4 * NW];             /* [parity pi 2 + pj][vector] */          \
    _Pragma("GCC unroll 16")                                                   \
    for (int e = 0; e < 4 * NW; ++e) acc[e] = (cnt_vn){0};                     \
    for (int f = 0; f < F; ++f)                                                \
        for (int r = 0; r < 3; ++r) {                                          \
            const float* src = d + f * fs + r * rs;                            \
            const float* kf = k + f * ks + (4 - 2 * r) * 6 + 4;                \
            CNT_GI_ROW_LOAD(src);                                              \
            _Pragma("GCC unroll 3")                                            \
            for (int s = 0; s < 3; ++s) {                                      \
                cnt_vn xv[NW];                                                 \
                _Pragma("GCC unroll 16")                                       \
                for (int v = 0; v < NW; ++v) xv[v] = CNT_GI_SHIFTED(src, s, v); \
                _Pragma("GCC unroll 4")                                        \
                for (int p = 0; p < 4; ++p) {                                  \
                    const float kv = kf[(p / 2) * 6 + p % 2 - 2 * s];          \
                    _Pragma("GCC unroll 16")                                   \
                    for (int v = 0; v < NW; ++v) acc[p * NW + v] += xv[v] * kv;\
                }                                                              \
            }                                                                  \
        }                                                                      \
    const cnt_in lo = CNT_ZIP_LO, hi = CNT_ZIP_HI;                             \
    for (int pi = 0; pi < 2; ++pi) {                                           \
        float* row = o + (long)pi * W;                                         \
        for (int v = 0; v < NW; ++v) {                                         \
            const cnt_vn a = __builtin_shuffle(acc[2 * pi * NW + v],           \
                                               acc[(2 * pi + 1) * NW + v], lo);\
            const cnt_vn b = __builtin_shuffle(acc[2 * pi * NW + v],           \
                                               acc[(2 * pi + 1) * NW + v], hi);\
            const int left = 2 * (npix - CNT_VW * v);   /* floats of this pair */\
            float* out = row + 2 * CNT_VW * v;                                 \
            if (left >= 2 * CNT_VW) {                                          \
                *(cnt_vnu*)out = a;                                            \
                *(cnt_vnu*)(out + CNT_VW) = b;                                 \
            } else {                                                           \
                for (int e = 0; e < left; ++e)                                 \
                    out[e] = e < CNT_VW ? a[e] : b[e - CNT_VW];                \
            }                                                                  \
        }                                                                      \
    }                                                                          \
}
CNT_DEFINE_GI_FEW(2)
CNT_DEFINE_GI_FEW(1)
/* vectors of 16 pixels per parity: the 4 NV sums and NV loads in registers
   (AVX-512: 32 registers; AVX and SSE hold a vector in 2 or 4) */
#ifdef __AVX512F__
#define CNT_GI_NV 2
#else
#define CNT_GI_NV 1
#endif

/* ---- input gradient ---------------------------------------------------
   dy (B, F, Ho, Wo), w (F, C, 6, 6) -> dx (B, C, 2 Ho, 2 Wo).
   ws buffers: 0 padded dy, 1 the four parity sub-kernels, 2 a row buffer
   per thread (C >= 16). */
static int cnt_grad_input(const float* dy, int B, int F, int Ho, int Wo,
                          const float* w, int C, float* dx, cnt_ws* ws, int amx,
                          int wino) {
#if CNT_HAVE_AMX
    if (amx && cnt_amx_usable()) {
        if (cnt_amx_grad_input_fits(F, C, Wo))
            return cnt_amx_grad_input(dy, B, F, Ho, Wo, w, C, dx, ws);
        if (cnt_amx_grad_input_c1_fits(F, C, Wo))
            return cnt_amx_grad_input_c1(dy, B, F, Ho, Wo, w, dx, ws);
    }
#endif
    if (wino && cnw_fits(F, C, Ho, Wo))
        return cnw_grad_input(dy, B, F, Ho, Wo, w, C, dx, ws);
    const int H = 2 * Ho, W = 2 * Wo, Hq = Ho + 2, Wq = Wo + 2;
    if (C >= 16) {
        const int Cp = cnt_round16(C);
        float* dyp = cnt_ws_get(ws, 0, (size_t)B * Hq * Wq * F);
        float* kp = cnt_ws_get(ws, 1, (size_t)4 * 9 * F * Cp);
        if (!dyp || !kp) return -1;
        cnt_pack_nhwc(dy, B, F, Ho, Wo, 1, dyp);
        cnt_pack_kernel_parities(w, F, C, Cp, kp);
        float* rowbufs = cnt_ws_threads(ws, 2, (size_t)W * Cp);
        if (!rowbufs) return -1;
        const long rows = (long)B * Ho * 2;
        #pragma omp parallel
        {
            float* xb = cnt_thread_buffer(rowbufs, (size_t)W * Cp);  /* [pixel][c] */
            #pragma omp for schedule(static)
            for (long q = 0; q < rows; ++q) {
                const int n = q / (2 * Ho), a = (q / 2) % Ho, pi = q % 2;
                for (int pj = 0; pj < 2; ++pj)   /* columns 2 b + pj */
                    cnt_row(dyp + ((size_t)n * Hq + a) * Wq * F, (long)Wq * F, 3,
                            3 * F, F, Wo, kp + (size_t)(pi * 2 + pj) * 9 * F * Cp,
                            Cp, xb + (size_t)pj * Cp, 2L * Cp);
                cnt_transpose(xb, Cp, dx + ((size_t)n * C * H + 2 * a + pi) * W,
                              (long)H * W, W, C);
            }
        }
        return 0;
    }
    /* few input channels: vectorise over 16 CNT_GI_NV pixels of a row, the
       four output parities of a row pair at once. Each thread pads the dy
       of the image its rows belong to into its own buffer, which stays in
       its cache (the whole batch padded first and read back from memory
       cost a fifth of the time: 4.3 -> 3.3-3.6 ms for the generator's last
       layer at batch 100, 64x64); the same values, the same sums. */
    const int Ws = cnt_round16(Wo + 2);        /* rows 64-byte aligned */
    const size_t img = (size_t)F * Hq * Ws;
    float* bufs = cnt_ws_threads(ws, 0, img);
    if (!bufs) return -1;
    const long rows = (long)B * Ho;
    #pragma omp parallel
    {
        float* dyq = cnt_thread_buffer(bufs, img);
        int padded = -1;                       /* the image in dyq */
        #pragma omp for schedule(static)
        for (long q = 0; q < rows; ++q) {
            const int n = q / Ho, a = q % Ho;
            if (n != padded) {
                cnt_pad1_image(dy + (size_t)n * F * Ho * Wo, F, Ho, Wo, Ws, dyq);
                padded = n;
            }
            for (int c = 0; c < C; ++c)
                for (int b0 = 0; b0 < Wo; b0 += 16 * CNT_GI_NV) {
                    const float* d = dyq + (size_t)a * Ws + b0;
                    float* o = dx + (((size_t)n * C + c) * H + 2 * a) * W + 2 * b0;
                    const int npix = Wo - b0 < 16 * CNT_GI_NV ? Wo - b0 : 16 * CNT_GI_NV;
                    if (npix > 16)
                        cnt_grad_input_few_2(d, (long)Hq * Ws, Ws, F, w + (size_t)c * 36,
                                             36L * C, o, W, npix);
                    else
                        cnt_grad_input_few_1(d, (long)Hq * Ws, Ws, F, w + (size_t)c * 36,
                                             36L * C, o, W, npix);
                }
        }
    }
    return 0;
}

/* ---- weight gradient with few input channels --------------------------
   (the discriminator's first layer, the generator's last): vectorised over
   16 output pixels of a row, dy read where it is, x as cnt_forward_few's
   column-parity rows:
     dw[f][c][kh][kw] = sum_(n, i, j) dy[n][f][i][j] xq[n][c][2 i + kh][kw % 2][j + kw / 2].
   CNT_WB output channels x the 6 taps of a kernel row stay in registers
   over all pixels of an image; each chunk of images keeps 16 lanes per
   weight, added at the end in a fixed order (chunks, then lanes).
   ws: 0 parity rows, 2 partial sums. */
#ifdef __AVX512F__
#define CNT_WB 4
#else
#define CNT_WB 1
#endif

static int cnt_grad_weights_few(const float* x, int B, int C, int H, int W,
                                const float* dy, int F, float* dw, cnt_ws* ws) {
    const int Hp = H + 4, Ho = H / 2, Wo = W / 2, Wr = cnt_parity_row(W);
    const int nchunks = B < CNT_MAX_CHUNKS ? (B > 0 ? B : 1) : CNT_MAX_CHUNKS;
    const size_t K = (size_t)F * C * 36 * 16;          /* lanes of one chunk */
    const float* xq = cnt_pack_parity_rows(x, B, C, H, W, ws);
    float* part = cnt_ws_get(ws, 2, K * nchunks);
    if (!xq || !part) return -1;
    #pragma omp parallel for schedule(static)
    for (int ch = 0; ch < nchunks; ++ch) {
        float* lanes = part + (size_t)ch * K;
        memset(lanes, 0, sizeof(float) * K);
        for (int n = (int)((long)ch * B / nchunks); n < (int)((long)(ch + 1) * B / nchunks); ++n)
            for (int c = 0; c < C; ++c)
                for (int kh = 0; kh < 6; ++kh)
                    for (int f0 = 0; f0 < F; f0 += CNT_WB) {
                        const int nf = F - f0 < CNT_WB ? F - f0 : CNT_WB;
                        cnt_vn acc[CNT_WB][6][CNT_VPER];
                        for (int k = 0; k < CNT_WB; ++k)
                            for (int kw = 0; kw < 6; ++kw)
                                for (int u = 0; u < CNT_VPER; ++u) acc[k][kw][u] = (cnt_vn){0};
                        for (int i = 0; i < Ho; ++i) {
                            const float* row = xq + (((size_t)n * C + c) * Hp + 2 * i + kh) * 2 * Wr;
                            const float* d0 = dy + (((size_t)n * F + f0) * Ho + i) * Wo;
                            for (int j0 = 0; j0 < Wo; j0 += 16) {
                                cnt_vn dv[CNT_WB][CNT_VPER];
                                if (Wo - j0 >= 16 && nf == CNT_WB) {
                                    for (int k = 0; k < CNT_WB; ++k)
                                        for (int u = 0; u < CNT_VPER; ++u)
                                            dv[k][u] = *(const cnt_vnu*)(d0 + (size_t)k * Ho * Wo + j0 + CNT_VW * u);
                                } else {       /* the row's tail, or a last block of channels */
                                    const int nj = Wo - j0 < 16 ? Wo - j0 : 16;
                                    for (int k = 0; k < CNT_WB; ++k) {
                                        for (int u = 0; u < CNT_VPER; ++u) dv[k][u] = (cnt_vn){0};
                                        for (int j = 0; k < nf && j < nj; ++j)
                                            dv[k][j / CNT_VW][j % CNT_VW] = d0[(size_t)k * Ho * Wo + j0 + j];
                                    }
                                }
#if CNT_VW == 16
                                /* each parity row's two aligned vectors,
                                   shifted in registers for kw / 2 = 0, 1, 2
                                   (unaligned loads across cache lines made
                                   it load-bound); the same values */
                                for (int pw = 0; pw < 2; ++pw) {
                                    const float* xr = row + pw * Wr + j0;
                                    const cnt_vn a0 = *(const cnt_vn*)xr;
                                    const cnt_vn a1 = *(const cnt_vn*)(xr + 16);
                                    const cnt_vn xs[3] = {a0, __builtin_shuffle(a0, a1, cnt_shift1),
                                                          __builtin_shuffle(a0, a1, cnt_shift2)};
                                    for (int h = 0; h < 3; ++h)
                                        for (int k = 0; k < CNT_WB; ++k)
                                            acc[k][2 * h + pw][0] += xs[h] * dv[k][0];
                                }
#else
                                for (int kw = 0; kw < 6; ++kw) {
                                    const float* xr = row + (kw & 1) * Wr + (kw >> 1) + j0;
                                    for (int u = 0; u < CNT_VPER; ++u) {
                                        const cnt_vn xv = *(const cnt_vnu*)(xr + CNT_VW * u);
                                        for (int k = 0; k < CNT_WB; ++k) acc[k][kw][u] += xv * dv[k][u];
                                    }
                                }
#endif
                            }
                        }
                        for (int k = 0; k < nf; ++k)
                            for (int kw = 0; kw < 6; ++kw) {
                                cnt_vn* l = (cnt_vn*)(lanes + ((((size_t)(f0 + k) * C + c) * 6 + kh) * 6 + kw) * 16);
                                for (int u = 0; u < CNT_VPER; ++u) l[u] += acc[k][kw][u];
                            }
                    }
    }
    cnt_sum_chunks(part, K, nchunks);
    #pragma omp parallel for schedule(static)
    for (long e = 0; e < (long)F * C * 36; ++e) {
        const float* l = part + (size_t)e * 16;
        float t = 0.0f;
        for (int q = 0; q < 16; ++q) t += l[q];
        dw[e] = t;
    }
    return 0;
}

/* ---- weight gradient --------------------------------------------------
   x (B, C, H, W), dy (B, F, H/2, W/2) -> dw (F, C, 6, 6).
   ws buffers: 0 padded channels-last x, 1 channels-last dy (F padded to a
   multiple of 16), 2 one partial sum per chunk of images.
   A tile (J inputs x NV vectors of 16 output channels) runs over every
   pixel of every image of its chunk with its sums in registers, from zero:
   each partial sum is written once. (It used to be loaded and stored
   around each image: a third of the time on the 2x2 and 4x4 outputs of
   the last layers. The additions are the same, in the same order.) */
#define CNT_DEFINE_WGRAD(J, NV)                                                \
static inline void cnt_wgrad_##J##_##NV(const float* xr0, long xs_row,        \
        long xs_pix, const float* dr0, long ds_row, int Ho, int Wo, int Fp,    \
        int nimg, long xs_img, long ds_img, float* acc_out) {                  \
    enum { NW = NV * CNT_VPER };    /* native vectors of 16 NV channels */     \
    cnt_vn acc[J][NW];                                                         \
    _Pragma("GCC unroll 32")                                                  \
    for (int j = 0; j < J; ++j)                                                \
        for (int v = 0; v < NW; ++v)                                           \
            acc[j][v] = (cnt_vn){0};                                           \
    for (int n = 0; n < nimg; ++n)                                             \
    for (int oh = 0; oh < Ho; ++oh) {                                          \
        const float* xr = xr0 + n * xs_img + oh * 2 * xs_row;                  \
        const float* dr = dr0 + n * ds_img + oh * ds_row;                      \
        for (int ow = 0; ow < Wo; ++ow) {                                      \
            cnt_vn d[NW];                                                      \
            for (int v = 0; v < NW; ++v)                                       \
                d[v] = *(const cnt_vnu*)(dr + (long)ow * Fp + CNT_VW * v);     \
            _Pragma("GCC unroll 32")                                          \
            for (int j = 0; j < J; ++j) {                                      \
                const float xv = xr[ow * xs_pix + j];                          \
                for (int v = 0; v < NW; ++v) acc[j][v] += d[v] * xv;           \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    for (int j = 0; j < J; ++j)                                                \
        for (int v = 0; v < NW; ++v)                                           \
            *(cnt_vnu*)(acc_out + (long)j * Fp + CNT_VW * v) = acc[j][v];      \
}
CNT_DEFINE_WGRAD(12, 2)
CNT_DEFINE_WGRAD(6, 2)
CNT_DEFINE_WGRAD(3, 2)
CNT_DEFINE_WGRAD(12, 1)
CNT_DEFINE_WGRAD(6, 1)
CNT_DEFINE_WGRAD(3, 1)

static int cnt_grad_weights(const float* x, int B, int C, int H, int W,
                            const float* dy, int F, float* dw, cnt_ws* ws, int amx,
                            int wino) {
#if CNT_HAVE_AMX
    if (amx && cnt_amx_grad_weights_fits(C, F, W / 2) && cnt_amx_usable())
        return cnt_amx_grad_weights(x, B, C, H, W, dy, F, dw, ws);
#endif
    if (C < 16) return cnt_grad_weights_few(x, B, C, H, W, dy, F, dw, ws);
    if (wino && cnw_fits(C, F, H / 2, W / 2))
        return cnw_grad_weights(x, B, C, H, W, dy, F, dw, ws);
    const int Hp = H + 4, Wp = W + 4, Ho = H / 2, Wo = W / 2;
    const int Fp = cnt_round16(F);
    const int L = 6 * C;                      /* inputs under a kernel row */
    const int J = (L % CNT_JMAX == 0) ? CNT_JMAX : (L % 6 == 0 && CNT_JMAX > 6) ? 6 : 3;
    const int nchunks = B < CNT_MAX_CHUNKS ? (B > 0 ? B : 1) : CNT_MAX_CHUNKS;
    const int per = (B + nchunks - 1) / nchunks;
    const size_t K = (size_t)6 * L * Fp;      /* one partial sum */
    float* xp = cnt_ws_get(ws, 0, (size_t)B * Hp * Wp * C);
    float* dyc = cnt_ws_get(ws, 1, (size_t)B * Ho * Wo * Fp);
    float* part = cnt_ws_get(ws, 2, K * nchunks);
    if (!xp || !dyc || !part) return -1;
    cnt_pack_nhwc(x, B, C, H, W, 2, xp);
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < (long)B * Ho; ++r) {     /* dy channels-last */
        const int n = r / Ho, oh = r % Ho;
        float* d = dyc + (size_t)r * Wo * Fp;
        cnt_transpose(dy + ((size_t)n * F * Ho + oh) * Wo, (long)Ho * Wo, d, Fp,
                      F, Wo);
        for (int ow = 0; ow < Wo && F < Fp; ++ow)
            memset(d + (size_t)ow * Fp + F, 0, sizeof(float) * (Fp - F));
    }
    /* part[chunk][kh][j][f], j = kw C + c */
    #pragma omp parallel for schedule(static)
    for (int ch = 0; ch < nchunks; ++ch) {
        float* acc = part + (size_t)ch * K;
        const int n1 = (ch + 1) * per < B ? (ch + 1) * per : B;
        const int n0 = ch * per, nimg = n1 - n0;
        if (nimg <= 0) memset(acc, 0, sizeof(float) * K);
        else
            for (int kh = 0; kh < 6; ++kh)
                for (int jb = 0; jb < L; jb += J)
                    for (int fb = 0; fb < Fp; fb += 32) {
                        const float* xr0 = xp + ((size_t)n0 * Hp + kh) * Wp * C + jb;
                        const float* dr0 = dyc + (size_t)n0 * Ho * Wo * Fp + fb;
                        float* a = acc + ((size_t)kh * L + jb) * Fp + fb;
                        const int nv = Fp - fb >= 32 ? 2 : 1;
#define CNT_WCALL(JJ) \
    if (nv == 2) cnt_wgrad_##JJ##_2(xr0, (long)Wp * C, 2 * C, dr0, (long)Wo * Fp, Ho, Wo, Fp, nimg, (long)Hp * Wp * C, (long)Ho * Wo * Fp, a); \
    else cnt_wgrad_##JJ##_1(xr0, (long)Wp * C, 2 * C, dr0, (long)Wo * Fp, Ho, Wo, Fp, nimg, (long)Hp * Wp * C, (long)Ho * Wo * Fp, a);
                        if (J == 12) { CNT_WCALL(12) }
                        else if (J == 6) { CNT_WCALL(6) }
                        else { CNT_WCALL(3) }
#undef CNT_WCALL
                    }
    }
    cnt_sum_chunks(part, K, nchunks);
    /* dw[f][c][kh][kw] = part[kh][kw C + c][f] */
    #pragma omp parallel for schedule(static)
    for (long e = 0; e < (long)F * C * 36; ++e) {
        const int f = e / (C * 36), c = (e / 36) % C, kh = (e % 36) / 6, kw = e % 6;
        dw[e] = part[((size_t)kh * L + kw * C + c) * Fp + f];
    }
    return 0;
}
#endif
