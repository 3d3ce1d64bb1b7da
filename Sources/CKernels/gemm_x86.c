/* x86 SIMD GEMM kernels, compiled per function for their instruction set
 * (target attributes) and chosen at run time, so the library still runs on
 * any x86-64 and needs no -march flags from SwiftPM.
 *
 * Both follow the usual register-blocked scheme: B is packed once into
 * column panels whose k-groups sit contiguously, a thread packs its block of
 * A rows, and a micro-kernel keeps an MR x NR tile of C in registers while it
 * streams k.
 *
 * avx512vnni: vpdpbusd multiplies unsigned by signed bytes, 4 k at a time per
 *   int32 lane. A is signed, so we feed A+128 (a xor 0x80) and start every
 *   C[i][j] at -128 * sum_k B[k][j]: (A+128)B - 128*colsum(B) = AB exactly.
 * avx2: vpmaddwd on int16-widened values, 2 k per int32 lane; exact, no bias. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#include "gemm.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

static size_t round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

/* ======================= AVX-512 VNNI: 6 x 64 tile ======================= */

#define V_MR 6
#define V_NR 64
#define V_KC 64 /* k-quads per pass: a 16 KiB B micro-panel stays in L1 */
#define V_MC 96

static int vnni_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni");
}
static size_t vnni_ldc(uint32_t n) { return round_up(n, V_NR); }
static size_t vnni_kq(uint32_t n) { return (n + 3) / 4; }
static size_t vnni_b_bytes(uint32_t n) { return vnni_ldc(n) * vnni_kq(n) * 4; }
static size_t vnni_scratch(uint32_t n) { return (size_t)V_MC * vnni_kq(n) * 4; }

/* bp[panel][q][col 0..63][t 0..3] = B[4q+t][64 panel + col], zero outside */
static void vnni_pack_b(const int8_t *B, uint32_t n, void *bp, int32_t *cinit) {
    size_t np = vnni_ldc(n), kq = vnni_kq(n);
    uint8_t *b = bp;
    memset(b, 0, np * kq * 4);
    memset(cinit, 0, np * 4);
    for (uint32_t k = 0; k < n; k++) {
        const int8_t *row = B + (size_t)k * n;
        size_t q = k / 4, t = k % 4;
        for (uint32_t j = 0; j < n; j++) {
            size_t p = j / V_NR, col = j % V_NR;
            b[((p * kq + q) * V_NR + col) * 4 + t] = (uint8_t)row[j];
            cinit[j] -= 128 * (int32_t)row[j];
        }
    }
}

__attribute__((target("avx512f,avx512vnni"))) static void
vnni_kernel(const uint32_t *a, const uint8_t *b, size_t kc, int32_t *c, size_t ldc) {
#define LD(r) \
    __m512i c##r##0 = _mm512_loadu_si512(c + (r) * ldc), \
            c##r##1 = _mm512_loadu_si512(c + (r) * ldc + 16), \
            c##r##2 = _mm512_loadu_si512(c + (r) * ldc + 32), \
            c##r##3 = _mm512_loadu_si512(c + (r) * ldc + 48);
    LD(0) LD(1) LD(2) LD(3) LD(4) LD(5)
#undef LD
    for (size_t q = 0; q < kc; q++) {
        const uint8_t *bq = b + q * V_NR * 4;
        __m512i b0 = _mm512_loadu_si512(bq), b1 = _mm512_loadu_si512(bq + 64);
        __m512i b2 = _mm512_loadu_si512(bq + 128), b3 = _mm512_loadu_si512(bq + 192);
        const uint32_t *aq = a + q * V_MR;
#define ROW(r) { \
        __m512i av = _mm512_set1_epi32((int)aq[r]); \
        c##r##0 = _mm512_dpbusd_epi32(c##r##0, av, b0); \
        c##r##1 = _mm512_dpbusd_epi32(c##r##1, av, b1); \
        c##r##2 = _mm512_dpbusd_epi32(c##r##2, av, b2); \
        c##r##3 = _mm512_dpbusd_epi32(c##r##3, av, b3); }
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
    }
#define ST(r) \
    _mm512_storeu_si512(c + (r) * ldc, c##r##0); \
    _mm512_storeu_si512(c + (r) * ldc + 16, c##r##1); \
    _mm512_storeu_si512(c + (r) * ldc + 32, c##r##2); \
    _mm512_storeu_si512(c + (r) * ldc + 48, c##r##3);
    ST(0) ST(1) ST(2) ST(3) ST(4) ST(5)
#undef ST
}

static void vnni_rows(const int8_t *A, uint32_t n, const void *bp, const int32_t *cinit,
                      uint32_t r0, uint32_t rows, int32_t *c, void *scratch) {
    size_t np = vnni_ldc(n), kq = vnni_kq(n);
    size_t mpanels = (rows + V_MR - 1) / V_MR;
    /* as[mp][q][r] = 4 bytes A[r0 + 6mp + r][4q .. 4q+3] xor 0x80; rows past
     * the block and k past n read as 0 (their B or C counterpart is unused). */
    uint32_t *as = scratch;
    memset(as, 0, mpanels * kq * V_MR * 4);
    for (uint32_t r = 0; r < rows; r++) {
        const uint8_t *arow = (const uint8_t *)A + (size_t)(r0 + r) * n;
        uint8_t *dst = (uint8_t *)(as + (r / V_MR) * kq * V_MR + r % V_MR);
        for (uint32_t k = 0; k < n; k++) dst[(k / 4) * V_MR * 4 + k % 4] = arow[k] ^ 0x80;
    }
    /* the kernel always writes whole 6-row tiles; the C block has mc rows */
    for (size_t r = 0; r < mpanels * V_MR; r++) memcpy(c + r * np, cinit, np * 4);
    const uint8_t *b = bp;
    for (size_t q0 = 0; q0 < kq; q0 += V_KC) {
        size_t kc = kq - q0 < V_KC ? kq - q0 : V_KC;
        for (size_t p = 0; p < np / V_NR; p++) {
            const uint8_t *bpan = b + (p * kq + q0) * V_NR * 4;
            for (size_t mp = 0; mp < mpanels; mp++)
                vnni_kernel(as + (mp * kq + q0) * V_MR, bpan, kc, c + mp * V_MR * np + p * V_NR,
                            np);
        }
    }
}

const gemm_impl wd_gemm_avx512vnni = {
    .name = "avx512vnni", .supported = vnni_supported, .mc = V_MC, .ldc = vnni_ldc,
    .packed_b_bytes = vnni_b_bytes, .pack_b = vnni_pack_b,
    .scratch_bytes = vnni_scratch, .rows = vnni_rows,
};

/* ========================= AVX2: 6 x 16 tile ========================= */

#define W_MR 6
#define W_NR 16
#define W_KC 128 /* k-pairs per pass: 8 KiB B micro-panel */
#define W_MC 96

static int avx2_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}
static size_t avx2_ldc(uint32_t n) { return round_up(n, W_NR); }
static size_t avx2_kp(uint32_t n) { return (n + 1) / 2; }
static size_t avx2_b_bytes(uint32_t n) { return avx2_ldc(n) * avx2_kp(n) * 4; }
static size_t avx2_scratch(uint32_t n) { return (size_t)W_MC * avx2_kp(n) * 4; }

/* bp[panel][q][col 0..15][t 0..1] = (int16) B[2q+t][16 panel + col] */
static void avx2_pack_b(const int8_t *B, uint32_t n, void *bp, int32_t *cinit) {
    size_t np = avx2_ldc(n), kp = avx2_kp(n);
    int16_t *b = bp;
    memset(b, 0, np * kp * 4);
    memset(cinit, 0, np * 4);
    for (uint32_t k = 0; k < n; k++) {
        const int8_t *row = B + (size_t)k * n;
        size_t q = k / 2, t = k % 2;
        for (uint32_t j = 0; j < n; j++)
            b[((j / W_NR * kp + q) * W_NR + j % W_NR) * 2 + t] = row[j];
    }
}

__attribute__((target("avx2"))) static void
avx2_kernel(const uint32_t *a, const int16_t *b, size_t kc, int32_t *c, size_t ldc) {
#define LD(r) \
    __m256i c##r##0 = _mm256_loadu_si256((const __m256i *)(c + (r) * ldc)), \
            c##r##1 = _mm256_loadu_si256((const __m256i *)(c + (r) * ldc + 8));
    LD(0) LD(1) LD(2) LD(3) LD(4) LD(5)
#undef LD
    for (size_t q = 0; q < kc; q++) {
        const int16_t *bq = b + q * W_NR * 2;
        __m256i b0 = _mm256_loadu_si256((const __m256i *)bq);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(bq + 16));
        const uint32_t *aq = a + q * W_MR;
#define ROW(r) { \
        __m256i av = _mm256_set1_epi32((int)aq[r]); \
        c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(av, b0)); \
        c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(av, b1)); }
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
    }
#define ST(r) \
    _mm256_storeu_si256((__m256i *)(c + (r) * ldc), c##r##0); \
    _mm256_storeu_si256((__m256i *)(c + (r) * ldc + 8), c##r##1);
    ST(0) ST(1) ST(2) ST(3) ST(4) ST(5)
#undef ST
}

static void avx2_rows(const int8_t *A, uint32_t n, const void *bp, const int32_t *cinit,
                      uint32_t r0, uint32_t rows, int32_t *c, void *scratch) {
    size_t np = avx2_ldc(n), kp = avx2_kp(n);
    size_t mpanels = (rows + W_MR - 1) / W_MR;
    /* as[mp][q][r] = int16 pair (A[i][2q], A[i][2q+1]) */
    uint32_t *as = scratch;
    memset(as, 0, mpanels * kp * W_MR * 4);
    for (uint32_t r = 0; r < rows; r++) {
        const int8_t *arow = A + (size_t)(r0 + r) * n;
        int16_t *dst = (int16_t *)(as + (r / W_MR) * kp * W_MR + r % W_MR);
        for (uint32_t k = 0; k < n; k++) dst[(k / 2) * W_MR * 2 + k % 2] = arow[k];
    }
    for (size_t r = 0; r < mpanels * W_MR; r++) memcpy(c + r * np, cinit, np * 4);
    const int16_t *b = bp;
    for (size_t q0 = 0; q0 < kp; q0 += W_KC) {
        size_t kc = kp - q0 < W_KC ? kp - q0 : W_KC;
        for (size_t p = 0; p < np / W_NR; p++) {
            const int16_t *bpan = b + (p * kp + q0) * W_NR * 2;
            for (size_t mp = 0; mp < mpanels; mp++)
                avx2_kernel(as + (mp * kp + q0) * W_MR, bpan, kc, c + mp * W_MR * np + p * W_NR,
                            np);
        }
    }
}

const gemm_impl wd_gemm_avx2 = {
    .name = "avx2", .supported = avx2_supported, .mc = W_MC, .ldc = avx2_ldc,
    .packed_b_bytes = avx2_b_bytes, .pack_b = avx2_pack_b,
    .scratch_bytes = avx2_scratch, .rows = avx2_rows,
};

#endif
