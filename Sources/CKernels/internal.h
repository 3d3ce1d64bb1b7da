/* Private helpers shared by the kernel sources (not part of the public API). */
#ifndef WDPOST_KERNELS_INTERNAL_H
#define WDPOST_KERNELS_INTERNAL_H
#include "kernels.h"
#include "cuda_abi.h"
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define WD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define WD_PRINTF(a, b)
#endif

/* error.c: sets this thread's wd_last_error() and returns code. */
int wd_fail(int code, const char *fmt, ...) WD_PRINTF(2, 3);

/* threads.c: runs fn(ctx, tid) for tid = 0..n-1, tid 0 on the calling thread.
 * Returns WD_OK, or WD_ERR_NOMEM if no thread could be started (then fn ran
 * for every tid on the caller, so work is never lost). */
int wd_parallel(int n, void (*fn)(void *ctx, int tid), void *ctx);

/* cuda_loader.c: the loaded library, or NULL for the CPU (also NULL while
 * wd_thread_force_cpu is set on the calling thread). */
const wdcuda_api *wd_cuda(void);

/* Big-endian / little-endian stores and loads, independent of the host. */
static inline void wd_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void wd_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t wd_load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t wd_load_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* sha_fast.c: hashes of exactly 64 bytes (a tree node's two children) and of
 * one pre-padded 64-byte block, without OpenSSL's per-call EVP overhead. */
void wd_sha256_64(const uint8_t in[64], uint8_t out[32]);
void wd_sha256_64_trunc(const uint8_t in[64], uint8_t out[32]);
/* count parents from 2*count children; out may alias in (out[i] <= in[2i]). */
void wd_sha256_64_trunc_many(const uint8_t *in, uint8_t *out, size_t count);
/* SHA-256 compression of one block that already holds the message padding. */
void wd_sha256_padded_block(const uint8_t block[64], uint8_t out[32]);

/* merkle.c: root of 2^height zero leaves (truncated tree), height <= 64. */
const uint8_t *wd_merkle_zero_root(unsigned height);

/* synthetic.c / gemm.c: matrices and the row-hash GEMM. */
int wd_synthetic_generate(const uint8_t seed[32], char tag, uint32_t n, int threads, int8_t *out);
int wd_gemm_row_hashes(const int8_t *A, const int8_t *B, uint32_t n, int threads,
                       uint8_t *row_hashes);
/* Row i of A*B (n int32), plain O(n^2) loop used by verifiers and provers. */
void wd_gemm_row(const int8_t *A_row, const int8_t *B, uint32_t n, int32_t *out);

#endif
