/* Dense layer + bias + leaky ReLU for inference, on the calling thread
 * (crossnet/ops/dense.py's DenseLeaky, read at import, compiled by aesara).
 * x (B, K), w (K, N), b (N,) -> out (B, N), all float32, C order;
 * ``leak`` is the negative slope (1 = linear). */
#ifndef CROSSNET_DENSE_LEAKY
#define CROSSNET_DENSE_LEAKY
static void cn_dense_leaky(const float* x, long B, long K, const float* w,
        long N, const float* b, float leak, float* out) {
    for (long n = 0; n < B; ++n) {
        float* o = out + n * N;
        for (long j = 0; j < N; ++j) o[j] = b[j];
        for (long k = 0; k < K; ++k) {
            const float xv = x[n * K + k];
            const float* wk = w + k * N;
            for (long j = 0; j < N; ++j) o[j] += xv * wk[j];
        }
        for (long j = 0; j < N; ++j) o[j] = o[j] > 0.f ? o[j] : leak * o[j];
    }
}
#endif
