/* libwdpost_cuda.so: the CUDA implementation of the kernel ABI in
 * Sources/CKernels/cuda_abi.h, loaded at run time by cuda_loader.c.
 * Results must be bit-identical to the CPU code (docs/KERNELS.md); `make
 * test` compares them, and wdcuda_init runs a self-test before the library
 * is used at all.
 *
 * Pieces:
 *   sha256_compress  one SHA-256 compression, host and device (the host copy
 *                    lets the self-test check the device against known bytes)
 *   merkle_level     one tree level: each thread hashes a 64-byte pair
 *   gen_matrices     the synthetic A (row-major) and B transposed (so both
 *                    GEMM operands run along k), one SHA-256 per 32 elements
 *   gemm_wmma        int8 tensor-core GEMM, int32 accumulation (sm_72+)
 *   gemm_dp4a        CUDA-core fallback with __dp4a (sm_61+), also the
 *                    self-test's second opinion on the tensor-core kernel
 *   row_hashes       SHA-256 of each row of C as little-endian int32 */
#include <cuda_runtime.h>
#include <mma.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuda_abi.h"

#define WD_EXPORT extern "C" __attribute__((visibility("default")))

/* ------------------------------------------------------------------ */
/* SHA-256                                                              */
/* ------------------------------------------------------------------ */

__host__ __device__ __forceinline__ uint32_t bswap32(uint32_t x) {
#ifdef __CUDA_ARCH__
    return __byte_perm(x, 0, 0x0123);
#else
    return __builtin_bswap32(x);
#endif
}

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define BS0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BS1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SS0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SS1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))
#define CH(e, f, g) (((e) & (f)) ^ (~(e) & (g)))
#define MAJ(a, b, c) (((a) & (b)) ^ ((a) & (c)) ^ ((b) & (c)))
/* one round; the caller rotates the variable names instead of moving values */
#define RND(a, b, c, d, e, f, g, h, k, w)                          \
    {                                                              \
        uint32_t t1_ = h + BS1(e) + CH(e, f, g) + (k) + (w);       \
        uint32_t t2_ = BS0(a) + MAJ(a, b, c);                      \
        d += t1_;                                                  \
        h = t1_ + t2_;                                             \
    }
/* message schedule in place: m[i & 15] holds W[i-16] until replaced by W[i] */
#define WX(i) (m[(i) & 15] += SS1(m[((i) - 2) & 15]) + m[((i) - 7) & 15] + SS0(m[((i) - 15) & 15]))

/* st: 8-word state, m: 16 big-endian message words (overwritten). */
__host__ __device__ __forceinline__ void sha256_compress(uint32_t st[8], uint32_t m[16]) {
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
    uint32_t e = st[4], f = st[5], g = st[6], h = st[7];
    RND(a, b, c, d, e, f, g, h, 0x428a2f98u, m[0]);
    RND(h, a, b, c, d, e, f, g, 0x71374491u, m[1]);
    RND(g, h, a, b, c, d, e, f, 0xb5c0fbcfu, m[2]);
    RND(f, g, h, a, b, c, d, e, 0xe9b5dba5u, m[3]);
    RND(e, f, g, h, a, b, c, d, 0x3956c25bu, m[4]);
    RND(d, e, f, g, h, a, b, c, 0x59f111f1u, m[5]);
    RND(c, d, e, f, g, h, a, b, 0x923f82a4u, m[6]);
    RND(b, c, d, e, f, g, h, a, 0xab1c5ed5u, m[7]);
    RND(a, b, c, d, e, f, g, h, 0xd807aa98u, m[8]);
    RND(h, a, b, c, d, e, f, g, 0x12835b01u, m[9]);
    RND(g, h, a, b, c, d, e, f, 0x243185beu, m[10]);
    RND(f, g, h, a, b, c, d, e, 0x550c7dc3u, m[11]);
    RND(e, f, g, h, a, b, c, d, 0x72be5d74u, m[12]);
    RND(d, e, f, g, h, a, b, c, 0x80deb1feu, m[13]);
    RND(c, d, e, f, g, h, a, b, 0x9bdc06a7u, m[14]);
    RND(b, c, d, e, f, g, h, a, 0xc19bf174u, m[15]);
    RND(a, b, c, d, e, f, g, h, 0xe49b69c1u, WX(16));
    RND(h, a, b, c, d, e, f, g, 0xefbe4786u, WX(17));
    RND(g, h, a, b, c, d, e, f, 0x0fc19dc6u, WX(18));
    RND(f, g, h, a, b, c, d, e, 0x240ca1ccu, WX(19));
    RND(e, f, g, h, a, b, c, d, 0x2de92c6fu, WX(20));
    RND(d, e, f, g, h, a, b, c, 0x4a7484aau, WX(21));
    RND(c, d, e, f, g, h, a, b, 0x5cb0a9dcu, WX(22));
    RND(b, c, d, e, f, g, h, a, 0x76f988dau, WX(23));
    RND(a, b, c, d, e, f, g, h, 0x983e5152u, WX(24));
    RND(h, a, b, c, d, e, f, g, 0xa831c66du, WX(25));
    RND(g, h, a, b, c, d, e, f, 0xb00327c8u, WX(26));
    RND(f, g, h, a, b, c, d, e, 0xbf597fc7u, WX(27));
    RND(e, f, g, h, a, b, c, d, 0xc6e00bf3u, WX(28));
    RND(d, e, f, g, h, a, b, c, 0xd5a79147u, WX(29));
    RND(c, d, e, f, g, h, a, b, 0x06ca6351u, WX(30));
    RND(b, c, d, e, f, g, h, a, 0x14292967u, WX(31));
    RND(a, b, c, d, e, f, g, h, 0x27b70a85u, WX(32));
    RND(h, a, b, c, d, e, f, g, 0x2e1b2138u, WX(33));
    RND(g, h, a, b, c, d, e, f, 0x4d2c6dfcu, WX(34));
    RND(f, g, h, a, b, c, d, e, 0x53380d13u, WX(35));
    RND(e, f, g, h, a, b, c, d, 0x650a7354u, WX(36));
    RND(d, e, f, g, h, a, b, c, 0x766a0abbu, WX(37));
    RND(c, d, e, f, g, h, a, b, 0x81c2c92eu, WX(38));
    RND(b, c, d, e, f, g, h, a, 0x92722c85u, WX(39));
    RND(a, b, c, d, e, f, g, h, 0xa2bfe8a1u, WX(40));
    RND(h, a, b, c, d, e, f, g, 0xa81a664bu, WX(41));
    RND(g, h, a, b, c, d, e, f, 0xc24b8b70u, WX(42));
    RND(f, g, h, a, b, c, d, e, 0xc76c51a3u, WX(43));
    RND(e, f, g, h, a, b, c, d, 0xd192e819u, WX(44));
    RND(d, e, f, g, h, a, b, c, 0xd6990624u, WX(45));
    RND(c, d, e, f, g, h, a, b, 0xf40e3585u, WX(46));
    RND(b, c, d, e, f, g, h, a, 0x106aa070u, WX(47));
    RND(a, b, c, d, e, f, g, h, 0x19a4c116u, WX(48));
    RND(h, a, b, c, d, e, f, g, 0x1e376c08u, WX(49));
    RND(g, h, a, b, c, d, e, f, 0x2748774cu, WX(50));
    RND(f, g, h, a, b, c, d, e, 0x34b0bcb5u, WX(51));
    RND(e, f, g, h, a, b, c, d, 0x391c0cb3u, WX(52));
    RND(d, e, f, g, h, a, b, c, 0x4ed8aa4au, WX(53));
    RND(c, d, e, f, g, h, a, b, 0x5b9cca4fu, WX(54));
    RND(b, c, d, e, f, g, h, a, 0x682e6ff3u, WX(55));
    RND(a, b, c, d, e, f, g, h, 0x748f82eeu, WX(56));
    RND(h, a, b, c, d, e, f, g, 0x78a5636fu, WX(57));
    RND(g, h, a, b, c, d, e, f, 0x84c87814u, WX(58));
    RND(f, g, h, a, b, c, d, e, 0x8cc70208u, WX(59));
    RND(e, f, g, h, a, b, c, d, 0x90befffau, WX(60));
    RND(d, e, f, g, h, a, b, c, 0xa4506cebu, WX(61));
    RND(c, d, e, f, g, h, a, b, 0xbef9a3f7u, WX(62));
    RND(b, c, d, e, f, g, h, a, 0xc67178f2u, WX(63));
    st[0] += a; st[1] += b; st[2] += c; st[3] += d;
    st[4] += e; st[5] += f; st[6] += g; st[7] += h;
}

__host__ __device__ __forceinline__ void sha256_iv(uint32_t st[8]) {
    st[0] = 0x6a09e667u; st[1] = 0xbb67ae85u; st[2] = 0x3c6ef372u; st[3] = 0xa54ff53au;
    st[4] = 0x510e527fu; st[5] = 0x9b05688cu; st[6] = 0x1f83d9abu; st[7] = 0x5be0cd19u;
}

/* SHA-256 of 16 big-endian words (64 bytes): data block, then the constant
 * padding block (its schedule folds to constants at compile time). */
__host__ __device__ __forceinline__ void sha256_64(uint32_t st[8], uint32_t m[16]) {
    sha256_iv(st);
    sha256_compress(st, m);
    uint32_t p[16] = {0x80000000u, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 512u};
    sha256_compress(st, p);
}

/* ------------------------------------------------------------------ */
/* error plumbing                                                       */
/* ------------------------------------------------------------------ */

#define CK(call)                                                                   \
    do {                                                                           \
        cudaError_t e_ = (call);                                                   \
        if (e_ != cudaSuccess) {                                                   \
            snprintf(err, errlen, "CUDA %s: %s (%s:%d)", #call, cudaGetErrorString(e_), \
                     __FILE__, __LINE__);                                          \
            goto fail;                                                             \
        }                                                                          \
    } while (0)

static int g_device = 0;     /* the visible device every call runs on */
static int g_use_wmma = 0;   /* tensor-core GEMM selected and self-tested */
static int g_cc = 0;         /* compute capability * 10 of g_device */

static unsigned blocks_for(uint64_t threads, unsigned per_block) {
    return (unsigned)((threads + per_block - 1) / per_block);
}

/* ------------------------------------------------------------------ */
/* Merkle                                                               */
/* ------------------------------------------------------------------ */

/* out[i] = trunc254(SHA-256(in[2i] || in[2i+1])), nodes of 32 bytes */
__global__ void merkle_level(const uint4 *__restrict__ in, uint4 *__restrict__ out, uint64_t nout) {
    uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= nout) return;
    uint4 v0 = in[4 * i], v1 = in[4 * i + 1], v2 = in[4 * i + 2], v3 = in[4 * i + 3];
    uint32_t m[16] = {bswap32(v0.x), bswap32(v0.y), bswap32(v0.z), bswap32(v0.w),
                      bswap32(v1.x), bswap32(v1.y), bswap32(v1.z), bswap32(v1.w),
                      bswap32(v2.x), bswap32(v2.y), bswap32(v2.z), bswap32(v2.w),
                      bswap32(v3.x), bswap32(v3.y), bswap32(v3.z), bswap32(v3.w)};
    uint32_t s[8];
    sha256_64(s, m);
    s[7] &= 0xffffff3fu; /* byte 31 is the low byte of big-endian word 7 */
    out[2 * i] = make_uint4(bswap32(s[0]), bswap32(s[1]), bswap32(s[2]), bswap32(s[3]));
    out[2 * i + 1] = make_uint4(bswap32(s[4]), bswap32(s[5]), bswap32(s[6]), bswap32(s[7]));
}

/* Reduces `nodes` nodes in buf (ping-ponging with tmp) by `levels` levels;
 * returns the buffer holding the result. */
static uint8_t *merkle_reduce(uint8_t *buf, uint8_t *tmp, uint64_t nodes, unsigned levels,
                              cudaStream_t st) {
    for (unsigned l = 0; l < levels; l++) {
        uint64_t nout = nodes / 2;
        merkle_level<<<blocks_for(nout, 256), 256, 0, st>>>((const uint4 *)buf, (uint4 *)tmp, nout);
        uint8_t *t = buf;
        buf = tmp;
        tmp = t;
        nodes = nout;
    }
    return buf;
}

WD_EXPORT int wdcuda_merkle_chunk_roots(const uint8_t *data, uint64_t len, unsigned chunk_height,
                                        uint64_t nchunks, uint8_t *roots, char *err,
                                        size_t errlen) {
    uint64_t total = nchunks << (chunk_height + 5);
    uint8_t *d_a = NULL, *d_b = NULL, *res;
    cudaStream_t st = 0;
    int rc = -1;
    if (len > total || chunk_height > 40) {
        snprintf(err, errlen, "merkle: %llu bytes do not fit %llu chunks of height %u",
                 (unsigned long long)len, (unsigned long long)nchunks, chunk_height);
        return -1;
    }
    CK(cudaSetDevice(g_device));
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    CK(cudaMalloc(&d_a, total));
    CK(cudaMalloc(&d_b, total / 2 > 32 ? total / 2 : 32));
    CK(cudaMemcpyAsync(d_a, data, len, cudaMemcpyHostToDevice, st));
    if (total > len) CK(cudaMemsetAsync(d_a + len, 0, total - len, st));
    res = merkle_reduce(d_a, d_b, nchunks << chunk_height, chunk_height, st);
    CK(cudaGetLastError());
    CK(cudaMemcpyAsync(roots, res, nchunks * 32, cudaMemcpyDeviceToHost, st));
    CK(cudaStreamSynchronize(st));
    rc = 0;
fail:
    if (d_a) cudaFree(d_a);
    if (d_b) cudaFree(d_b);
    if (st) cudaStreamDestroy(st);
    return rc;
}

/* ------------------------------------------------------------------ */
/* synthetic: generation                                                */
/* ------------------------------------------------------------------ */

struct seed_words { uint32_t w[8]; };

/* H = SHA-256(seed || tag || u32be(i) || u32be(jb)): 41 bytes, one block */
__device__ __forceinline__ void element_hash(const seed_words &s, uint32_t tag, uint32_t i,
                                             uint32_t jb, uint32_t h[8]) {
    uint32_t m[16] = {s.w[0], s.w[1], s.w[2], s.w[3], s.w[4], s.w[5], s.w[6], s.w[7],
                      (tag << 24) | (i >> 8),
                      (i << 24) | (jb >> 8),
                      (jb << 24) | 0x00800000u, /* then the 0x80 padding byte */
                      0, 0, 0, 0, 41u * 8u};
    sha256_iv(h);
    sha256_compress(h, m);
}

/* A[i][32jb .. 32jb+31], row-major with row stride P; one hash per thread */
__global__ void gen_a(seed_words s, uint32_t n, uint32_t P, int8_t *__restrict__ A) {
    uint32_t nb = (n + 31) / 32;
    uint64_t idx = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (uint64_t)n * nb) return;
    uint32_t i = (uint32_t)(idx / nb), jb = (uint32_t)(idx % nb);
    uint32_t h[8];
    element_hash(s, 'A', i, jb, h);
    int8_t *dst = A + (size_t)i * P + 32 * (size_t)jb;
    if (32 * jb + 32 <= n) {
        uint4 *d4 = (uint4 *)dst;
        d4[0] = make_uint4(bswap32(h[0]), bswap32(h[1]), bswap32(h[2]), bswap32(h[3]));
        d4[1] = make_uint4(bswap32(h[4]), bswap32(h[5]), bswap32(h[6]), bswap32(h[7]));
    } else {
        for (uint32_t t = 0; 32 * jb + t < n; t++)
            dst[t] = (int8_t)(h[t / 4] >> (24 - 8 * (t % 4)));
    }
}

/* Bt[j][k] = B[k][j]: thread (jb, k) hashes B's row k, block jb and writes
 * one byte into each of 32 rows of Bt; neighbouring threads have
 * neighbouring k, so each of those writes is coalesced across the warp. */
__global__ void gen_bt(seed_words s, uint32_t n, uint32_t P, int8_t *__restrict__ Bt) {
    uint32_t nb = (n + 31) / 32;
    uint64_t idx = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (uint64_t)n * nb) return;
    uint32_t jb = (uint32_t)(idx / n), k = (uint32_t)(idx % n);
    uint32_t h[8];
    element_hash(s, 'B', k, jb, h);
    for (uint32_t t = 0; t < 32 && 32 * jb + t < n; t++)
        Bt[(size_t)(32 * jb + t) * P + k] = (int8_t)(h[t / 4] >> (24 - 8 * (t % 4)));
}

/* ------------------------------------------------------------------ */
/* synthetic: GEMM  C[i][j] = sum_k A[i][k] * Bt[j][k], all dims = P     */
/* P is a multiple of 128; padding of A and Bt is zero.                 */
/* ------------------------------------------------------------------ */

#define TILE 128

/* 16x16 threads, each an 8x8 block of C strided by 16 (conflict-free
 * shared-memory reads, coalesced stores); k in steps of 32 bytes. */
__global__ void __launch_bounds__(256) gemm_dp4a(const int8_t *__restrict__ A,
                                                 const int8_t *__restrict__ Bt,
                                                 int32_t *__restrict__ C, uint32_t P) {
    __shared__ int32_t As[8][TILE];
    __shared__ int32_t Bs[8][TILE];
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4, t = threadIdx.x;
    const size_t m0 = (size_t)blockIdx.y * TILE, n0 = (size_t)blockIdx.x * TILE;
    int32_t acc[8][8];
#pragma unroll
    for (int r = 0; r < 8; r++)
#pragma unroll
        for (int c = 0; c < 8; c++) acc[r][c] = 0;
    const int lrow = t >> 1, lhalf = t & 1;
    for (uint32_t k0 = 0; k0 < P; k0 += 32) {
        int4 va = *(const int4 *)(A + (m0 + lrow) * P + k0 + 16 * lhalf);
        int4 vb = *(const int4 *)(Bt + (n0 + lrow) * P + k0 + 16 * lhalf);
        As[4 * lhalf + 0][lrow] = va.x; As[4 * lhalf + 1][lrow] = va.y;
        As[4 * lhalf + 2][lrow] = va.z; As[4 * lhalf + 3][lrow] = va.w;
        Bs[4 * lhalf + 0][lrow] = vb.x; Bs[4 * lhalf + 1][lrow] = vb.y;
        Bs[4 * lhalf + 2][lrow] = vb.z; Bs[4 * lhalf + 3][lrow] = vb.w;
        __syncthreads();
#pragma unroll
        for (int kw = 0; kw < 8; kw++) {
            int32_t a[8], b[8];
#pragma unroll
            for (int r = 0; r < 8; r++) a[r] = As[kw][ty + 16 * r];
#pragma unroll
            for (int c = 0; c < 8; c++) b[c] = Bs[kw][tx + 16 * c];
#pragma unroll
            for (int r = 0; r < 8; r++)
#pragma unroll
                for (int c = 0; c < 8; c++) acc[r][c] = __dp4a(a[r], b[c], acc[r][c]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < 8; r++)
#pragma unroll
        for (int c = 0; c < 8; c++) C[(m0 + ty + 16 * r) * P + n0 + tx + 16 * c] = acc[r][c];
}

/* Tensor cores through WMMA (16x16x16, s8 x s8 -> s32). 8 warps per 128x128
 * tile, each warp 32x64 (2x4 fragments); k in steps of 64 bytes, staged in
 * shared memory as four 16-byte-wide slices so every fragment pointer is
 * 32-byte aligned as load_matrix_sync requires. Slices are 32 bytes apart
 * beyond their 2048 bytes so the 16-byte stores of a quarter-warp hit
 * distinct banks. The next k-step is fetched into registers while the
 * current one is multiplied. */
#define SLICE_STRIDE (TILE * 16 + 32)

__global__ void __launch_bounds__(256) gemm_wmma(const int8_t *__restrict__ A,
                                                 const int8_t *__restrict__ Bt,
                                                 int32_t *__restrict__ C, uint32_t P) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 720
    using namespace nvcuda;
    __shared__ __align__(128) int8_t As[4 * SLICE_STRIDE];
    __shared__ __align__(128) int8_t Bs[4 * SLICE_STRIDE];
    const int t = threadIdx.x, warp = t >> 5;
    const int wr = warp >> 1, wc = warp & 1;
    const size_t m0 = (size_t)blockIdx.y * TILE, n0 = (size_t)blockIdx.x * TILE;
    wmma::fragment<wmma::accumulator, 16, 16, 16, int> acc[2][4];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) wmma::fill_fragment(acc[i][j], 0);

    /* thread t moves 16-byte pieces idx = t and t + 256: row idx/4, slice
     * idx%4 (named registers, not an array, so nothing lands in local memory) */
    const int row0 = t >> 2, row1 = (t + 256) >> 2, sl = t & 3;
    const int8_t *a0 = A + (m0 + row0) * P + 16 * sl, *a1 = A + (m0 + row1) * P + 16 * sl;
    const int8_t *b0 = Bt + (n0 + row0) * P + 16 * sl, *b1 = Bt + (n0 + row1) * P + 16 * sl;
    int8_t *sa0 = As + sl * SLICE_STRIDE + row0 * 16, *sa1 = As + sl * SLICE_STRIDE + row1 * 16;
    int8_t *sb0 = Bs + sl * SLICE_STRIDE + row0 * 16, *sb1 = Bs + sl * SLICE_STRIDE + row1 * 16;
    int4 ra0 = *(const int4 *)a0, ra1 = *(const int4 *)a1;
    int4 rb0 = *(const int4 *)b0, rb1 = *(const int4 *)b1;
    for (uint32_t k0 = 0; k0 < P; k0 += 64) {
        *(int4 *)sa0 = ra0; *(int4 *)sa1 = ra1;
        *(int4 *)sb0 = rb0; *(int4 *)sb1 = rb1;
        __syncthreads();
        if (k0 + 64 < P) {
            ra0 = *(const int4 *)(a0 + k0 + 64); ra1 = *(const int4 *)(a1 + k0 + 64);
            rb0 = *(const int4 *)(b0 + k0 + 64); rb1 = *(const int4 *)(b1 + k0 + 64);
        }
#pragma unroll
        for (int s = 0; s < 4; s++) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, signed char, wmma::row_major> fa[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, signed char, wmma::col_major> fb[4];
#pragma unroll
            for (int i = 0; i < 2; i++)
                wmma::load_matrix_sync(fa[i], As + s * SLICE_STRIDE + (wr * 32 + 16 * i) * 16, 16);
#pragma unroll
            for (int j = 0; j < 4; j++)
                wmma::load_matrix_sync(fb[j], Bs + s * SLICE_STRIDE + (wc * 64 + 16 * j) * 16, 16);
#pragma unroll
            for (int i = 0; i < 2; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
            wmma::store_matrix_sync(C + (m0 + wr * 32 + 16 * i) * P + n0 + wc * 64 + 16 * j,
                                    acc[i][j], P, wmma::mem_row_major);
#else
    (void)A; (void)Bt; (void)C; (void)P;
    __trap(); /* never launched below sm_72: the host checks g_use_wmma */
#endif
}

/* ------------------------------------------------------------------ */
/* synthetic: row hashes                                                */
/* ------------------------------------------------------------------ */

/* SHA-256 of row i of C as n little-endian int32 (4n bytes): one thread per
 * row. An int32 stored little-endian, read as a big-endian message word, is
 * bswap(value). */
__global__ void row_hashes(const int32_t *__restrict__ C, uint32_t n, uint32_t P,
                           uint32_t *__restrict__ out) {
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const int32_t *row = C + (size_t)i * P;
    uint32_t st[8], m[16];
    sha256_iv(st);
    uint32_t full = n / 16;
    for (uint32_t b = 0; b < full; b++) {
        const int4 *p = (const int4 *)(row + 16 * b);
#pragma unroll
        for (int q = 0; q < 4; q++) {
            int4 v = p[q];
            m[4 * q] = bswap32((uint32_t)v.x); m[4 * q + 1] = bswap32((uint32_t)v.y);
            m[4 * q + 2] = bswap32((uint32_t)v.z); m[4 * q + 3] = bswap32((uint32_t)v.w);
        }
        sha256_compress(st, m);
    }
    /* tail: r leftover values, 0x80, zeros, 64-bit bit length (< 2^32 here) */
    uint32_t r = n % 16, tail[32];
    for (uint32_t q = 0; q < 32; q++) tail[q] = 0;
    for (uint32_t q = 0; q < r; q++) tail[q] = bswap32((uint32_t)row[16 * full + q]);
    tail[r] = 0x80000000u;
    uint32_t blocks = r + 1 + 2 <= 16 ? 1 : 2;
    tail[16 * blocks - 1] = n * 32u;
    for (uint32_t b = 0; b < blocks; b++) {
        for (int q = 0; q < 16; q++) m[q] = tail[16 * b + q];
        sha256_compress(st, m);
    }
#pragma unroll
    for (int q = 0; q < 8; q++) out[8 * (size_t)i + q] = bswap32(st[q]);
}

/* ------------------------------------------------------------------ */
/* synthetic: driver                                                    */
/* ------------------------------------------------------------------ */

static uint32_t pad_dim(uint32_t n) { return (n + TILE - 1) / TILE * TILE; }

static seed_words seed_to_words(const uint8_t seed[32]) {
    seed_words s;
    for (int q = 0; q < 8; q++)
        s.w[q] = ((uint32_t)seed[4 * q] << 24) | ((uint32_t)seed[4 * q + 1] << 16) |
                 ((uint32_t)seed[4 * q + 2] << 8) | seed[4 * q + 3];
    return s;
}

static void launch_gemm(int wmma, const int8_t *A, const int8_t *Bt, int32_t *C, uint32_t P,
                        cudaStream_t st) {
    dim3 grid(P / TILE, P / TILE);
    if (wmma) gemm_wmma<<<grid, 256, 0, st>>>(A, Bt, C, P);
    else gemm_dp4a<<<grid, 256, 0, st>>>(A, Bt, C, P);
}

/* device buffers for one synthetic run */
struct syn_bufs {
    int8_t *A, *Bt;
    int32_t *C;
    uint32_t *rh;
};

static void syn_free(syn_bufs *b) {
    if (b->A) cudaFree(b->A);
    if (b->Bt) cudaFree(b->Bt);
    if (b->C) cudaFree(b->C);
    if (b->rh) cudaFree(b->rh);
    memset(b, 0, sizeof *b);
}

/* allocates and fills A and Bt for (seed, n) */
static int syn_prepare(const uint8_t seed[32], uint32_t n, syn_bufs *b, cudaStream_t st, char *err,
                       size_t errlen) {
    uint32_t P = pad_dim(n), nb = (n + 31) / 32;
    seed_words s = seed_to_words(seed);
    memset(b, 0, sizeof *b);
    CK(cudaMalloc(&b->A, (size_t)P * P));
    CK(cudaMalloc(&b->Bt, (size_t)P * P));
    CK(cudaMalloc(&b->C, (size_t)P * P * 4));
    CK(cudaMalloc(&b->rh, (size_t)n * 32));
    CK(cudaMemsetAsync(b->A, 0, (size_t)P * P, st));
    CK(cudaMemsetAsync(b->Bt, 0, (size_t)P * P, st));
    gen_a<<<blocks_for((uint64_t)n * nb, 256), 256, 0, st>>>(s, n, P, b->A);
    gen_bt<<<blocks_for((uint64_t)n * nb, 256), 256, 0, st>>>(s, n, P, b->Bt);
    CK(cudaGetLastError());
    return 0;
fail:
    syn_free(b);
    return -1;
}

WD_EXPORT int wdcuda_synthetic_row_hashes(const uint8_t seed[32], uint32_t n, uint8_t *out,
                                          char *err, size_t errlen) {
    syn_bufs b;
    memset(&b, 0, sizeof b);
    cudaStream_t st = 0;
    int rc = -1;
    uint32_t P = pad_dim(n);
    if (n == 0 || n > 65536) {
        snprintf(err, errlen, "synthetic: n=%u out of range", n);
        return -1;
    }
    CK(cudaSetDevice(g_device));
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    if (syn_prepare(seed, n, &b, st, err, errlen) != 0) goto fail;
    launch_gemm(g_use_wmma, b.A, b.Bt, b.C, P, st);
    row_hashes<<<blocks_for(n, 128), 128, 0, st>>>(b.C, n, P, b.rh);
    CK(cudaGetLastError());
    CK(cudaMemcpyAsync(out, b.rh, (size_t)n * 32, cudaMemcpyDeviceToHost, st));
    CK(cudaStreamSynchronize(st));
    rc = 0;
fail:
    syn_free(&b);
    if (st) cudaStreamDestroy(st);
    return rc;
}

/* ------------------------------------------------------------------ */
/* devices, init and self-test                                          */
/* ------------------------------------------------------------------ */

WD_EXPORT int wdcuda_abi_version(void) { return WDCUDA_ABI_VERSION; }

WD_EXPORT int wdcuda_device_info(int index, wd_device_t *out, char *err, size_t errlen) {
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, index));
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", p.name);
    out->memory_bytes = (uint64_t)p.totalGlobalMem;
    out->sm_count = p.multiProcessorCount;
    out->cc_major = p.major;
    out->cc_minor = p.minor;
    out->cuda_cores = 0; /* the loader fills in its per-architecture estimate */
    return 0;
fail:
    return -1;
}

/* host SHA-256 of short messages, for the self-test only */
static void host_sha256(const uint8_t *msg, size_t len, uint8_t out[32]) {
    uint32_t st[8], m[16];
    uint8_t blk[128];
    size_t full = len / 64, rest = len % 64;
    sha256_iv(st);
    for (size_t b = 0; b <= full; b++) {
        size_t nblk = 1;
        if (b < full) {
            memcpy(blk, msg + 64 * b, 64);
        } else {
            memset(blk, 0, sizeof blk);
            memcpy(blk, msg + 64 * full, rest);
            blk[rest] = 0x80;
            nblk = rest + 9 <= 64 ? 1 : 2;
            uint64_t bits = (uint64_t)len * 8;
            for (int q = 0; q < 8; q++) blk[64 * nblk - 1 - q] = (uint8_t)(bits >> (8 * q));
        }
        for (size_t k = 0; k < nblk; k++) {
            for (int q = 0; q < 16; q++)
                m[q] = ((uint32_t)blk[64 * k + 4 * q] << 24) | ((uint32_t)blk[64 * k + 4 * q + 1] << 16) |
                       ((uint32_t)blk[64 * k + 4 * q + 2] << 8) | blk[64 * k + 4 * q + 3];
            sha256_compress(st, m);
        }
    }
    for (int q = 0; q < 8; q++) {
        out[4 * q] = (uint8_t)(st[q] >> 24); out[4 * q + 1] = (uint8_t)(st[q] >> 16);
        out[4 * q + 2] = (uint8_t)(st[q] >> 8); out[4 * q + 3] = (uint8_t)st[q];
    }
}

/* Checks the device against host arithmetic on small inputs: Merkle nodes,
 * matrix generation, both GEMM kernels and row hashes. Picks the tensor-core
 * GEMM only if it agrees. Returns 0 or -1 with err set. */
static int self_test(char *err, size_t errlen) {
    static const uint8_t abc_hash[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    const uint32_t n = 200, P = pad_dim(n); /* ragged: exercises padding */
    uint8_t h[32], leaves[4 * 32], roots[32], want[32], seed[32];
    int8_t *A = NULL, *Bt = NULL;
    int32_t *C = NULL, *C2 = NULL;
    uint8_t *rh = NULL;
    syn_bufs b;
    memset(&b, 0, sizeof b);
    int rc = -1;
    cudaStream_t st = 0;

    host_sha256((const uint8_t *)"abc", 3, h);
    if (memcmp(h, abc_hash, 32) != 0) {
        snprintf(err, errlen, "self-test: host SHA-256 wrong (miscompiled library)");
        return -1;
    }
    /* a 4-leaf chunk on the device against the host */
    for (int q = 0; q < 128; q++) leaves[q] = (uint8_t)(q * 131 + 7);
    if (wdcuda_merkle_chunk_roots(leaves, 100, 2, 1, roots, err, errlen) != 0) return -1;
    {
        uint8_t lv[128], n01[64];
        memcpy(lv, leaves, 100);
        memset(lv + 100, 0, 28);
        host_sha256(lv, 64, n01); n01[31] &= 0x3f;
        host_sha256(lv + 64, 64, n01 + 32); n01[63] &= 0x3f;
        host_sha256(n01, 64, want); want[31] &= 0x3f;
    }
    if (memcmp(roots, want, 32) != 0) {
        snprintf(err, errlen, "self-test: GPU Merkle root differs from the host");
        return -1;
    }

    for (int q = 0; q < 32; q++) seed[q] = (uint8_t)q;
    A = (int8_t *)malloc((size_t)P * P);
    Bt = (int8_t *)malloc((size_t)P * P);
    C = (int32_t *)malloc((size_t)P * P * 4);
    C2 = (int32_t *)malloc((size_t)P * P * 4);
    rh = (uint8_t *)malloc((size_t)n * 32);
    if (!A || !Bt || !C || !C2 || !rh) {
        snprintf(err, errlen, "self-test: out of host memory");
        goto fail;
    }
    CK(cudaSetDevice(g_device));
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    if (syn_prepare(seed, n, &b, st, err, errlen) != 0) goto fail;
    CK(cudaMemcpyAsync(A, b.A, (size_t)P * P, cudaMemcpyDeviceToHost, st));
    CK(cudaMemcpyAsync(Bt, b.Bt, (size_t)P * P, cudaMemcpyDeviceToHost, st));
    CK(cudaStreamSynchronize(st));
    /* generation: every element of A and B from the host's own hash */
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t jb = 0; jb * 32 < n; jb++) {
            uint8_t msg[41], ha[32], hb[32];
            memcpy(msg, seed, 32);
            msg[33] = (uint8_t)(i >> 24); msg[34] = (uint8_t)(i >> 16);
            msg[35] = (uint8_t)(i >> 8); msg[36] = (uint8_t)i;
            msg[37] = (uint8_t)(jb >> 24); msg[38] = (uint8_t)(jb >> 16);
            msg[39] = (uint8_t)(jb >> 8); msg[40] = (uint8_t)jb;
            msg[32] = 'A';
            host_sha256(msg, 41, ha);
            msg[32] = 'B';
            host_sha256(msg, 41, hb);
            for (uint32_t t = 0; t < 32 && 32 * jb + t < n; t++) {
                uint32_t j = 32 * jb + t;
                if (A[(size_t)i * P + j] != (int8_t)ha[t] || Bt[(size_t)j * P + i] != (int8_t)hb[t]) {
                    snprintf(err, errlen, "self-test: GPU matrix generation differs at (%u,%u)", i, j);
                    goto fail;
                }
            }
        }
    /* GEMM: the CUDA-core kernel against the host, then tensor cores */
    launch_gemm(0, b.A, b.Bt, b.C, P, st);
    CK(cudaGetLastError());
    CK(cudaMemcpyAsync(C, b.C, (size_t)P * P * 4, cudaMemcpyDeviceToHost, st));
    CK(cudaStreamSynchronize(st));
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            int32_t s = 0;
            for (uint32_t k = 0; k < n; k++) s += A[(size_t)i * P + k] * Bt[(size_t)j * P + k];
            if (C[(size_t)i * P + j] != s) {
                snprintf(err, errlen, "self-test: dp4a GEMM differs at (%u,%u): %d != %d", i, j,
                         C[(size_t)i * P + j], s);
                goto fail;
            }
        }
    g_use_wmma = 0;
    if (g_cc >= 72 && !(getenv("WDPOST_CUDA_GEMM") && strcmp(getenv("WDPOST_CUDA_GEMM"), "dp4a") == 0)) {
        CK(cudaMemsetAsync(b.C, 0, (size_t)P * P * 4, st));
        launch_gemm(1, b.A, b.Bt, b.C, P, st);
        CK(cudaGetLastError());
        CK(cudaMemcpyAsync(C2, b.C, (size_t)P * P * 4, cudaMemcpyDeviceToHost, st));
        CK(cudaStreamSynchronize(st));
        g_use_wmma = 1;
        for (uint32_t i = 0; i < n && g_use_wmma; i++)
            if (memcmp(C + (size_t)i * P, C2 + (size_t)i * P, (size_t)n * 4) != 0) g_use_wmma = 0;
        /* a disagreeing tensor-core kernel is dropped, not fatal: dp4a is exact */
    }
    /* row hashes of the (host-checked) C */
    row_hashes<<<blocks_for(n, 128), 128, 0, st>>>(b.C, n, P, b.rh);
    CK(cudaGetLastError());
    CK(cudaMemcpyAsync(rh, b.rh, (size_t)n * 32, cudaMemcpyDeviceToHost, st));
    CK(cudaStreamSynchronize(st));
    for (uint32_t i = 0; i < n; i++) {
        uint8_t row[4 * 200];
        for (uint32_t j = 0; j < n; j++) {
            uint32_t v = (uint32_t)C[(size_t)i * P + j];
            row[4 * j] = (uint8_t)v; row[4 * j + 1] = (uint8_t)(v >> 8);
            row[4 * j + 2] = (uint8_t)(v >> 16); row[4 * j + 3] = (uint8_t)(v >> 24);
        }
        host_sha256(row, 4 * n, h);
        if (memcmp(h, rh + 32 * i, 32) != 0) {
            snprintf(err, errlen, "self-test: GPU row hash %u differs from the host", i);
            goto fail;
        }
    }
    rc = 0;
fail:
    syn_free(&b);
    if (st) cudaStreamDestroy(st);
    free(A); free(Bt); free(C); free(C2); free(rh);
    return rc;
}

WD_EXPORT int wdcuda_init(char *err, size_t errlen) {
    int count = 0;
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        snprintf(err, errlen, "cudaGetDeviceCount: %s", cudaGetErrorString(e));
        return 0;
    }
    if (count <= 0) {
        snprintf(err, errlen, "no CUDA device visible");
        return 0;
    }
    const char *dev = getenv("WDPOST_CUDA_DEVICE");
    g_device = dev && *dev ? atoi(dev) : 0;
    if (g_device < 0 || g_device >= count) {
        snprintf(err, errlen, "WDPOST_CUDA_DEVICE=%s but %d device(s) are visible", dev, count);
        return 0;
    }
    CK(cudaGetDeviceProperties(&p, g_device));
    g_cc = p.major * 10 + p.minor;
    if (g_cc < 61) {
        snprintf(err, errlen, "%s has compute capability %d.%d; 6.1 or newer is needed", p.name,
                 p.major, p.minor);
        return 0;
    }
    if (self_test(err, errlen) != 0) return 0;
    return count;
fail:
    return 0;
}

/* ------------------------------------------------------------------ */
/* benchmarks for cuda/bench_gpu.c (not part of the loader ABI)         */
/* ------------------------------------------------------------------ */

/* Best GEMM kernel time (seconds) over iters runs for n x n; kernel = 0
 * dp4a, 1 tensor cores, -1 the one in use. */
WD_EXPORT int wdcuda_bench_gemm(uint32_t n, int iters, int kernel, double *seconds, char *err,
                                size_t errlen) {
    syn_bufs b;
    memset(&b, 0, sizeof b);
    cudaEvent_t e0 = 0, e1 = 0;
    cudaStream_t st = 0;
    uint8_t seed[32] = {0};
    uint32_t P = pad_dim(n);
    int wmma = kernel < 0 ? g_use_wmma : kernel;
    int rc = -1;
    float best = 1e30f;
    if (wmma && g_cc < 72) {
        snprintf(err, errlen, "tensor-core int8 GEMM needs compute capability 7.2");
        return -1;
    }
    CK(cudaSetDevice(g_device));
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    if (syn_prepare(seed, n, &b, st, err, errlen) != 0) goto fail;
    launch_gemm(wmma, b.A, b.Bt, b.C, P, st); /* warm-up */
    for (int it = 0; it < iters; it++) {
        float ms;
        CK(cudaEventRecord(e0, st));
        launch_gemm(wmma, b.A, b.Bt, b.C, P, st);
        CK(cudaEventRecord(e1, st));
        CK(cudaEventSynchronize(e1));
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (ms < best) best = ms;
    }
    CK(cudaGetLastError());
    *seconds = best / 1e3;
    rc = 0;
fail:
    syn_free(&b);
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    if (st) cudaStreamDestroy(st);
    return rc;
}

/* Tree levels over `bytes` of device-resident data (chunk height 13), best
 * of iters: the GPU's hashing rate without the host copy. */
WD_EXPORT int wdcuda_bench_merkle(uint64_t bytes, int iters, double *seconds, char *err,
                                  size_t errlen) {
    uint8_t *d_a = NULL, *d_b = NULL;
    cudaEvent_t e0 = 0, e1 = 0;
    cudaStream_t st = 0;
    uint64_t nodes = bytes / 32;
    int rc = -1;
    float best = 1e30f;
    CK(cudaSetDevice(g_device));
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    CK(cudaMalloc(&d_a, bytes));
    CK(cudaMalloc(&d_b, bytes / 2));
    CK(cudaMemsetAsync(d_a, 0x5a, bytes, st));
    for (int it = 0; it <= iters; it++) {
        float ms;
        CK(cudaEventRecord(e0, st));
        merkle_reduce(d_a, d_b, nodes, 13, st);
        CK(cudaEventRecord(e1, st));
        CK(cudaEventSynchronize(e1));
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (it > 0 && ms < best) best = ms; /* run 0 warms up */
    }
    CK(cudaGetLastError());
    *seconds = best / 1e3;
    rc = 0;
fail:
    if (d_a) cudaFree(d_a);
    if (d_b) cudaFree(d_b);
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    if (st) cudaStreamDestroy(st);
    return rc;
}
