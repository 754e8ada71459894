/* Winograd kernels for the 6x6 / stride-2 / pad-2 correlation on the
 * float32 path: F(4x4, 3x3) for the forward pass (training, and the
 * inference Op of conv6x6s2_infer.c with bias and leaky ReLU) and for the
 * input gradient, F(3x3, 4x4) for the weight gradient (at the end). Included
 * by conv6x6s2_train.c after its register tile, which runs the products.
 *
 * Polyphase: with kh = 2 r + p, kw = 2 s + q (r, s < 3; p, q < 2),
 *   y[f][i][j] = sum_{c,p,q} sum_{r,s} xq[c,p,q][i + r][j + s] g[f][c,p,q][r][s],
 *   xq[c,p,q][a][b] = xpad[c][2 a + p][2 b + q],  g[f][c,p,q][r][s] = w[f][c][2r+p][2s+q],
 * a 3x3 stride-1 correlation over K = 4 C channels (c, p, q). Winograd
 * F(4x4, 3x3) (Lavin and Gray 2016, points 0, +-1, +-2, infinity) computes
 * each 4x4 output tile from a 6x6 input patch with 36 products per
 * (channel, filter) instead of 144:
 *   Y = A^T [ sum_k (G g_k G^T) .* (B^T d_k B) ] A.
 * For a block of tiles: V[xi][t][k] = (B^T d B)[xi] (16 channels per
 * vector), then for each of the 36 positions xi the product
 * M[xi][t][f] = sum_k V[xi][t][k] U[xi][k][f] on the register tile of
 * cnt_row (tiles as pixels, K as the reduction), then Y = A^T M A per tile
 * and 16 output channels, written to NCHW through a 16 x 16 transpose.
 * Relative error about 1e-5 of the largest output (the direct tile: 1e-7;
 * the tests hold both to 1e-4 against CorrMM). Every output is summed in a
 * fixed order: results do not depend on the number of threads. A NaN or
 * infinite input makes every output of the 4x4 tiles whose patch holds it
 * NaN (the transforms mix a patch), a superset of its receptive field.
 *
 * Used where cnw_fits (16-channel blocks, output rows and columns whole
 * tiles, at least 8 rows and 16 columns); other shapes keep the direct tile.
 */
#ifndef CROSSNET_CONV6X6S2_WINOGRAD
#define CROSSNET_CONV6X6S2_WINOGRAD

#define CNW_TB CNT_TMAX         /* tiles per block: one register tile */

/* Where the transforms pay: 16-channel blocks, whole tiles, and rows of at
   least 16 outputs (measured, AMD EPYC: 1.4-1.6x the direct tile from 16
   output columns, slower below: the kernel and input transforms are a
   fixed cost per call and per tile) */
static int cnw_fits(int C, int F, int Ho, int Wo) {
    return C % 16 == 0 && F % 16 == 0 && Ho % 4 == 0 && Wo % 4 == 0 && Ho >= 8
           && Wo >= 16;
}

/* Blocks of whole tile rows, at most CNW_TB tiles (rows of several images
   when a row is short), but at least two blocks per thread where there are
   tile rows enough: tile rows per block and tiles per product. (Each
   output is computed alike in any block: the blocks do not change the
   results.) */
static void cnw_blocks(int ntj, long nrows, int* rows_per_block, int* tb) {
#ifdef _OPENMP
    const long threads = omp_get_max_threads();
#else
    const long threads = 1;
#endif
    long r = ntj >= CNW_TB ? 1 : CNW_TB / ntj;
    if (r > 1 && nrows / r < 2 * threads)
        r = nrows / (2 * threads) > 1 ? nrows / (2 * threads) : 1;
    *rows_per_block = (int)r;
    *tb = *rows_per_block * (ntj < CNW_TB ? ntj : CNW_TB);
}

/* u = G g G^T for a 3x3 g (rows rs, columns cs floats apart: one parity
   of a 6x6 kernel); u[36] row-major (6 x 6) */
static void cnw_kernel_transform(const float* g, long rs, long cs, float* u) {
    static const float Gm[6][3] = {
        {1.0f / 4, 0, 0}, {-1.0f / 6, -1.0f / 6, -1.0f / 6},
        {-1.0f / 6, 1.0f / 6, -1.0f / 6}, {1.0f / 24, 1.0f / 12, 1.0f / 6},
        {1.0f / 24, -1.0f / 12, 1.0f / 6}, {0, 0, 1}};
    float t[6][3];
    for (int a = 0; a < 6; ++a)
        for (int s = 0; s < 3; ++s)
            t[a][s] = Gm[a][0] * g[0 * rs + s * cs] + Gm[a][1] * g[1 * rs + s * cs]
                      + Gm[a][2] * g[2 * rs + s * cs];
    for (int a = 0; a < 6; ++a)
        for (int b = 0; b < 6; ++b)
            u[a * 6 + b] = t[a][0] * Gm[b][0] + t[a][1] * Gm[b][1] + t[a][2] * Gm[b][2];
}

/* n kernels (g + i gn, i < n) -> their transforms, u[xi us + i] */
static void cnw_kernel_row(const float* g, long gn, long rs, long cs, int n,
                           float* u, long us) {
    for (int i = 0; i < n; ++i) {
        float t[36];
        cnw_kernel_transform(g + i * gn, rs, cs, t);
        for (int xi = 0; xi < 36; ++xi) u[xi * us + i] = t[xi];
    }
}

/* o[i F + f] = leaky(o[i F + f] + bias[f]) for i < n, f < F (F % 16 == 0;
   bias may be NULL) */
static inline void cnw_bias_leaky(float* o, int n, int F, const float* bias,
                                  float leak) {
    for (int i = 0; i < n; ++i)
        for (int f = 0; f < F; f += CNT_VW) {
            cnt_vn v = *(cnt_vnu*)(o + (size_t)i * F + f);
            if (bias) v += *(const cnt_vnu*)(bias + f);
            v = v > 0 ? v : v * leak;
            *(cnt_vnu*)(o + (size_t)i * F + f) = v;
        }
}

/* 6 vectors d[0..5] (stride ds) -> B^T d into o[0..5] (stride os) */
#define CNW_BT(d, ds, o, os) do {                                              \
    const cnt_vn d0 = (d)[0 * (ds)], d1 = (d)[1 * (ds)], d2 = (d)[2 * (ds)],    \
                 d3 = (d)[3 * (ds)], d4 = (d)[4 * (ds)], d5 = (d)[5 * (ds)];    \
    const cnt_vn a = d4 - 4.0f * d2, b = d3 - 4.0f * d1;                        \
    const cnt_vn c = d4 - d2, e = 2.0f * (d3 - d1);                             \
    (o)[0 * (os)] = 4.0f * d0 - 5.0f * d2 + d4;                                 \
    (o)[1 * (os)] = a + b;                                                      \
    (o)[2 * (os)] = a - b;                                                      \
    (o)[3 * (os)] = c + e;                                                      \
    (o)[4 * (os)] = c - e;                                                      \
    (o)[5 * (os)] = 4.0f * d1 - 5.0f * d3 + d5;                                 \
} while (0)

/* 4 vectors g[0..3] (stride gs) -> A g into o[0..5] (stride os): the
   transform of a 4 x 4 dy tile in the weight gradient, F(3x3, 4x4), whose
   matrices are F(4x4, 3x3)'s with A and G exchanged */
#define CNW_A(g, gs, o, os) do {                                               \
    const cnt_vn g0 = (g)[0 * (gs)], g1 = (g)[1 * (gs)], g2 = (g)[2 * (gs)],    \
                 g3 = (g)[3 * (gs)];                                            \
    const cnt_vn s02 = g0 + g2, s13 = g1 + g3;                                  \
    const cnt_vn t02 = g0 + 4.0f * g2, t13 = 2.0f * g1 + 8.0f * g3;             \
    (o)[0 * (os)] = g0;                                                         \
    (o)[1 * (os)] = s02 + s13;                                                  \
    (o)[2 * (os)] = s02 - s13;                                                  \
    (o)[3 * (os)] = t02 + t13;                                                  \
    (o)[4 * (os)] = t02 - t13;                                                  \
    (o)[5 * (os)] = g3;                                                         \
} while (0)

/* 6 vectors m[0..5] (stride ms) -> G^T m into o[0..2] (stride os) */
#define CNW_GT(m, ms, o, os) do {                                              \
    const cnt_vn m0 = (m)[0 * (ms)], m1 = (m)[1 * (ms)], m2 = (m)[2 * (ms)],    \
                 m3 = (m)[3 * (ms)], m4 = (m)[4 * (ms)], m5 = (m)[5 * (ms)];    \
    const cnt_vn s12 = m1 + m2, d12 = m2 - m1, s34 = m3 + m4, d34 = m3 - m4;    \
    (o)[0 * (os)] = 0.25f * m0 - (1.0f / 6) * s12 + (1.0f / 24) * s34;          \
    (o)[1 * (os)] = (1.0f / 6) * d12 + (1.0f / 12) * d34;                       \
    (o)[2 * (os)] = (1.0f / 6) * (s34 - s12) + m5;                              \
} while (0)

/* 6 vectors m[0..5] (stride ms) -> A^T m into o[0..3] (stride os) */
#define CNW_AT(m, ms, o, os) do {                                              \
    const cnt_vn m0 = (m)[0 * (ms)], m1 = (m)[1 * (ms)], m2 = (m)[2 * (ms)],    \
                 m3 = (m)[3 * (ms)], m4 = (m)[4 * (ms)], m5 = (m)[5 * (ms)];    \
    const cnt_vn s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;    \
    (o)[0 * (os)] = m0 + s12 + s34;                                             \
    (o)[1 * (os)] = d12 + 2.0f * d34;                                           \
    (o)[2 * (os)] = s12 + 4.0f * s34;                                           \
    (o)[3 * (os)] = d12 + 8.0f * d34 + m5;                                      \
} while (0)

/* V (36 vectors, stride vs) <- B^T d B of the 6 x 6 patch of 16 channels
   at p (rows rs, columns cs floats apart) */
static inline void cnw_input_tile(const float* p, long rs, long cs,
                                  float* V, long vs) {
    for (int e = 0; e < 16; e += CNT_VW) {     /* native vectors */
        cnt_vn d[36], t[36];
        for (int u = 0; u < 6; ++u)
            for (int v = 0; v < 6; ++v) d[u * 6 + v] = *(const cnt_vnu*)(p + u * rs + v * cs + e);
        for (int v = 0; v < 6; ++v) CNW_BT(d + v, 6, t + v, 6);        /* columns */
        for (int u = 0; u < 6; ++u) CNW_BT(t + u * 6, 1, d + u * 6, 1); /* rows */
        for (int x = 0; x < 36; ++x) *(cnt_vnu*)(V + x * vs + e) = d[x];
    }
}

/* D (36 vectors, stride dsv) <- A g A^T of a 4 x 4 tile g of 16 channels
   at p (rows rs, columns cs floats apart) */
static inline void cnw_dy_tile(const float* p, long rs, long cs, float* D,
                               long dsv) {
    for (int e = 0; e < 16; e += CNT_VW) {     /* native vectors */
        cnt_vn g[16], t[24], d[36];
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) g[i * 4 + j] = *(const cnt_vnu*)(p + i * rs + j * cs + e);
        for (int j = 0; j < 4; ++j) CNW_A(g + j, 4, t + j, 4);         /* 6 x 4 */
        for (int u = 0; u < 6; ++u) CNW_A(t + u * 4, 1, d + u * 6, 1); /* 6 x 6 */
        for (int x = 0; x < 36; ++x) *(cnt_vnu*)(D + x * dsv + e) = d[x];
    }
}

/* 16 output channels of one tile: M (36 vectors, stride ms) -> A^T M A,
   the 4 x 4 pixels (i, j) into o[i rs + j cs] */
static inline void cnw_output_tile_strided(const float* M, long ms, float* o,
                                           long cs, long rs) {
    for (int e = 0; e < 16; e += CNT_VW) {     /* native vectors */
        cnt_vn m[36], t[24], y[16];
        for (int x = 0; x < 36; ++x) m[x] = *(const cnt_vnu*)(M + x * ms + e);
        for (int v = 0; v < 6; ++v) CNW_AT(m + v, 6, t + v, 6);        /* 4 x 6 */
        for (int i = 0; i < 4; ++i) CNW_AT(t + i * 6, 1, y + i * 4, 1); /* 4 x 4 */
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) *(cnt_vnu*)(o + i * rs + j * cs + e) = y[i * 4 + j];
    }
}

/* the same, 16 pixels row-major into o[pixel os] */
static inline void cnw_output_tile(const float* M, long ms, float* o, long os) {
    cnw_output_tile_strided(M, ms, o, os, 4 * os);
}

/* U[xi][(p 2 + q) C + c][f] = (G g G^T)[xi], g[r][s] = w(f, c, 2r + p, 2s + q)
   with w(f, c, kh, kw) = w[f sf + c sc + kh sh + kw sw] (the F C 36 floats
   of w contiguous, in any order of the four axes); kept in ws buffer 3
   after a copy of w, and made again only when w (or its shape) changed:
   inference weights do not change between calls. NULL: out of memory. */
static const float* cnw_forward_kernel(const float* w, int F, int C, long sf,
                                       long sc, long sh, long sw, cnt_ws* ws) {
    const int K = 4 * C;
    const size_t nw = (size_t)F * C * 36, nu = (size_t)36 * K * F;
    float* kept = cnt_ws_get(ws, 3, nw + nu);
    if (!kept) { ws->kept[0] = 0; return NULL; }
    float* U = kept + nw;
    if (ws->kept[0] == 1 && ws->kept[1] == F && ws->kept[2] == C
            && memcmp(w, kept, sizeof(float) * nw) == 0)
        return U;
    memcpy(kept, w, sizeof(float) * nw);
    #pragma omp parallel for schedule(static)
    for (int k = 0; k < K; ++k) {
        const int p = k / (2 * C), q = (k / C) % 2, c = k % C;
        cnw_kernel_row(w + c * sc + p * sh + q * sw, sf, 2 * sh, 2 * sw, F,
                       U + (size_t)k * F, (long)K * F);
    }
    ws->kept[0] = 1;
    ws->kept[1] = F;
    ws->kept[2] = C;
    return U;
}

/* Forward: x (B, C, H, W) NCHW, or with in_nhwc padded channels-last (B,
   H + 4, W + 4, C); w(f, c, kh, kw) at f sf + c sc + kh sh + kw sw; y (B, F,
   H/2, W/2) NCHW, or with out_nhwc padded channels-last (B, H/2 + 4, W/2 +
   4, F) (zero border of 2), after y + bias (unless NULL) and a leaky ReLU of
   slope leak (1: none).
   Blocks of whole tile rows (at most CNW_TB tiles; tile rows may belong to
   different images); from NCHW each block packs the 12 padded input rows
   of its tile rows channels-last into a per-thread buffer (read while they
   are in cache, instead of a packed copy of all of x), transforms them,
   runs the 36 products and writes its outputs.
   ws buffers: 2 per thread: the packed rows, V [36][TB][4 C], M
   [36][TB][F], the output staging [TB][16][F] and a 16 x 16 transpose;
   3 the transformed kernel. -1: out of memory. */
static int cnw_forward(const float* x, int in_nhwc, int B, int C, int H, int W,
                       const float* w, long sf, long sc, long sh, long sw, int F,
                       const float* bias, float leak, float* y, int out_nhwc,
                       cnt_ws* ws) {
    const int Wp = W + 4, Ho = H / 2, Wo = W / 2, K = 4 * C;
    const int Hq = Ho + 4, Wq = Wo + 4;
    const int nti = Ho / 4, ntj = Wo / 4;
    int rows_per_block, tb;
    const long nrows = (long)B * nti;
    cnw_blocks(ntj, nrows, &rows_per_block, &tb);
    const long nblocks = (nrows + rows_per_block - 1) / rows_per_block;
    const size_t rowsz = in_nhwc ? 0 : (size_t)12 * Wp * C;      /* one tile row's input */
    const size_t per = rows_per_block * rowsz + (size_t)36 * tb * (K + F)
                       + (size_t)tb * 16 * F + 256;
    const float* U = cnw_forward_kernel(w, F, C, sf, sc, sh, sw, ws);
    float* bufs = cnt_ws_threads(ws, 2, per);
    if (!U || !bufs) return -1;
    #pragma omp parallel
    {
        float* rows = cnt_thread_buffer(bufs, per);
        float* V = rows + rows_per_block * rowsz;
        float* M = V + (size_t)36 * tb * K;
        float* O = M + (size_t)36 * tb * F;                /* [tile][16][F] */
        float* T = O + (size_t)tb * 16 * F;                /* 16 x 16 */
        #pragma omp for schedule(static)
        for (long blk = 0; blk < nblocks; ++blk) {
            const long r0 = blk * rows_per_block;
            const int nr = nrows - r0 < rows_per_block ? (int)(nrows - r0) : rows_per_block;
            for (int jb = 0; jb < ntj; jb += CNW_TB) {     /* tiles of a wide row */
                const int nj = ntj - jb < CNW_TB ? ntj - jb : CNW_TB, nt = nr * nj;
                for (int k = 0; k < nr; ++k) {             /* pack, transform */
                    const int n = (r0 + k) / nti, ti = (r0 + k) % nti;
                    const float* rk;
                    if (in_nhwc) {
                        rk = x + ((size_t)n * (H + 4) + 8 * ti) * Wp * C;
                    } else {
                        float* packed = rows + k * rowsz;
                        if (jb == 0)
                            for (int u = 0; u < 12; ++u)
                                cnt_pack_row(x, n, C, H, W, 2, 8 * ti + u,
                                             packed + (size_t)u * Wp * C);
                        rk = packed;
                    }
                    for (int j = 0; j < nj; ++j)
                        for (int p = 0; p < 2; ++p)
                            for (int q = 0; q < 2; ++q)
                                for (int c = 0; c < C; c += 16)
                                    cnw_input_tile(rk + ((size_t)p * Wp + 8 * (jb + j) + q) * C + c,
                                                   2L * Wp * C, 2L * C,
                                                   V + (size_t)(k * nj + j) * K + (p * 2 + q) * C + c,
                                                   (long)tb * K);
                }
                for (int xi = 0; xi < 36; ++xi)            /* 36 products */
                    cnt_row(V + (size_t)xi * tb * K, 0, 1, K, K, nt,
                            U + (size_t)xi * K * F, F, M + (size_t)xi * tb * F, F);
                for (int t = 0; t < nt; ++t) {             /* output transform */
                    const int k = t / nj, tj = jb + t % nj;
                    const int n = (r0 + k) / nti, ti = (r0 + k) % nti;
                    float* o = O + (size_t)t * 16 * F;
                    for (int f = 0; f < F; f += 16)
                        cnw_output_tile(M + (size_t)t * F + f, (long)tb * F, o + f, F);
                    if (bias || leak != 1.0f)
                        cnw_bias_leaky(o, 16, F, bias, leak);
                    if (out_nhwc) {                        /* [pixel][f] rows */
                        for (int i = 0; i < 4; ++i)
                            memcpy(y + (((size_t)n * Hq + 4 * ti + i + 2) * Wq + 4 * tj + 2) * F,
                                   o + (size_t)i * 4 * F, sizeof(float) * 4 * F);
                        continue;
                    }
                    for (int f = 0; f < F; f += 16) {      /* [pixel][f] -> NCHW */
                        cnt_transpose16(o + f, F, T, 16);
                        for (int kk = 0; kk < 16; ++kk)
                            for (int i = 0; i < 4; ++i)
                                memcpy(y + (((size_t)n * F + f + kk) * Ho + 4 * ti + i) * Wo + 4 * tj,
                                       T + kk * 16 + 4 * i, 4 * sizeof(float));
                    }
                }
                if (out_nhwc && jb == 0)                   /* the zero border */
                    for (int k = 0; k < nr; ++k) {
                        const int n = (r0 + k) / nti, ti = (r0 + k) % nti;
                        float* on = y + (size_t)n * Hq * Wq * F;
                        if (ti == 0) memset(on, 0, sizeof(float) * 2 * Wq * F);
                        if (ti == nti - 1)
                            memset(on + (size_t)(Ho + 2) * Wq * F, 0, sizeof(float) * 2 * Wq * F);
                        for (int i = 0; i < 4; ++i) {
                            float* row = on + (size_t)(4 * ti + i + 2) * Wq * F;
                            memset(row, 0, sizeof(float) * 2 * F);
                            memset(row + (size_t)(Wo + 2) * F, 0, sizeof(float) * 2 * F);
                        }
                    }
            }
        }
    }
    return 0;
}

/* Input gradient: dy (B, F, Ho, Wo), w (F, C, 6, 6) -> dx (B, C, 2 Ho, 2 Wo).
   The four parities of dx are 3x3 correlations of dy padded by 1,
     dx[c][2a + pi][2b + pj] = sum_f sum_{r,s} dyp[f][a + r][b + s] w[f][c][pi + 4 - 2r][pj + 4 - 2s],
   over K = F channels; they share one input transform of each 6 x 6 patch
   of dyp, then 4 x 36 products and four output transforms give an 8 x 8
   block of dx. Blocks as the forward's; ws buffers: 1 the transformed
   kernels U [4][36][F][C]; 2 per thread: the packed dyp rows, V
   [36][TB][F], M [4][36][TB][C], the staging [TB][64][C], a transpose. */
static int cnw_grad_input(const float* dy, int B, int F, int Ho, int Wo,
                          const float* w, int C, float* dx, cnt_ws* ws) {
    const int H = 2 * Ho, W = 2 * Wo, Wq = Wo + 2;
    const int nti = Ho / 4, ntj = Wo / 4;
    int rows_per_block, tb;
    const long nrows = (long)B * nti;
    cnw_blocks(ntj, nrows, &rows_per_block, &tb);
    const long nblocks = (nrows + rows_per_block - 1) / rows_per_block;
    const size_t rowsz = (size_t)6 * Wq * F;
    const size_t per = rows_per_block * rowsz + (size_t)36 * tb * (F + 4 * C)
                       + (size_t)tb * 64 * C + 256;
    float* U = cnt_ws_get(ws, 1, (size_t)4 * 36 * F * C);
    float* bufs = cnt_ws_threads(ws, 2, per);
    if (!U || !bufs) return -1;
    /* U[pi 2 + pj][xi][f][c] = (G g G^T)[xi], g[r][s] = w[f][c][pi+4-2r][pj+4-2s] */
    #pragma omp parallel for schedule(static)
    for (int e = 0; e < 4 * F; ++e) {
        const int par = e / F, f = e % F;
        cnw_kernel_row(w + (size_t)f * C * 36 + (par / 2 + 4) * 6 + par % 2 + 4, 36,
                       -12, -2, C, U + ((size_t)par * 36 * F + f) * C, (long)F * C);
    }
    #pragma omp parallel
    {
        float* rows = cnt_thread_buffer(bufs, per);
        float* V = rows + rows_per_block * rowsz;
        float* M = V + (size_t)36 * tb * F;
        float* O = M + (size_t)4 * 36 * tb * C;            /* [tile][8 x 8][C] */
        float* T = O + (size_t)tb * 64 * C;
        #pragma omp for schedule(static)
        for (long blk = 0; blk < nblocks; ++blk) {
            const long r0 = blk * rows_per_block;
            const int nr = nrows - r0 < rows_per_block ? (int)(nrows - r0) : rows_per_block;
            for (int jb = 0; jb < ntj; jb += CNW_TB) {
                const int nj = ntj - jb < CNW_TB ? ntj - jb : CNW_TB, nt = nr * nj;
                for (int k = 0; k < nr; ++k) {             /* pack, transform */
                    const int n = (r0 + k) / nti, ta = (r0 + k) % nti;
                    float* rk = rows + k * rowsz;
                    if (jb == 0)
                        for (int u = 0; u < 6; ++u)
                            cnt_pack_row(dy, n, F, Ho, Wo, 1, 4 * ta + u,
                                         rk + (size_t)u * Wq * F);
                    for (int j = 0; j < nj; ++j)
                        for (int f = 0; f < F; f += 16)
                            cnw_input_tile(rk + (size_t)4 * (jb + j) * F + f,
                                           (long)Wq * F, F,
                                           V + (size_t)(k * nj + j) * F + f,
                                           (long)tb * F);
                }
                for (int par = 0; par < 4; ++par)          /* 4 x 36 products */
                    for (int xi = 0; xi < 36; ++xi)
                        cnt_row(V + (size_t)xi * tb * F, 0, 1, F, F, nt,
                                U + ((size_t)par * 36 + xi) * F * C, C,
                                M + ((size_t)par * 36 + xi) * tb * C, C);
                for (int t = 0; t < nt; ++t) {             /* output transforms */
                    const int k = t / nj, tj = jb + t % nj;
                    const int n = (r0 + k) / nti, ta = (r0 + k) % nti;
                    float* o = O + (size_t)t * 64 * C;
                    for (int par = 0; par < 4; ++par)      /* pixel (2i+pi, 2j+pj) */
                        for (int c = 0; c < C; c += 16)
                            cnw_output_tile_strided(
                                M + ((size_t)par * 36 * tb + t) * C + c, (long)tb * C,
                                o + (size_t)((par / 2) * 8 + par % 2) * C + c,
                                2L * C, 16L * C);
                    for (int c = 0; c < C; c += 16)        /* [pixel][c] -> NCHW */
                        for (int h = 0; h < 4; ++h) {      /* 16 pixels: 2 rows of 8 */
                            cnt_transpose16(o + (size_t)h * 16 * C + c, C, T, 16);
                            for (int kk = 0; kk < 16; ++kk)
                                for (int i = 0; i < 2; ++i)
                                    memcpy(dx + (((size_t)n * C + c + kk) * H + 8 * ta + 2 * h + i) * W + 8 * tj,
                                           T + kk * 16 + 8 * i, 8 * sizeof(float));
                        }
                }
            }
        }
    }
    return 0;
}

/* Weight gradient: x (B, C, H, W), dy (B, F, H/2, W/2) -> dw (F, C, 6, 6).
   Per phase (p, q) the 3 x 3 kernel parity is a correlation of xq[c,p,q]
   with dy, summed over pixels: over every 4 x 4 tile of dy, Winograd
   F(3x3, 4x4) (36 products per tile instead of 144),
     dw_pq[f][c] = G^T [ sum_tiles (A dy_tile A^T)[f] .* (B^T x_patch B)[c] ] G,
   with the sum over tiles taken in the transformed domain: for each of the
   36 positions a product M[xi][f][k] += sum_t D[xi][f][t] V[xi][t][k]
   (k = (p, q, c); the register tile with tiles as its reduction). Tiles are
   split into a fixed number of chunks (by their count, not the threads'),
   each with its partial sum, added in order: the result does not depend on
   the number of threads. ws buffers: 1 the partial sums; 2 per thread: one
   tile row's packed x and dy rows, V [36][WTB][4 C], D [36][WTB][F], its
   transpose. */
#define CNW_WTB 32          /* tiles per product of the weight gradient */

static int cnw_grad_weights(const float* x, int B, int C, int H, int W,
                            const float* dy, int F, float* dw, cnt_ws* ws) {
    const int Wp = W + 4, Ho = H / 2, Wo = W / 2, K = 4 * C;
    const int nti = Ho / 4, ntj = Wo / 4;
    const long ntiles = (long)B * nti * ntj;
    const int nchunks = ntiles / 64 < 1 ? 1 : ntiles / 64 > CNT_MAX_CHUNKS
                        ? CNT_MAX_CHUNKS : (int)(ntiles / 64);
    const size_t msz = (size_t)36 * F * K;
    const size_t per = (size_t)12 * Wp * C + (size_t)4 * Wo * F
                       + (size_t)36 * CNW_WTB * (K + 2 * F) + 64;
    float* part = cnt_ws_get(ws, 1, msz * nchunks);
    float* bufs = cnt_ws_threads(ws, 2, per);
    if (!part || !bufs) return -1;
    #pragma omp parallel
    {
        float* xr = cnt_thread_buffer(bufs, per);
        float* dr = xr + (size_t)12 * Wp * C;
        float* V = dr + (size_t)4 * Wo * F;
        float* D = V + (size_t)36 * CNW_WTB * K;
        float* DT = D + (size_t)36 * CNW_WTB * F;
        #pragma omp for schedule(static)
        for (int ch = 0; ch < nchunks; ++ch) {
            float* MT = part + (size_t)ch * msz;        /* [xi][f][k] */
            memset(MT, 0, sizeof(float) * msz);
            const long t0 = ntiles * ch / nchunks, t1 = ntiles * (ch + 1) / nchunks;
            long packed = -1;                           /* the tile row in xr, dr */
            for (long b0 = t0; b0 < t1; b0 += CNW_WTB) {
                const int nt = t1 - b0 < CNW_WTB ? (int)(t1 - b0) : CNW_WTB;
                for (int t = 0; t < nt; ++t) {          /* transforms */
                    const long row = (b0 + t) / ntj;
                    const int n = row / nti, ti = row % nti, tj = (b0 + t) % ntj;
                    if (row != packed) {
                        for (int u = 0; u < 12; ++u)
                            cnt_pack_row(x, n, C, H, W, 2, 8 * ti + u, xr + (size_t)u * Wp * C);
                        for (int u = 0; u < 4; ++u)
                            cnt_pack_row(dy, n, F, Ho, Wo, 0, 4 * ti + u, dr + (size_t)u * Wo * F);
                        packed = row;
                    }
                    for (int p = 0; p < 2; ++p)
                        for (int q = 0; q < 2; ++q)
                            for (int c = 0; c < C; c += 16)
                                cnw_input_tile(xr + ((size_t)p * Wp + 8 * tj + q) * C + c,
                                               2L * Wp * C, 2L * C,
                                               V + (size_t)t * K + (p * 2 + q) * C + c,
                                               (long)CNW_WTB * K);
                    for (int f = 0; f < F; f += 16)
                        cnw_dy_tile(dr + (size_t)4 * tj * F + f, (long)Wo * F, F,
                                    D + (size_t)t * F + f, (long)CNW_WTB * F);
                }
                for (int xi = 0; xi < 36; ++xi) {       /* 36 products */
                    float* DTx = DT + (size_t)xi * F * CNW_WTB;   /* [f][t] */
                    cnt_transpose(D + (size_t)xi * CNW_WTB * F, F, DTx, CNW_WTB, nt, F);
                    cnt_row_acc(DTx, 0, 1, nt, CNW_WTB, F,
                                V + (size_t)xi * CNW_WTB * K, K,
                                MT + (size_t)xi * F * K, K, 1);
                }
            }
        }
    }
    cnt_sum_chunks(part, msz, nchunks);
    /* dw[f][c][2r + p][2s + q] = (G^T M G)[r][s], M[xi] = MT[xi][f][(p 2 + q) C + c] */
    #pragma omp parallel for schedule(static)
    for (long e = 0; e < (long)F * (K / 16); ++e) {
        const int f = e / (K / 16), k = (int)(e % (K / 16)) * 16;
        const int p = k / (2 * C), q = (k / C) % 2, c0 = k % C;
        for (int e0 = 0; e0 < 16; e0 += CNT_VW) {     /* native vectors */
            cnt_vn m[36], t[18], y[9];
            for (int xi = 0; xi < 36; ++xi)
                m[xi] = *(const cnt_vnu*)(part + ((size_t)xi * F + f) * K + k + e0);
            for (int v = 0; v < 6; ++v) CNW_GT(m + v, 6, t + v, 6);        /* 3 x 6 */
            for (int r = 0; r < 3; ++r) CNW_GT(t + r * 6, 1, y + r * 3, 1); /* 3 x 3 */
            for (int r = 0; r < 3; ++r)
                for (int s = 0; s < 3; ++s)
                    for (int i = 0; i < CNT_VW; ++i)
                        dw[((size_t)f * C + c0 + e0 + i) * 36 + (2 * r + p) * 6 + 2 * s + q] = y[r * 3 + s][i];
        }
    }
    return 0;
}
#endif
