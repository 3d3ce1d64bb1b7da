/* CPU int8 GEMM implementations behind one interface (private).
 *
 * Every implementation computes rows of C = A*B exactly in int32 (products
 * and sums of int8 values never overflow for n <= 65536), so all of them
 * give identical bytes; they differ only in packing and instructions. */
#ifndef WDPOST_GEMM_H
#define WDPOST_GEMM_H
#include <stddef.h>
#include <stdint.h>

typedef struct gemm_impl {
    const char *name;
    int (*supported)(void);
    uint32_t mr; /* rows of the micro-kernel: blocks are multiples of it */
    uint32_t mc; /* most rows per block a thread computes and hashes at once */
    /* Row stride (int32 elements) of the C block, >= n. */
    size_t (*ldc)(uint32_t n);
    size_t (*packed_b_bytes)(uint32_t n);
    /* B is packed in independent panels (threads share them out): panels
     * p0 .. p1-1, and the matching part of cinit, each C row's start value
     * (cinit has ldc entries; entries past n must end up 0). */
    size_t (*b_panels)(uint32_t n);
    void (*pack_b)(const int8_t *B, uint32_t n, void *bp, int32_t *cinit, size_t p0, size_t p1);
    size_t (*scratch_bytes)(uint32_t n);
    /* Rows r0 .. r0+rows-1 (rows <= mc) of C into c (rows x ldc). */
    void (*rows)(const int8_t *A, uint32_t n, const void *bp, const int32_t *cinit, uint32_t r0,
                 uint32_t rows, int32_t *c, void *scratch);
} gemm_impl;

extern const gemm_impl wd_gemm_generic;
#if defined(__x86_64__) || defined(__i386__)
extern const gemm_impl wd_gemm_avx2;
extern const gemm_impl wd_gemm_avx512vnni;
#endif

#endif
