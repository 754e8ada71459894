/* AMX path of the 6x6 / stride-2 training convolutions (forward, input
 * gradient, weight gradient), used by conv6x6s2_train.c when the CPU has
 * AMX-BF16 and the kernel grants this process the tile registers.
 *
 * Precision: "bf16x3".  Each float32 operand a is split into two bfloat16
 * numbers, a_hi = bf16(a) and a_lo = bf16(a - a_hi), which together carry
 * 16 of float32's 24 significand bits.  A product is taken as
 *     a b ~ a_hi b_hi + a_hi b_lo + a_lo b_hi
 * (the dropped a_lo b_lo is 2^-16 of a b), accumulated in float32 by the
 * tile unit.  Relative error ~1e-5 (the FMA path: ~1e-7), three tile
 * products per multiply-add and still several times the FMA path's speed.
 * Set CROSSNET_AMX=0 to use the float32 FMA path everywhere.
 *
 * Layouts (bf16, hi and lo in two buffers of equal shape):
 *   forward, pixel-major (C % 32, F % 32, Wo % 16): x padded
 *     channels-last (B, H+4, W+4, C); a tile row is one output pixel
 *     (input stride 2 C), its 32 columns 32 input channels; weights as
 *     VNNI tiles [16 channel pairs][16 output channels][2].
 *   forward (other shapes) and input gradient: x, or dy padded by 1, as
 *     planes of channel-pair words (per parity for the forward); the
 *     input gradient as the four parity 3x3 stride-1 correlations of
 *     conv6x6s2_train.c; weights as [16 output channels][32 reduced
 *     channels] tiles per (tap, 32-chunk, 16 output channels).
 *   input gradient with one output channel: dy padded by 1,
 *     channels-last, pixel-major; the four parities are four columns.
 *   weight gradient: x as four parity planes per channel, each
 *     (Ho+2) x (Wo+2) flattened, so that tap (kh, kw) reads a contiguous
 *     run of the plane (kh%2, kw%2) from offset (kh/2)(Wo+2) + kw/2; the
 *     reduction runs over the flattened output pixels including the two
 *     extra columns of each row, where dy (VNNI: pixel pairs) is zero.
 *   forward with one input channel: padded rows as pair words of two
 *     neighbouring columns; per output row an im2col of the 18 tap pairs
 *     (cnt_amx_forward_c1).
 *
 * Every output element is summed in a fixed order, independent of the
 * number of threads.
 */
#ifndef CROSSNET_CONV6X6S2_AMX
#define CROSSNET_CONV6X6S2_AMX
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- workspace (grow-only buffers owned by one aesara Apply node) ---- */
/* buffers 0-2 for the kernels' own use; 3 keeps a transformed kernel
   between calls (Winograd), with the shape it was made for in `kept` */
#define CNT_WS_BUFFERS 4
typedef struct { float* p[CNT_WS_BUFFERS]; size_t n[CNT_WS_BUFFERS]; long kept[3]; } cnt_ws;

static void cnt_ws_init(cnt_ws* ws) { memset(ws, 0, sizeof(*ws)); }

static void cnt_ws_free(cnt_ws* ws) {
    for (int i = 0; i < CNT_WS_BUFFERS; ++i) {
        free(ws->p[i]);
        ws->p[i] = NULL;
        ws->n[i] = 0;
    }
    ws->kept[0] = ws->kept[1] = ws->kept[2] = 0;
}

/* buffer i with room for n floats (+ 64 of slack for vector over-reads);
   growing buffer 3 loses what it kept, so `kept` is cleared with it */
static float* cnt_ws_get(cnt_ws* ws, int i, size_t n) {
    n += 64;
    if (ws->n[i] < n) {
        if (i == 3) ws->kept[0] = 0;
        free(ws->p[i]);
        if (posix_memalign((void**)&ws->p[i], 64, sizeof(float) * n) != 0)
            ws->p[i] = NULL;
        ws->n[i] = ws->p[i] ? n : 0;
    }
    return ws->p[i];
}


/* ---- transposes (every ISA; AVX-512 or AVX in registers where the
   compiler targets it) ------------------------------------------------- */
#ifdef __AVX512F__
#include <immintrin.h>
/* 16 x 16 floats: out[j os + i] = in[i is + j] for i, j < 16 (in
   registers: pairs of rows, then of 64-bit halves, then of 128-bit lanes) */
static inline void cnt_transpose16(const float* in, long is, float* out, long os) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(in + i * is);
    for (int i = 0; i < 16; i += 2) {   /* lane L: r_i[4L], r_i+1[4L], ... */
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {   /* r[i + k] lane L: column 4 L + k */
        const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
        const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int k = 0; k < 4; ++k) {       /* columns k, 4 + k, 8 + k, 12 + k */
        const __m512 u0 = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x44);
        const __m512 u1 = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xEE);
        const __m512 u2 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x44);
        const __m512 u3 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xEE);
        _mm512_storeu_ps(out + k * os, _mm512_shuffle_f32x4(u0, u2, 0x88));
        _mm512_storeu_ps(out + (4 + k) * os, _mm512_shuffle_f32x4(u0, u2, 0xDD));
        _mm512_storeu_ps(out + (8 + k) * os, _mm512_shuffle_f32x4(u1, u3, 0x88));
        _mm512_storeu_ps(out + (12 + k) * os, _mm512_shuffle_f32x4(u1, u3, 0xDD));
    }
}
#elif defined(__AVX__)
#include <immintrin.h>
/* 8 x 8 floats in registers: pairs of rows, then of 64-bit halves (each
   128-bit lane), then the lanes */
static inline void cnt_transpose8(const float* in, long is, float* out, long os) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(in + i * is);
    for (int i = 0; i < 8; i += 2) {    /* r_i[0] r_i+1[0] r_i[1] r_i+1[1] | [4].. */
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {    /* r[i + k]: rows i..i+3 of columns k | 4 + k */
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int k = 0; k < 4; ++k) {
        _mm256_storeu_ps(out + k * os, _mm256_permute2f128_ps(r[k], r[4 + k], 0x20));
        _mm256_storeu_ps(out + (4 + k) * os, _mm256_permute2f128_ps(r[k], r[4 + k], 0x31));
    }
}
static inline void cnt_transpose16(const float* in, long is, float* out, long os) {
    for (int a = 0; a < 16; a += 8)
        for (int b = 0; b < 16; b += 8)
            cnt_transpose8(in + a * is + b, is, out + b * os + a, os);
}
#else
static inline void cnt_transpose16(const float* in, long is, float* out, long os) {
    for (int j = 0; j < 16; ++j)
        for (int i = 0; i < 16; ++i) out[j * os + i] = in[i * is + j];
}
#endif

/* m x n floats: out[j os + i] = in[i is + j] for i < m, j < n (16 x 16
   blocks, the edges one float at a time) */
static void cnt_transpose(const float* in, long is, float* out, long os,
                          int m, int n) {
    int i = 0;
    for (; i + 16 <= m; i += 16) {
        int j = 0;
        for (; j + 16 <= n; j += 16)
            cnt_transpose16(in + i * is + j, is, out + j * os + i, os);
        for (; j < n; ++j)
            for (int k = 0; k < 16; ++k) out[j * os + i + k] = in[(i + k) * is + j];
    }
    for (; i < m; ++i)
        for (int j = 0; j < n; ++j) out[j * os + i] = in[i * is + j];
}

/* Pixels of the next register tile of a row with `left` pixels to go,
   tiles of at most `tmax` (12 with AVX-512's 32 registers): the widest,
   but never a narrow one where two of 8 fit (16 = 8 + 8, not 12 + 4: a
   tile of 4 pixels keeps too few FMAs in flight). */
static inline int cnt_tile_width(int left, int tmax) {
    if (tmax == 12) {
        if (left == 12 || left >= 20) return 12;
        if (left >= 8) return 8;
    }
    return left >= tmax ? tmax : left >= 8 ? 8 : left >= 4 ? 4
         : left >= 3 ? 3 : left >= 2 ? 2 : 1;
}


#if defined(__x86_64__) && defined(__GNUC__) && !defined(CNT_NO_AMX)
#define CNT_HAVE_AMX 1
#include <cpuid.h>
#include <immintrin.h>
#include <unistd.h>
#include <sys/syscall.h>
#define CNT_AMX_FN __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16")))
#else
#define CNT_HAVE_AMX 0
#endif

/* float32 -> bfloat16, round to nearest even; NaN stays NaN */
static inline uint16_t cnt_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float cnt_from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* a -> (a_hi, a_lo) */
static inline void cnt_split(float a, uint16_t* hi, uint16_t* lo) {
    const uint16_t h = cnt_bf16(a);
    *hi = h;
    *lo = cnt_bf16(a - cnt_from_bf16(h));
}

/* 1 when AMX-BF16 can be used by this process (asked once). */
static int cnt_amx_usable(void) {
#if CNT_HAVE_AMX
    static int state = -1;
    if (state < 0) {
        unsigned a, b, c, d;
        int ok = __get_cpuid_count(7, 0, &a, &b, &c, &d)
                 && (d >> 24 & 1u) && (d >> 22 & 1u)     /* AMX-TILE, AMX-BF16 */
                 && (b >> 16 & 1u) && (b >> 30 & 1u);    /* AVX512F, AVX512BW */
        if (ok) ok = __get_cpuid_count(7, 1, &a, &b, &c, &d)
                     && (a >> 5 & 1u);                    /* AVX512-BF16 */
        /* ARCH_REQ_XCOMP_PERM (0x1023) for XTILEDATA (18) */
        if (ok) ok = syscall(SYS_arch_prctl, 0x1023, 18) == 0;
        state = ok;
    }
    return state;
#else
    return 0;
#endif
}

#if CNT_HAVE_AMX
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} cnt_tilecfg;

/* 16 rows per tile; tiles 0-3 and 6-7 hold `ncols` 32-bit columns (16 or
   8), tiles 4-5 64 bytes. */
CNT_AMX_FN static void cnt_amx_config(int ncols) {
    cnt_tilecfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.palette = 1;
    for (int t = 0; t < 8; ++t) {
        cfg.colsb[t] = (uint16_t)(t == 4 || t == 5 ? 64 : 4 * ncols);
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
}

#define CNT_BARRIER() __asm__ volatile("" ::: "memory")

/* 16 floats -> their bf16 hi and lo parts (in the low 16 bits of 32) */
CNT_AMX_FN static inline void cnt_split16(__m512 v, __m512i* hi, __m512i* lo) {
    const __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(v));
    const __m512 hf = _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
    *hi = h;
    *lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_sub_ps(v, hf)));
}

/* One row of n floats (n0 of them from s, the rest zero) -> bf16 hi/lo
   as 32-bit words: word = bf16(a) | bf16(b) << 16 for a second row b
   (when s2), else word = bf16(a). */
CNT_AMX_FN static void cnt_split_row(const float* s, const float* s2, int n0,
                                     uint32_t* hi, uint32_t* lo) {
    int j = 0;
    for (; j + 16 <= n0; j += 16) {
        __m512i h, l, h2, l2;
        cnt_split16(_mm512_loadu_ps(s + j), &h, &l);
        if (s2) {
            cnt_split16(_mm512_loadu_ps(s2 + j), &h2, &l2);
            h = _mm512_or_si512(h, _mm512_slli_epi32(h2, 16));
            l = _mm512_or_si512(l, _mm512_slli_epi32(l2, 16));
        }
        _mm512_storeu_si512(hi + j, h);
        _mm512_storeu_si512(lo + j, l);
    }
    for (; j < n0; ++j) {
        uint16_t h, l, h2 = 0, l2 = 0;
        cnt_split(s[j], &h, &l);
        if (s2) cnt_split(s2[j], &h2, &l2);
        hi[j] = h | (uint32_t)h2 << 16;
        lo[j] = l | (uint32_t)l2 << 16;
    }
}

/* s[0 .. n) -> bf16 hi and lo arrays (vector stores); n % 16 == 0 */
CNT_AMX_FN static void cnt_split_bf16(const float* s, size_t n, void* hi, void* lo) {
    for (size_t k = 0; k < n; k += 16) {
        __m512i h, l;
        cnt_split16(_mm512_loadu_ps(s + k), &h, &l);
        _mm256_storeu_si256((__m256i*)((uint16_t*)hi + k), _mm512_cvtepi32_epi16(h));
        _mm256_storeu_si256((__m256i*)((uint16_t*)lo + k), _mm512_cvtepi32_epi16(l));
    }
}

/* 2 n floats -> n words, word k = bf16(s[2 k]) | bf16(s[2 k + 1]) << 16
   (hi and lo parts): neighbouring pixels as one pair word, which is the
   bf16 array of the floats read as 32-bit words (x86 is little-endian). */
CNT_AMX_FN static void cnt_split_pixel_pairs(const float* s, int n,
                                             uint32_t* hi, uint32_t* lo) {
    int k = n / 8 * 8;
    cnt_split_bf16(s, 2 * (size_t)k, hi, lo);
    for (; k < n; ++k) {
        uint16_t h0, l0, h1, l1;
        cnt_split(s[2 * k], &h0, &l0);
        cnt_split(s[2 * k + 1], &h1, &l1);
        hi[k] = h0 | (uint32_t)h1 << 16;
        lo[k] = l0 | (uint32_t)l1 << 16;
    }
}

/* even[v] = s[2 v], odd[v] = s[2 v + 1] for v < n: 32-bit words, or with
   `narrow` their low 16 bits (even and odd then point at uint16_t) */
CNT_AMX_FN static void cnt_deinterleave(const uint32_t* s, int n, void* even,
                                        void* odd, int narrow) {
    const __m512i ie = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16,
                                        14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i io = _mm512_add_epi32(ie, _mm512_set1_epi32(1));
    uint32_t *e32 = (uint32_t*)even, *o32 = (uint32_t*)odd;
    uint16_t *e16 = (uint16_t*)even, *o16 = (uint16_t*)odd;
    int v = 0;
    for (; v + 16 <= n; v += 16) {
        const __m512i a = _mm512_loadu_si512(s + 2 * v);
        const __m512i b = _mm512_loadu_si512(s + 2 * v + 16);
        const __m512i ev = _mm512_permutex2var_epi32(a, ie, b);
        const __m512i ov = _mm512_permutex2var_epi32(a, io, b);
        if (narrow) {
            _mm256_storeu_si256((__m256i*)(e16 + v), _mm512_cvtepi32_epi16(ev));
            _mm256_storeu_si256((__m256i*)(o16 + v), _mm512_cvtepi32_epi16(ov));
        } else {
            _mm512_storeu_si512(e32 + v, ev);
            _mm512_storeu_si512(o32 + v, ov);
        }
    }
    for (; v < n; ++v) {
        if (narrow) {
            e16[v] = (uint16_t)s[2 * v];
            o16[v] = (uint16_t)s[2 * v + 1];
        } else {
            e32[v] = s[2 * v];
            o32[v] = s[2 * v + 1];
        }
    }
}

/* (B, C, H, W) float, C even -> bf16 hi/lo planes of channel pairs:
   out[n][ph][pw][c2][u][v] = (xpad[n][2 c2][d u + ph][d v + pw],
   xpad[n][2 c2 + 1][...]) as one 32-bit word, xpad = x with a zero border
   of p, d = 1 or 2, u < Hv = (H + 2p) / d, v < Wv = (W + 2p) / d. */
CNT_AMX_FN static void cnt_amx_pack_pairs(const float* x, int B, int C, int H,
        int W, int p, int d, uint32_t* hi, uint32_t* lo) {
    const int Hp = H + 2 * p, Wp = W + 2 * p, Hv = Hp / d, Wv = Wp / d, C2 = C / 2;
    const size_t plane = (size_t)Hv * Wv;
    #pragma omp parallel
    {
        uint32_t* th = (uint32_t*)malloc(sizeof(uint32_t) * 2 * (Wp + 16));
        #pragma omp for schedule(static)
        for (long job = 0; job < (long)B * C2 * Hp; ++job) {
            if (!th) continue;
            uint32_t* tl = th + Wp + 16;
            const int n = job / ((long)C2 * Hp), c2 = (job / Hp) % C2, r = job % Hp;
            const int u = r / d, ph = r % d, i = r - p;
            if (u >= Hv) continue;
            memset(th, 0, sizeof(uint32_t) * Wp);
            memset(tl, 0, sizeof(uint32_t) * Wp);
            if (i >= 0 && i < H) {
                const float* s = x + (((size_t)n * C + 2 * c2) * H + i) * W;
                cnt_split_row(s, s + (size_t)H * W, W, th + p, tl + p);
            }
            const size_t o0 = (((size_t)n * d + ph) * d * C2 + c2) * plane
                              + (size_t)u * Wv;
            if (d == 1) {
                memcpy(hi + o0, th, sizeof(uint32_t) * Wv);
                memcpy(lo + o0, tl, sizeof(uint32_t) * Wv);
            } else {                       /* pw = 0 at o0, pw = 1 a C2 plane on */
                cnt_deinterleave(th, Wv, hi + o0, hi + o0 + C2 * plane, 0);
                cnt_deinterleave(tl, Wv, lo + o0, lo + o0 + C2 * plane, 0);
            }
        }
        free(th);
    }
}

/* Weight tiles: for tap t, chunk kc of 32 reduced channels, block q of 16
   output channels, a 16 x 32 bf16 tile tile[m][k] = W(t)[16 q + m][32 kc + k]
   (0 past N or K), W(t)[m][k] = w[t_off[t] + m ms + k ks]. */
static void cnt_amx_pack_w(const float* w, const long* t_off, int ntaps,
                           int N, long ms, int K, long ks, uint16_t* hi,
                           uint16_t* lo) {
    const int nkc = (K + 31) / 32, nq = (N + 15) / 16;
    for (int t = 0; t < ntaps; ++t)
        for (int kc = 0; kc < nkc; ++kc)
            for (int q = 0; q < nq; ++q) {
                const long base = (((long)t * nkc + kc) * nq + q) * 512;
                for (int m = 0; m < 16; ++m)
                    for (int k = 0; k < 32; ++k) {
                        const int mm = 16 * q + m, kk = 32 * kc + k;
                        const float v = (mm < N && kk < K)
                            ? w[t_off[t] + mm * ms + kk * ks] : 0.0f;
                        cnt_split(v, hi + base + m * 32 + k, lo + base + m * 32 + k);
                    }
            }
}

/* The tile product behind the forward pass and the input gradient:
   16 output channels (block q, and q + 1 when two_q) x 16 (or ncols)
   pixels of one row (and of the next when two_r):
     out[16 q' + m][row][j] = sum_t sum_kc A(t, kc, q')[m][.] B(t, kc, row)[.][j]
   A: weight tiles a + ((t nkc + kc) nq + q') 512; B: pair words at
   b + boff[t] + 16 kc bstride + row rstep (16 rows bstride words apart).
   out rows ostride bytes apart, rows of pixels ostep floats apart.
   Tiles 0-3: (q, row), (q+1, row), (q, row+1), (q+1, row+1); 4-5 A hi/lo;
   6-7 B hi/lo. */
CNT_AMX_FN static void cnt_amx_tgemm(const uint32_t* bh, const uint32_t* bl,
        long bstride, const long* boff, long rstep, int ntaps, int nkc,
        const uint16_t* ah, const uint16_t* al, int nq, int two_q, int two_r,
        float* out, long ostride, long ostep) {
    CNT_BARRIER();
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int t = 0; t < ntaps; ++t)
        for (int kc = 0; kc < nkc; ++kc) {
            const long bo = boff[t] + 16L * kc * bstride;
            const long ao = ((long)t * nkc + kc) * nq * 512;
            _tile_loadd(4, ah + ao, 64);
            _tile_loadd(5, al + ao, 64);
            _tile_loadd(6, bh + bo, 4 * bstride);
            _tile_loadd(7, bl + bo, 4 * bstride);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(0, 4, 7);
            _tile_dpbf16ps(0, 5, 6);
            if (two_r) {
                _tile_loadd(6, bh + bo + rstep, 4 * bstride);
                _tile_loadd(7, bl + bo + rstep, 4 * bstride);
                _tile_dpbf16ps(2, 4, 6);
                _tile_dpbf16ps(2, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
            }
            if (two_q) {
                _tile_loadd(4, ah + ao + 512, 64);
                _tile_loadd(5, al + ao + 512, 64);
                if (two_r) {
                    _tile_dpbf16ps(3, 4, 6);
                    _tile_dpbf16ps(3, 4, 7);
                    _tile_dpbf16ps(3, 5, 6);
                    _tile_loadd(6, bh + bo, 4 * bstride);
                    _tile_loadd(7, bl + bo, 4 * bstride);
                }
                _tile_dpbf16ps(1, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(1, 5, 6);
            }
        }
    _tile_stored(0, out, ostride);
    if (two_q) _tile_stored(1, out + 16 * (ostride / 4), ostride);
    if (two_r) _tile_stored(2, out + ostep, ostride);
    if (two_q && two_r) _tile_stored(3, out + 16 * (ostride / 4) + ostep, ostride);
}

/* pixels per tile row: 16 or 8 dividing the row length, else 0 */
static int cnt_amx_ncols(int npix) {
    return npix % 16 == 0 ? 16 : npix % 8 == 0 ? 8 : 0;
}

static int cnt_amx_forward_fits(int C, int F, int Wo) {
    return C % 32 == 0 && F % 16 == 0 && cnt_amx_ncols(Wo);
}

static int cnt_amx_grad_input_fits(int F, int C, int Wo) {
    return F % 32 == 0 && C % 16 == 0 && cnt_amx_ncols(Wo);
}

static int cnt_amx_grad_weights_fits(int C, int F, int Wo) {
    return C % 16 == 0 && F % 16 == 0 && Wo % 2 == 0;
}

/* Forward: C % 32 == 0, F % 16 == 0, Wo % 8 == 0.  -1: out of memory.
   ws: 0 x pair planes hi/lo, 1 weight tiles hi/lo. */
CNT_AMX_FN static int cnt_amx_forward(const float* x, int B, int C, int H,
        int W, const float* w, int F, float* y, cnt_ws* ws) {
    const int Ho = H / 2, Wo = W / 2, Hv = Ho + 2, Wv = Wo + 2, C2 = C / 2;
    const int nc = cnt_amx_ncols(Wo), nkc = C / 32, nq = F / 16;
    const size_t plane = (size_t)Hv * Wv, nx = (size_t)B * 4 * C2 * plane;
    const size_t nw = (size_t)36 * nkc * nq * 512;
    uint32_t* xh = (uint32_t*)cnt_ws_get(ws, 0, 2 * nx);
    uint16_t* wh = (uint16_t*)cnt_ws_get(ws, 1, nw);
    if (!xh || !wh) return -1;
    uint32_t* xl = xh + nx;
    uint16_t* wl = wh + nw;
    cnt_amx_pack_pairs(x, B, C, H, W, 2, 2, xh, xl);
    long toff[36], boff[36];
    for (int t = 0; t < 36; ++t) {          /* W(t)[f][c] = w[f][c][kh][kw] */
        const int kh = t / 6, kw = t % 6;
        toff[t] = t;
        boff[t] = (long)((kh % 2) * 2 + kw % 2) * C2 * plane + (kh / 2) * Wv + kw / 2;
    }
    cnt_amx_pack_w(w, toff, 36, F, (long)C * 36, C, 36, wh, wl);
    const int nrp = (Ho + 1) / 2, ncb = Wo / nc;
    const long jobs = (long)B * nrp * ncb;
    #pragma omp parallel
    {
        cnt_amx_config(nc);
        #pragma omp for schedule(static)
        for (long job = 0; job < jobs; ++job) {
            const int n = job / ((long)nrp * ncb), i = 2 * (job / ncb % nrp);
            const int j = nc * (job % ncb);
            const size_t bo = (size_t)n * 4 * C2 * plane + (size_t)i * Wv + j;
            for (int q = 0; q < nq; q += 2)
                cnt_amx_tgemm(xh + bo, xl + bo, plane, boff, Wv, 36, nkc,
                              wh + (size_t)q * 512, wl + (size_t)q * 512, nq,
                              nq - q >= 2, i + 1 < Ho,
                              y + (((size_t)n * F + 16 * q) * Ho + i) * Wo + j,
                              4L * Ho * Wo, Wo);
        }
        _tile_release();
    }
    return 0;
}

/* o[2 k] = a[k], o[2 k + 1] = b[k] for k < n = 8 or 16 */
CNT_AMX_FN static inline void cnt_interleave(const float* a, const float* b,
                                             int n, float* o) {
    const __m512i il = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4,
                                        19, 3, 18, 2, 17, 1, 16, 0);
    if (n == 16) {
        const __m512i ih = _mm512_add_epi32(il, _mm512_set1_epi32(8));
        const __m512 va = _mm512_loadu_ps(a), vb = _mm512_loadu_ps(b);
        _mm512_storeu_ps(o, _mm512_permutex2var_ps(va, il, vb));
        _mm512_storeu_ps(o + 16, _mm512_permutex2var_ps(va, ih, vb));
    } else {
        const __m512 va = _mm512_castps256_ps512(_mm256_loadu_ps(a));
        const __m512 vb = _mm512_castps256_ps512(_mm256_loadu_ps(b));
        _mm512_storeu_ps(o, _mm512_permutex2var_ps(va, il, vb));
    }
}

/* Pixel-major weight tiles: tile (t, kc, q)[k2][f][e] = W(t)[32 kc + 2 k2 +
   e][16 q + f], W(t)[c][f] = w[t ts + c cs + f fs]; C % 32 == 0, F % 16 == 0. */
static void cnt_amx_pack_w_pm(const float* w, long ts, long cs, long fs, int C,
                              int F, uint16_t* wh, uint16_t* wl) {
    const int nkc = C / 32, nq = F / 16;
    for (int t = 0; t < 36; ++t)
        for (int kc = 0; kc < nkc; ++kc)
            for (int q = 0; q < nq; ++q)
                for (int k2 = 0; k2 < 16; ++k2)
                    for (int f = 0; f < 16; ++f)
                        for (int e = 0; e < 2; ++e) {
                            const size_t at = (((size_t)t * nkc + kc) * nq + q) * 512
                                              + (k2 * 16 + f) * 2 + e;
                            cnt_split(w[t * ts + (32L * kc + 2 * k2 + e) * cs
                                        + (16L * q + f) * fs], wh + at, wl + at);
                        }
}

/* Pixel-major tile products (the forward pass; conv6x6s2_infer.c's large
   layers): tiles 0 and 1 get 16 output pixels x output channels 16 q ...
   16 q + 15 and 16 q + 16 ... 16 q + 31, tiles 2 and 3 the next 16 pixels
   (two_p), summed over the 36 taps and the 32-channel chunks:
     out[pixel][f] = sum_t sum_c X(t)[pixel][c] W(t)[c][f],
   X(t)'s 16 rows read straight from the bf16 hi/lo padded channels-last
   input (xh, xl; one row every 2 C elements), starting at x0 = tap (0, 0)
   of the first pixel; W as cnt_amx_pack_w_pm's tiles (nq = F / 16). */
CNT_AMX_FN static inline void cnt_amx_pm_tiles(const uint16_t* xh,
        const uint16_t* xl, size_t x0, int Wp, int C, const uint16_t* wh,
        const uint16_t* wl, int nq, int q, int two_p) {
    const int nkc = C / 32;
    const long xs = 4L * C;                /* bytes from one pixel's row to the next */
    CNT_BARRIER();
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int t = 0; t < 36; ++t) {
        const int kh = t / 6, kw = t % 6;
        const size_t xo = x0 + ((size_t)kh * Wp + kw) * C;
        for (int kc = 0; kc < nkc; ++kc) {
            const size_t wo = (((size_t)t * nkc + kc) * nq + q) * 512;
            _tile_loadd(4, xh + xo + 32 * kc, xs);
            _tile_loadd(5, xl + xo + 32 * kc, xs);
            _tile_loadd(6, wh + wo, 64);
            _tile_loadd(7, wl + wo, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(0, 4, 7);
            _tile_dpbf16ps(0, 5, 6);
            _tile_loadd(6, wh + wo + 512, 64);
            _tile_loadd(7, wl + wo + 512, 64);
            _tile_dpbf16ps(1, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(1, 5, 6);
            if (two_p) {
                const size_t x1 = xo + (size_t)32 * C + 32 * kc;
                _tile_loadd(4, xh + x1, xs);
                _tile_loadd(5, xl + x1, xs);
                _tile_dpbf16ps(3, 4, 6);
                _tile_dpbf16ps(3, 4, 7);
                _tile_dpbf16ps(3, 5, 6);
                _tile_loadd(6, wh + wo, 64);
                _tile_loadd(7, wl + wo, 64);
                _tile_dpbf16ps(2, 4, 6);
                _tile_dpbf16ps(2, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
            }
        }
    }
}

/* Forward, pixel-major (as the inference kernel of conv6x6s2_infer.c):
     y[16 pixels][16 f] += X(t, kc)[16 pixels][32 c] W(t, kc, q)[32 c][16 f]
   X's rows read straight from a bf16 hi/lo padded channels-last copy of x
   (one row every 2 C elements), W as VNNI tiles; each job (one output row)
   stores its tiles to a buffer and writes them to y's rows. C % 32 == 0,
   F % 32 == 0, Wo % 16 == 0. ws: 0 x hi/lo, 1 weight tiles hi/lo. */
static int cnt_amx_forward_pm_fits(int C, int F, int Wo) {
    return C % 32 == 0 && F % 32 == 0 && Wo % 16 == 0;
}

/* (B, C, H, W) float -> bf16 hi/lo padded channels-last (B, H + 2 p,
   W + 2 p, C), zero border; C % 16 == 0, W % 16 == 0.  -1: out of memory. */
CNT_AMX_FN static int cnt_pack_cl_bf16(const float* x, int B, int C, int H,
        int W, int p, uint16_t* xh, uint16_t* xl) {
    const int Hp = H + 2 * p, Wp = W + 2 * p;
    const size_t rowlen = (size_t)Wp * C;
    int failed = 0;
    #pragma omp parallel
    {
        float* tmp = (float*)malloc(sizeof(float) * ((size_t)W * C + 16));
        if (!tmp) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(static)
        for (long r = 0; r < (long)B * Hp; ++r) {
            if (!tmp) continue;
            const int n = r / Hp, i = r % Hp - p;
            uint16_t *dh = xh + (size_t)r * rowlen, *dl = xl + (size_t)r * rowlen;
            if (i < 0 || i >= H) {
                memset(dh, 0, 2 * rowlen);
                memset(dl, 0, 2 * rowlen);
                continue;
            }
            memset(dh, 0, 2 * (size_t)p * C);
            memset(dl, 0, 2 * (size_t)p * C);
            memset(dh + (size_t)(W + p) * C, 0, 2 * (size_t)p * C);
            memset(dl + (size_t)(W + p) * C, 0, 2 * (size_t)p * C);
            for (int c = 0; c < C; c += 16)      /* the row, channels-last */
                for (int j = 0; j < W; j += 16)
                    cnt_transpose16(x + (((size_t)n * C + c) * H + i) * W + j,
                                    (long)H * W, tmp + (size_t)j * C + c, C);
            cnt_split_bf16(tmp, (size_t)W * C, dh + (size_t)p * C, dl + (size_t)p * C);
        }
        free(tmp);
    }
    return failed ? -1 : 0;
}

CNT_AMX_FN static int cnt_amx_forward_pm(const float* x, int B, int C, int H,
        int W, const float* w, int F, float* y, cnt_ws* ws) {
    const int Ho = H / 2, Wo = W / 2, Hp = H + 4, Wp = W + 4;
    const int nkc = C / 32, nq = F / 16;
    const size_t nx = (size_t)B * Hp * Wp * C;
    const size_t nw = (size_t)36 * nkc * nq * 512;
    uint16_t* xh = (uint16_t*)cnt_ws_get(ws, 0, nx);        /* 2 nx uint16 */
    uint16_t* wh = (uint16_t*)cnt_ws_get(ws, 1, nw);
    if (!xh || !wh) return -1;
    uint16_t *xl = xh + nx, *wl = wh + nw;
    int failed = cnt_pack_cl_bf16(x, B, C, H, W, 2, xh, xl);
    if (failed) return -1;
    /* W(t)[c][f] = w[f][c][t] */
    cnt_amx_pack_w_pm(w, 1, 36, 36L * C, C, F, wh, wl);
    #pragma omp parallel
    {
        float* tb = (float*)malloc(sizeof(float) * 32 * 32);   /* [pixel][f] */
        if (!tb) {
            #pragma omp atomic write
            failed = 1;
        }
        cnt_amx_config(16);
        #pragma omp for schedule(static)
        for (long r = 0; r < (long)B * Ho; ++r) {
            if (!tb) continue;
            const int n = r / Ho, i = r % Ho;
            for (int j = 0; j < Wo; j += 32) {
                const int two_p = Wo - j >= 32, np = two_p ? 32 : 16;
                for (int q = 0; q < nq; q += 2) {
                    cnt_amx_pm_tiles(xh, xl, (((size_t)n * Hp + 2 * i) * Wp + 2 * j) * C,
                                     Wp, C, wh, wl, nq, q, two_p);
                    _tile_stored(0, tb, 128);
                    _tile_stored(1, tb + 16, 128);
                    if (two_p) {
                        _tile_stored(2, tb + 16 * 32, 128);
                        _tile_stored(3, tb + 16 * 32 + 16, 128);
                    }
                    CNT_BARRIER();
                    for (int pb = 0; pb < np; pb += 16)   /* [pixel][f] -> y rows */
                        for (int fb = 0; fb < 32; fb += 16)
                            cnt_transpose16(tb + pb * 32 + fb, 32,
                                            y + (((size_t)n * F + 16 * q + fb) * Ho + i)
                                                * Wo + j + pb, (long)Ho * Wo);
                }
            }
        }
        _tile_release();
        free(tb);
    }
    return failed ? -1 : 0;
}

/* Forward with one input channel (the discriminator's first layer, and the
   input gradient of the generator's last): the 36 taps as 18 pairs, kh =
   2 a + ph, kw = 2 b + pw, where the pair (pw = 0, 1) is two neighbouring
   columns of a padded row. xw: each padded row as pair words (word m:
   columns 2 m, 2 m + 1). Per output row i, an im2col of the pairs,
   col[(3 ph + a) 3 + b][m] = xw[n][2 (i + a) + ph][m + b] (rows 18 to 31
   zero), is the tile product's B; the weights are A, two chunks of 16
   pairs. F % 16 == 0, Wo % 8 == 0, W even.
   ws: 0 pair rows hi/lo, 1 weight tiles hi/lo. */
static int cnt_amx_forward_c1_fits(int C, int F, int W) {
    return C == 1 && F % 16 == 0 && W % 2 == 0 && cnt_amx_ncols(W / 2);
}

CNT_AMX_FN static int cnt_amx_forward_c1(const float* x, int B, int H, int W,
        const float* w, int F, float* y, cnt_ws* ws) {
    const int Ho = H / 2, Wo = W / 2, Hp = H + 4, Wq = Wo + 2;
    const int nc = cnt_amx_ncols(Wo), nq = F / 16;
    const size_t nx = (size_t)B * Hp * Wq, nw = (size_t)2 * nq * 512;
    uint32_t* xh = (uint32_t*)cnt_ws_get(ws, 0, 2 * nx);
    uint16_t* wh = (uint16_t*)cnt_ws_get(ws, 1, nw);
    if (!xh || !wh) return -1;
    uint32_t* xl = xh + nx;
    uint16_t* wl = wh + nw;
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < (long)B * Hp; ++r) {
        uint32_t *dh = xh + (size_t)r * Wq, *dl = xl + (size_t)r * Wq;
        const int n = r / Hp, i = r % Hp - 2;
        memset(dh, 0, sizeof(uint32_t) * Wq);
        memset(dl, 0, sizeof(uint32_t) * Wq);
        if (i >= 0 && i < H)
            cnt_split_pixel_pairs(x + ((size_t)n * H + i) * W, Wo, dh + 1, dl + 1);
    }
    /* A[chunk][q][m][k]: k = 2 (k2 - 16 chunk) + pw, f = 16 q + m */
    for (int ch = 0; ch < 2; ++ch)
        for (int q = 0; q < nq; ++q)
            for (int m = 0; m < 16; ++m)
                for (int k = 0; k < 32; ++k) {
                    const int k2 = 16 * ch + k / 2, pw = k % 2;
                    const int ph = k2 / 9, a = k2 / 3 % 3, b = k2 % 3;
                    const float v = k2 < 18
                        ? w[(size_t)(16 * q + m) * 36 + (2 * a + ph) * 6 + 2 * b + pw] : 0.0f;
                    const size_t o = ((size_t)ch * nq + q) * 512 + m * 32 + k;
                    cnt_split(v, wh + o, wl + o);
                }
    const long rows = (long)B * Ho;
    int failed = 0;
    #pragma omp parallel
    {
        uint32_t* ch_ = (uint32_t*)calloc((size_t)2 * 32 * Wo, sizeof(uint32_t));
        if (!ch_) {
            #pragma omp atomic write
            failed = 1;
        }
        cnt_amx_config(nc);
        #pragma omp for schedule(static)
        for (long r = 0; r < rows; ++r) {
            if (!ch_) continue;
            uint32_t *colh = ch_, *coll = ch_ + (size_t)32 * Wo;
            const int n = r / Ho, i = r % Ho;
            for (int k2 = 0; k2 < 18; ++k2) {
                const int ph = k2 / 9, a = k2 / 3 % 3, b = k2 % 3;
                const size_t src = ((size_t)n * Hp + 2 * (i + a) + ph) * Wq + b;
                memcpy(colh + (size_t)k2 * Wo, xh + src, sizeof(uint32_t) * Wo);
                memcpy(coll + (size_t)k2 * Wo, xl + src, sizeof(uint32_t) * Wo);
            }
            for (int j = 0; j < Wo; j += nc)
                for (int q = 0; q < nq; q += 2) {
                    const int two_q = nq - q >= 2;
                    CNT_BARRIER();
                    _tile_zero(0);
                    _tile_zero(1);
                    for (int c = 0; c < 2; ++c) {
                        const size_t ao = ((size_t)c * nq + q) * 512;
                        _tile_loadd(6, colh + (size_t)16 * c * Wo + j, 4L * Wo);
                        _tile_loadd(7, coll + (size_t)16 * c * Wo + j, 4L * Wo);
                        _tile_loadd(4, wh + ao, 64);
                        _tile_loadd(5, wl + ao, 64);
                        _tile_dpbf16ps(0, 4, 6);
                        _tile_dpbf16ps(0, 4, 7);
                        _tile_dpbf16ps(0, 5, 6);
                        if (two_q) {
                            _tile_loadd(4, wh + ao + 512, 64);
                            _tile_loadd(5, wl + ao + 512, 64);
                            _tile_dpbf16ps(1, 4, 6);
                            _tile_dpbf16ps(1, 4, 7);
                            _tile_dpbf16ps(1, 5, 6);
                        }
                    }
                    float* o = y + (((size_t)n * F + 16 * q) * Ho + i) * Wo + j;
                    _tile_stored(0, o, 4L * Ho * Wo);
                    if (two_q) _tile_stored(1, o + (size_t)16 * Ho * Wo, 4L * Ho * Wo);
                }
        }
        _tile_release();
        free(ch_);
    }
    return failed ? -1 : 0;
}

/* Input gradient with one output channel (the generator's last layer): the
   four parity outputs, dx[2 a + pi][2 b + pj] = sum_(r, s < 3) sum_f
   dy[f][a + r - 1][b + s - 1] w[f][0][pi + 4 - 2 r][pj + 4 - 2 s], as four
   columns n = 2 pi + pj of one pixel-major tile product:
     out[16 pixels][n] += X(r, s, kc)[16 pixels][32 f] W(r, s, kc)[32 f][n]
   X's rows read straight from a bf16 hi/lo copy of dy, padded by 1,
   channels-last (one pixel every F elements); W as VNNI tiles whose
   columns 4-15 are zero. Up to four groups of 16 pixels of a row share
   each weight tile (tiles 0-3). F % 32 == 0, Wo % 16 == 0.
   ws: 0 dy hi/lo, 1 weight tiles hi/lo. */
static int cnt_amx_grad_input_c1_fits(int F, int C, int Wo) {
    return C == 1 && F % 32 == 0 && Wo % 16 == 0;
}

#define CNT_C1_GROUP(g)                                                     \
    if (ng > g) {                                                           \
        _tile_loadd(4, dh + xo + (size_t)16 * g * F, 2L * F);               \
        _tile_loadd(5, dl + xo + (size_t)16 * g * F, 2L * F);               \
        _tile_dpbf16ps(g, 4, 6);                                            \
        _tile_dpbf16ps(g, 4, 7);                                            \
        _tile_dpbf16ps(g, 5, 6);                                            \
    }

CNT_AMX_FN static int cnt_amx_grad_input_c1(const float* dy, int B, int F,
        int Ho, int Wo, const float* w, float* dx, cnt_ws* ws) {
    const int W = 2 * Wo, Hp = Ho + 2, Wp = Wo + 2, nkc = F / 32;
    const size_t nd = (size_t)B * Hp * Wp * F, nw = (size_t)9 * nkc * 512;
    uint16_t* dh = (uint16_t*)cnt_ws_get(ws, 0, nd);        /* 2 nd uint16 */
    uint16_t* wh = (uint16_t*)cnt_ws_get(ws, 1, nw);
    if (!dh || !wh) return -1;
    uint16_t *dl = dh + nd, *wl = wh + nw;
    if (cnt_pack_cl_bf16(dy, B, F, Ho, Wo, 1, dh, dl)) return -1;
    /* tile (t = 3 r + s, kc)[k2][n][e] = w[32 kc + 2 k2 + e][0][pi + 4 - 2 r][pj + 4 - 2 s] */
    memset(wh, 0, sizeof(uint16_t) * 2 * nw);
    for (int t = 0; t < 9; ++t)
        for (int kc = 0; kc < nkc; ++kc)
            for (int k2 = 0; k2 < 16; ++k2)
                for (int n = 0; n < 4; ++n)
                    for (int e = 0; e < 2; ++e) {
                        const int f = 32 * kc + 2 * k2 + e, pi = n / 2, pj = n % 2;
                        const size_t at = ((size_t)t * nkc + kc) * 512 + (k2 * 16 + n) * 2 + e;
                        cnt_split(w[(size_t)f * 36 + (pi + 4 - 2 * (t / 3)) * 6
                                    + pj + 4 - 2 * (t % 3)], wh + at, wl + at);
                    }
    int failed = 0;
    #pragma omp parallel
    {
        float* tb = (float*)malloc(sizeof(float) * 4 * 256);    /* [group][pixel][n] */
        if (!tb) {
            #pragma omp atomic write
            failed = 1;
        }
        cnt_amx_config(16);
        #pragma omp for schedule(static)
        for (long r = 0; r < (long)B * Ho; ++r) {
            if (!tb) continue;
            const int n = r / Ho, a = r % Ho;
            for (int b0 = 0; b0 < Wo; b0 += 64) {
                const int ng = (Wo - b0) / 16 < 4 ? (Wo - b0) / 16 : 4;
                CNT_BARRIER();
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
                for (int t = 0; t < 9; ++t)
                    for (int kc = 0; kc < nkc; ++kc) {
                        const size_t wo = ((size_t)t * nkc + kc) * 512;
                        const size_t xo = (((size_t)n * Hp + a + t / 3) * Wp + b0 + t % 3) * F
                                          + 32 * kc;
                        _tile_loadd(6, wh + wo, 64);
                        _tile_loadd(7, wl + wo, 64);
                        CNT_C1_GROUP(0)
                        CNT_C1_GROUP(1)
                        CNT_C1_GROUP(2)
                        CNT_C1_GROUP(3)
                    }
                _tile_stored(0, tb, 64);
                if (ng > 1) _tile_stored(1, tb + 256, 64);
                if (ng > 2) _tile_stored(2, tb + 512, 64);
                if (ng > 3) _tile_stored(3, tb + 768, 64);
                CNT_BARRIER();
                for (int pi = 0; pi < 2; ++pi) {
                    float* o = dx + ((size_t)n * 2 * Ho + 2 * a + pi) * W + 2 * b0;
                    for (int p = 0; p < 16 * ng; ++p) {
                        o[2 * p] = tb[p * 16 + 2 * pi];
                        o[2 * p + 1] = tb[p * 16 + 2 * pi + 1];
                    }
                }
            }
        }
        _tile_release();
        free(tb);
    }
    return failed ? -1 : 0;
}
#undef CNT_C1_GROUP

/* Input gradient: F % 32 == 0, C % 16 == 0, Wo % 8 == 0.
   ws: 0 dy pair planes hi/lo, 1 weight tiles hi/lo (parity-major, 9 taps
   each), 2 one tile product per thread (interleaved into dx). */
CNT_AMX_FN static int cnt_amx_grad_input(const float* dy, int B, int F,
        int Ho, int Wo, const float* w, int C, float* dx, cnt_ws* ws) {
    const int H = 2 * Ho, W = 2 * Wo, Hv = Ho + 2, Wv = Wo + 2, F2 = F / 2;
    const int nc = cnt_amx_ncols(Wo), nkc = F / 32, nq = C / 16;
    const size_t plane = (size_t)Hv * Wv, nd = (size_t)B * F2 * plane;
    const size_t nw = (size_t)36 * nkc * nq * 512;
    uint32_t* dh = (uint32_t*)cnt_ws_get(ws, 0, 2 * nd);
    uint16_t* wh = (uint16_t*)cnt_ws_get(ws, 1, nw);
    if (!dh || !wh) return -1;
    uint32_t* dl = dh + nd;
    uint16_t* wl = wh + nw;
    cnt_amx_pack_pairs(dy, B, F, Ho, Wo, 1, 1, dh, dl);
    long toff[36], boff[9];
    for (int pp = 0; pp < 4; ++pp)        /* W(p, r, s)[c][f] = w[f][c][pi+4-2r][pj+4-2s] */
        for (int t = 0; t < 9; ++t)
            toff[pp * 9 + t] = (long)(pp / 2 + 4 - 2 * (t / 3)) * 6 + pp % 2 + 4 - 2 * (t % 3);
    for (int t = 0; t < 9; ++t) boff[t] = (long)(t / 3) * Wv + t % 3;
    cnt_amx_pack_w(w, toff, 36, C, 36, F, (long)C * 36, wh, wl);
    const size_t ptile = (size_t)9 * nkc * nq * 512;     /* one parity's tiles */
    const int nrp = (Ho + 1) / 2, ncb = Wo / nc;
    const long jobs = (long)B * nrp * ncb;
    int failed = 0;
    #pragma omp parallel
    {
        /* t[pj][row][c][j]: the two column parities of two rows */
        float* tb = (float*)malloc(sizeof(float) * 4 * C * nc);
        if (!tb) {
            #pragma omp atomic write
            failed = 1;
        }
        cnt_amx_config(nc);
        #pragma omp for schedule(static)
        for (long job = 0; job < jobs; ++job) {
            if (!tb) continue;
            const int n = job / ((long)nrp * ncb), a = 2 * (job / ncb % nrp);
            const int b = nc * (job % ncb), two_r = a + 1 < Ho;
            const size_t bo = (size_t)n * F2 * plane + (size_t)a * Wv + b;
            for (int pi = 0; pi < 2; ++pi) {
                for (int pj = 0; pj < 2; ++pj) {
                    const size_t wt = (size_t)(pi * 2 + pj) * ptile;
                    for (int q = 0; q < nq; q += 2)
                        cnt_amx_tgemm(dh + bo, dl + bo, plane, boff, Wv, 9, nkc,
                                      wh + wt + (size_t)q * 512, wl + wt + (size_t)q * 512,
                                      nq, nq - q >= 2, two_r,
                                      tb + ((size_t)pj * 2 * C + 16 * q) * nc,
                                      4L * nc, (long)C * nc);
                }
                CNT_BARRIER();
                for (int rr = 0; rr < 1 + two_r; ++rr)
                    for (int c = 0; c < C; ++c) {
                        const float* t0 = tb + ((size_t)rr * C + c) * nc;
                        const float* t1 = t0 + (size_t)2 * C * nc;
                        float* o = dx + (((size_t)n * C + c) * H + 2 * (a + rr) + pi) * W + 2 * b;
                        cnt_interleave(t0, t1, nc, o);
                    }
            }
        }
        _tile_release();
        free(tb);
    }
    return failed ? -1 : 0;
}

/* Weight gradient: C % 16 == 0, F % 16 == 0, Wo even.
   ws: 0 x parity planes hi/lo, 1 dy pixel pairs hi/lo, 2 partial sums. */
#define CNT_AMX_MAX_CHUNKS 16

CNT_AMX_FN static int cnt_amx_grad_weights(const float* x, int B, int C, int H,
        int W, const float* dy, int F, float* dw, cnt_ws* ws) {
    const int Ho = H / 2, Wo = W / 2, Wv = Wo + 2, Wp = W + 4;
    const long K = (long)Ho * Wv, Kp = (K + 31) / 32 * 32;
    const long PS = (long)(Ho + 2) * Wv + 64;   /* plane stride: slack of zeros */
    /* chunk ch: images ch B / nchunks to (ch + 1) B / nchunks */
    const int nchunks = B < CNT_AMX_MAX_CHUNKS ? (B > 0 ? B : 1) : CNT_AMX_MAX_CHUNKS;
    const size_t nx = (size_t)B * 4 * C * PS, nd = (size_t)B * (Kp / 2) * F;
    const size_t KW = (size_t)C * F;            /* one tap of dw */
    uint16_t* xh = (uint16_t*)cnt_ws_get(ws, 0, nx);
    uint32_t* dh = (uint32_t*)cnt_ws_get(ws, 1, 2 * nd);
    float* part = cnt_ws_get(ws, 2, (size_t)nchunks * 36 * KW);
    if (!xh || !dh || !part) return -1;
    uint16_t* xl = xh + nx;
    uint32_t* dl = dh + nd;
    int failed = 0;
    #pragma omp parallel
    {
        uint32_t* th = (uint32_t*)malloc(sizeof(uint32_t) * 2 * (Wp + 16));
        if (!th) {
            #pragma omp atomic write
            failed = 1;
        }
        /* xph[n][2 ph + pw][c][u][v] = xpad[n][c][2u + ph][2v + pw] */
        #pragma omp for schedule(static)
        for (long pl = 0; pl < (long)B * C; ++pl) {
            if (!th) continue;
            uint32_t* tl = th + Wp + 16;
            const int n = pl / C, c = pl % C;
            /* rows 1 .. Ho of each plane are written below; zero row 0,
               row Ho + 1 and the slack */
            for (int pp = 0; pp < 4; ++pp) {
                const size_t o = (((size_t)n * 4 + pp) * C + c) * PS;
                const size_t e = (size_t)(Ho + 1) * Wv;
                memset(xh + o, 0, 2 * (size_t)Wv);
                memset(xl + o, 0, 2 * (size_t)Wv);
                memset(xh + o + e, 0, 2 * ((size_t)PS - e));
                memset(xl + o + e, 0, 2 * ((size_t)PS - e));
            }
            const float* s = x + ((size_t)n * C + c) * H * W;
            for (int i = 0; i < H; ++i) {
                const int r = i + 2, u = r / 2, ph = r % 2;
                cnt_split_row(s + (size_t)i * W, NULL, W, th + 2, tl + 2);
                th[0] = th[1] = tl[0] = tl[1] = 0;
                th[W + 2] = th[W + 3] = tl[W + 2] = tl[W + 3] = 0;
                const size_t o = (((size_t)n * 4 + 2 * ph) * C + c) * PS + (size_t)u * Wv;
                cnt_deinterleave(th, Wv, xh + o, xh + o + (size_t)C * PS, 1);
                cnt_deinterleave(tl, Wv, xl + o, xl + o + (size_t)C * PS, 1);
            }
        }
        /* dyv[n][k / 2][f] = (dy at k, dy at k + 1), k = i Wv + j; zero
           for j >= Wo and k >= K. rh/rl: one row's pair words of every f,
           [f][j2], transposed into dyv. */
        const int W2 = Wo / 2;
        uint32_t* rh = (uint32_t*)malloc(sizeof(uint32_t) * 2 * (size_t)F * W2 + 64);
        if (!rh) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(static)
        for (long r = 0; r < (long)B * Ho; ++r) {
            if (!rh) continue;
            uint32_t* rl = rh + (size_t)F * W2;
            const int n = r / Ho, i = r % Ho;
            const size_t o = ((size_t)n * (Kp / 2) + (size_t)i * (Wv / 2)) * F;
            for (int f = 0; f < F; ++f)
                cnt_split_pixel_pairs(dy + (((size_t)n * F + f) * Ho + i) * Wo, W2,
                                      rh + (size_t)f * W2, rl + (size_t)f * W2);
            for (int j2 = 0; j2 < W2; ++j2) {
                uint32_t* ph = dh + o + (size_t)j2 * F;
                uint32_t* pl = dl + o + (size_t)j2 * F;
                for (int f = 0; f < F; ++f) {
                    ph[f] = rh[(size_t)f * W2 + j2];
                    pl[f] = rl[(size_t)f * W2 + j2];
                }
            }
            memset(dh + o + (size_t)W2 * F, 0, 4 * (size_t)F);   /* the two extra columns */
            memset(dl + o + (size_t)W2 * F, 0, 4 * (size_t)F);
            if (i == Ho - 1) {                   /* k from K to Kp */
                const size_t z = ((size_t)n * (Kp / 2) + K / 2) * F;
                memset(dh + z, 0, 4 * (size_t)(Kp - K) / 2 * F);
                memset(dl + z, 0, 4 * (size_t)(Kp - K) / 2 * F);
            }
        }
        free(rh);
        free(th);
    }
    if (failed) return -1;
    memset(part, 0, sizeof(float) * nchunks * 36 * KW);
    /* A thread takes whole chunks of images, in groups of images whose
       packed x and dy fit in about 1 MB (its L2 cache), and runs the 36
       taps on a group before the next: each image's data is read from
       memory once, not once per tap. Each tap's sum still runs over the
       chunk's images in order. */
    const size_t image_bytes = 4 * (4 * (size_t)C * PS + (size_t)Kp * F);
    const int group = image_bytes >= (1u << 20) ? 1 : (int)((1u << 20) / image_bytes);
    CNT_BARRIER();
    const int ncb = C / 16, nfb = F / 16;
    #pragma omp parallel
    {
        cnt_amx_config(16);
        #pragma omp for schedule(static)
        for (long ch = 0; ch < nchunks; ++ch)
        for (int g0 = ch * B / nchunks; g0 < (ch + 1) * B / nchunks; g0 += group)
        for (int t = 0; t < 36; ++t) {
            const int kh = t / 6, kw = t % 6;
            const int ce = (ch + 1) * B / nchunks;
            const int n1 = g0 + group < ce ? g0 + group : ce;
            const long aoff = (long)(kh / 2) * Wv + kw / 2;
            float* acc = part + ((size_t)ch * 36 + t) * KW;      /* [c][f] */
            for (int cb = 0; cb < ncb; cb += 2)
                for (int fb = 0; fb < nfb; fb += 2) {
                    const int two_c = ncb - cb >= 2, two_f = nfb - fb >= 2;
                    float* a00 = acc + (size_t)16 * cb * F + 16 * fb;
                    _tile_loadd(0, a00, 4L * F);
                    if (two_f) _tile_loadd(1, a00 + 16, 4L * F);
                    if (two_c) _tile_loadd(2, a00 + (size_t)16 * F, 4L * F);
                    if (two_c && two_f) _tile_loadd(3, a00 + (size_t)16 * F + 16, 4L * F);
                    for (int n = g0; n < n1; ++n) {
                        const size_t xo = ((size_t)n * 4 + (kh % 2) * 2 + kw % 2) * C * PS
                                          + (size_t)16 * cb * PS + aoff;
                        const size_t dof = (size_t)n * (Kp / 2) * F + (size_t)16 * fb;
                        for (long kc = 0; kc < Kp; kc += 32) {
                            const uint16_t *ah = xh + xo + kc, *al = xl + xo + kc;
                            const uint32_t *bh = dh + dof + (size_t)kc / 2 * F;
                            const uint32_t *bl = dl + dof + (size_t)kc / 2 * F;
                            _tile_loadd(4, ah, 2 * PS);
                            _tile_loadd(5, al, 2 * PS);
                            _tile_loadd(6, bh, 4L * F);
                            _tile_loadd(7, bl, 4L * F);
                            _tile_dpbf16ps(0, 4, 6);
                            _tile_dpbf16ps(0, 4, 7);
                            _tile_dpbf16ps(0, 5, 6);
                            if (two_f) {
                                _tile_loadd(6, bh + 16, 4L * F);
                                _tile_loadd(7, bl + 16, 4L * F);
                                _tile_dpbf16ps(1, 4, 6);
                                _tile_dpbf16ps(1, 4, 7);
                                _tile_dpbf16ps(1, 5, 6);
                            }
                            if (two_c) {
                                _tile_loadd(4, ah + 16 * PS, 2 * PS);
                                _tile_loadd(5, al + 16 * PS, 2 * PS);
                                if (two_f) {
                                    _tile_dpbf16ps(3, 4, 6);
                                    _tile_dpbf16ps(3, 4, 7);
                                    _tile_dpbf16ps(3, 5, 6);
                                    _tile_loadd(6, bh, 4L * F);
                                    _tile_loadd(7, bl, 4L * F);
                                }
                                _tile_dpbf16ps(2, 4, 6);
                                _tile_dpbf16ps(2, 4, 7);
                                _tile_dpbf16ps(2, 5, 6);
                            }
                        }
                    }
                    _tile_stored(0, a00, 4L * F);
                    if (two_f) _tile_stored(1, a00 + 16, 4L * F);
                    if (two_c) _tile_stored(2, a00 + (size_t)16 * F, 4L * F);
                    if (two_c && two_f) _tile_stored(3, a00 + (size_t)16 * F + 16, 4L * F);
                }
        }
        _tile_release();
    }
    /* dw[f][c][kh][kw] = sum over chunks, in order (into chunk 0's rows,
       read contiguously) */
    #pragma omp parallel for schedule(static)
    for (long tc = 0; tc < 36L * C; ++tc) {
        const int t = tc / C, c = tc % C;
        float* acc = part + (size_t)t * KW + (size_t)c * F;
        for (int ch = 1; ch < nchunks; ++ch) {
            const float* p = acc + (size_t)ch * 36 * KW;
            for (int f = 0; f < F; ++f) acc[f] += p[f];
        }
        for (int f = 0; f < F; ++f) dw[((size_t)f * C + c) * 36 + t] = acc[f];
    }
    return 0;
}
#endif /* CNT_HAVE_AMX */
#endif
