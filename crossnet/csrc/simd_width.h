/* CN_SIMD_W: floats in one vector register of the instruction set the
 * compiler targets (AVX-512 16, AVX 8, SSE 4). Kernels written with GCC
 * vector extensions use vectors of this width: GCC keeps a wider vector in
 * memory, not in several registers (on AVX2, 7-24x slower). Included by
 * the C sources beside it. */
#ifndef CROSSNET_SIMD_WIDTH
#define CROSSNET_SIMD_WIDTH
#if defined(__AVX512F__)
#define CN_SIMD_W 16
#elif defined(__AVX__)
#define CN_SIMD_W 8
#else
#define CN_SIMD_W 4
#endif
#endif
