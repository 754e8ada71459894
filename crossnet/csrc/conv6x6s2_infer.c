/* Direct 6x6 / stride-2 / pad-2 correlation + bias + leaky ReLU for
 * inference (crossnet/ops/conv6x6.py's Conv6x6S2, read at import and
 * compiled by aesara).
 *
 * x: channels-last with a zero border of 2, (B, H + 4, W + 4, C); w: the
 * (6, 6, C, F) kernel, F a multiple of 32; out: NCHW (B, F, Ho, Wo) or
 * padded channels-last (B, Ho + 4, Wo + 4, F) for the next layer. A tile of
 * T output pixels x 32 channels is accumulated in 2 T vectors of 16 floats
 * (GCC vector extensions of the native width, the training kernels'
 * cnt_vn: one AVX-512 register, two AVX or four SSE), each input value
 * broadcast once per tile; the tile size follows the registers the
 * compiler targets.
 */
#include <stdlib.h>
#include <string.h>
#ifndef CROSSNET_CONV6X6_SUPPORT
#define CROSSNET_CONV6X6_SUPPORT
/* cnt_ws, the AMX helpers (bf16 splits, tile configuration, run-time
   check) and the Winograd forward (cnw_forward) of the training kernels */
#include "conv6x6s2_train.c"
#define CN_TILE CNT_TMAX     /* pixels per tile: the training tile's */

/* One tile of T output pixels x 32 channels: the training kernels' tile
   (cnt_tile_T_2: R = 6 kernel rows of L = 6 C inputs, pixels 2 C apart)
   into a local buffer, then
   out[t][0:32] = lrelu(b + sum_{kh, j} x[kh * xs_row + t * 2C + j] w[kh][j][0:32])
   x points at padded row 2 oh, column 2 ow0, channel 0 (channels-last);
   j runs over the 6 C contiguous (kw, c) inputs of a kernel row; w is the
   (6, 6, C, F) kernel offset to this tile's first output channel. */
#define CN_DEFINE_TILE(T)                                                      \
static inline void cn_tile_##T(const float* x, long xs_row, int C,             \
        const float* w, long F, const float* bias, float leak,                 \
        float* out, long out_step, int out_nchw) {                             \
    float acc[T * 32] __attribute__((aligned(64)));                            \
    cnt_tile_##T##_2(x, xs_row, 6, 6 * C, 2 * C, w, F, acc, 32, 0);            \
    _Pragma("GCC unroll 16")                                                   \
    for (int t = 0; t < T; ++t)                                                \
        for (int v = 0; v < 2 * CNT_VPER; ++v) {                               \
            cnt_vn y = *(const cnt_vn*)(acc + 32 * t + CNT_VW * v)             \
                       + *(const cnt_vnu*)(bias + CNT_VW * v);                 \
            y = y > 0 ? y : y * leak;                                          \
            if (out_nchw)          /* out: [f][pixel], f stride out_step */    \
                for (int f = 0; f < CNT_VW; ++f)                               \
                    out[(CNT_VW * v + f) * out_step + t] = y[f];               \
            else                   /* out: [pixel][f], pixel stride out_step */\
                *(cnt_vnu*)(out + t * out_step + CNT_VW * v) = y;              \
        }                                                                      \
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
            const int T = cnt_tile_width(Wo - ow, CN_TILE);
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

/* Channels-last copy of NCHW x (B, C, H, W) with a zero border of 2 into a
   grow-only workspace (*ws, *ws_size floats); NULL when out of memory. */
static float* cn_pack_nchw(const float* src, int B, int C, int H, int Wd,
        float** ws, size_t* ws_size) {
    const int Hp = H + 4, Wp = Wd + 4;
    const size_t need = (size_t)B * Hp * Wp * C + 16;   /* > 0 for B = 0 */
    if (*ws_size < need) {
        free(*ws);
        if (posix_memalign((void**)ws, 64, sizeof(float) * need) != 0)
            *ws = NULL;
        *ws_size = *ws ? need : 0;
        if (!*ws) return NULL;
    }
    float* p = *ws;
    memset(p, 0, sizeof(float) * need);
    for (int n = 0; n < B; ++n)
        for (int c = 0; c < C; ++c)
            for (int i = 0; i < H; ++i) {
                const float* s = src + (((size_t)n * C + c) * H + i) * Wd;
                float* d = p + (((size_t)n * Hp + i + 2) * Wp + 2) * C + c;
                for (int j = 0; j < Wd; ++j) d[(size_t)j * C] = s[j];
            }
    return p;
}

#if CNT_HAVE_AMX
/* A large layer on AMX (bf16x3: about 1e-5 relative, see
   conv6x6s2_amx.c): padded channels-last xp -> padded channels-last o, +
   bias, leaky ReLU. Pixel-major tile products,
     o[16 pixels][16 f] += X(t, kc)[16 pixels][32 c] W(t, kc, q)[32 c][16 f],
   the rows of X(t, kc) read straight from a bf16 hi/lo copy of xp (one row
   every 2 C elements), W VNNI tiles per (tap, 32 channels, 16 outputs).
   C % 32 == 0, F % 32 == 0, Wo % 16 == 0. -1 when out of memory.
   ws: 0 x hi/lo, 1 weight tiles hi/lo. Every output is summed in a fixed
   order. */
static int cn_amx_fits(int C, int F, int Wo) {
    return C % 32 == 0 && F % 32 == 0 && Wo % 16 == 0;
}

CNT_AMX_FN static int cn_amx_conv_nhwc(const float* xp, int B, int C, int H,
        int Wd, const float* w, int F, const float* bias, float leak, float* o,
        cnt_ws* ws) {
    const int Hp = H + 4, Wp = Wd + 4, Ho = H / 2, Wo = Wd / 2;
    const int Hq = Ho + 4, Wq = Wo + 4, nkc = C / 32, nq = F / 16;
    const size_t nx = (size_t)B * Hp * Wp * C, nw = (size_t)36 * nkc * nq * 512;
    uint16_t* xh = (uint16_t*)cnt_ws_get(ws, 0, nx);        /* 2 nx uint16 */
    uint16_t* wh = (uint16_t*)cnt_ws_get(ws, 1, nw);
    if (!xh || !wh) return -1;
    uint16_t *xl = xh + nx, *wl = wh + nw;
    const long rowlen = (long)Wp * C;                        /* a multiple of 32 */
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < (long)B * Hp; ++r)
        cnt_split_bf16(xp + (size_t)r * rowlen, rowlen, xh + (size_t)r * rowlen,
                       xl + (size_t)r * rowlen);
    /* W(t)[c][f] = w[t][c][f] */
    cnt_amx_pack_w_pm(w, (long)C * F, F, 1, C, F, wh, wl);
    for (int n = 0; n < B; ++n) {          /* border rows of the padded output */
        float* on = o + (size_t)n * Hq * Wq * F;
        memset(on, 0, sizeof(float) * 2 * Wq * F);
        memset(on + (size_t)(Ho + 2) * Wq * F, 0, sizeof(float) * 2 * Wq * F);
    }
    const long os = 4L * F;
    #pragma omp parallel
    {
        cnt_amx_config(16);
        #pragma omp for schedule(static)
        for (long r = 0; r < (long)B * Ho; ++r) {
            const int n = r / Ho, i = r % Ho;
            float* orow = o + ((size_t)n * Hq + i + 2) * Wq * F;
            for (int j = 0; j < Wo; j += 32) {
                const int two_p = Wo - j >= 32;
                for (int q = 0; q < nq; q += 2) {
                    cnt_amx_pm_tiles(xh, xl, (((size_t)n * Hp + 2 * i) * Wp + 2 * j) * C,
                                     Wp, C, wh, wl, nq, q, two_p);
                    float* o0 = orow + (size_t)(2 + j) * F + 16 * q;
                    _tile_stored(0, o0, os);
                    _tile_stored(1, o0 + 16, os);
                    if (two_p) {
                        _tile_stored(2, o0 + (size_t)16 * F, os);
                        _tile_stored(3, o0 + (size_t)16 * F + 16, os);
                    }
                }
            }
            /* bias, leaky ReLU; zero the two border pixels at each end */
            const __m512 vl = _mm512_set1_ps(leak);
            for (int p = 0; p < Wo; ++p)
                for (int f = 0; f < F; f += 16) {
                    float* v = orow + (size_t)(2 + p) * F + f;
                    const __m512 z = _mm512_add_ps(_mm512_loadu_ps(v), _mm512_loadu_ps(bias + f));
                    const __mmask16 neg = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LE_OQ);
                    _mm512_storeu_ps(v, _mm512_mask_mul_ps(z, neg, z, vl));
                }
            memset(orow, 0, sizeof(float) * 2 * F);
            memset(orow + (size_t)(Wo + 2) * F, 0, sizeof(float) * 2 * F);
        }
        _tile_release();
    }
    return 0;
}
#endif

/* The whole layer: xp padded channels-last (B, H + 4, W + 4, C) -> o; rows
   of output pixels shared among threads when ``parallel``. */
static void cn_conv_layer(const float* xp, int B, int C, int H, int Wd,
        const float* wt, int F, const float* bias, float leak, float* o,
        int out_nchw, int parallel) {
    const int Wp = Wd + 4;
    const int Ho = (H - 2) / 2 + 1, Wo = (Wd - 2) / 2 + 1;
    const int Hq = Ho + 4, Wq = Wo + 4;
    const long rows = (long)B * Ho;
    const long xs_row = (long)Wp * C;
    if (!out_nchw) {     /* zero border rows of the padded output */
        for (int n = 0; n < B; ++n) {
            float* on = o + (size_t)n * Hq * Wq * F;
            memset(on, 0, sizeof(float) * 2 * Wq * F);
            memset(on + (size_t)(Ho + 2) * Wq * F, 0, sizeof(float) * 2 * Wq * F);
        }
    }
    #pragma omp parallel for schedule(static) if(parallel)
    for (long r = 0; r < rows; ++r) {
        const int n = r / Ho, oh = r % Ho;
        const float* xrow = xp + ((size_t)n * (H + 4) + 2 * oh) * xs_row;
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
#endif
