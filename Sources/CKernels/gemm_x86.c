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

/* CPU and OS support read with cpuid/xgetbv directly rather than through
 * __builtin_cpu_supports, which needs libgcc's or compiler-rt's
 * __cpu_model at link time (not guaranteed when Swift links the program). */
#include <cpuid.h>

enum { F_AVX2 = 1, F_AVX512VNNI = 2 };

static int cpu_features(void) {
    unsigned a, b, c, d, lo, hi;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* OSXSAVE */
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if ((lo & 0x6) != 0x6) return 0; /* OS saves XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int f = 0;
    if (b & (1u << 5)) f |= F_AVX2;
    /* AVX-512F (ebx 16) + VNNI (ecx 11), and opmask/ZMM state saved */
    if ((b & (1u << 16)) && (c & (1u << 11)) && (lo & 0xe0) == 0xe0) f |= F_AVX512VNNI;
    return f;
}

/* ======================= AVX-512 VNNI: 6 x 64 tile ======================= */

#define V_MR 6
#define V_NR 64
#ifndef V_KC
#define V_KC 64 /* k-quads per pass: a 16 KiB B micro-panel stays in L1 */
#endif
#ifndef V_MC
#define V_MC 96
#endif

static int vnni_supported(void) { return (cpu_features() & F_AVX512VNNI) != 0; }
static size_t vnni_ldc(uint32_t n) { return round_up(n, V_NR); }
static size_t vnni_kq(uint32_t n) { return (n + 3) / 4; }
static size_t vnni_b_bytes(uint32_t n) { return vnni_ldc(n) * vnni_kq(n) * 4; }
static size_t vnni_scratch(uint32_t n) { return (size_t)V_MC * vnni_kq(n) * 4; }

/* bp[panel][q][col 0..63][t 0..3] = B[4q+t][64 panel + col], zero outside.
 * Written sequentially, reading 4 rows x 64 columns of B at a time. */
static size_t vnni_panels(uint32_t n) { return vnni_ldc(n) / V_NR; }
static void vnni_pack_b(const int8_t *B, uint32_t n, void *bp, int32_t *cinit, size_t p0,
                        size_t p1) {
    size_t kq = vnni_kq(n);
    for (size_t p = p0; p < p1; p++) {
        uint8_t *dst = (uint8_t *)bp + p * kq * V_NR * 4;
        for (size_t q = 0; q < kq; q++, dst += V_NR * 4) {
            size_t j0 = p * V_NR, k0 = 4 * q;
            if (j0 + V_NR <= n && k0 + 4 <= n) {
                const uint8_t *r0 = (const uint8_t *)B + k0 * n + j0;
                for (size_t col = 0; col < V_NR; col++) {
                    dst[4 * col] = r0[col];
                    dst[4 * col + 1] = r0[n + col];
                    dst[4 * col + 2] = r0[2 * (size_t)n + col];
                    dst[4 * col + 3] = r0[3 * (size_t)n + col];
                }
            } else {
                for (size_t col = 0; col < V_NR; col++)
                    for (size_t t = 0; t < 4; t++)
                        dst[4 * col + t] = (j0 + col < n && k0 + t < n)
                                               ? (uint8_t)B[(k0 + t) * n + j0 + col] : 0;
            }
        }
        /* the bias that turns (A+128)*B back into A*B, for this panel's columns */
        int32_t *ci = cinit + p * V_NR;
        size_t w = n - p * V_NR < V_NR ? n - p * V_NR : V_NR;
        memset(ci, 0, V_NR * 4);
        for (uint32_t k = 0; k < n; k++) {
            const int8_t *row = B + (size_t)k * n + p * V_NR;
            for (size_t j = 0; j < w; j++) ci[j] -= 128 * (int32_t)row[j];
        }
    }
}

/* Accumulators as a small array with unrolled loops: both GCC and clang keep
 * it in registers (24 accumulators + 4 B vectors + 1 broadcast of 32 zmm);
 * with one named variable per accumulator GCC spilled them every iteration. */
#define UNROLL(n) _Pragma(WD_STR(GCC unroll n))
#define WD_STR(x) #x
/* GCC 12's inter-procedural facts about the call site also made it spill
 * the accumulators; compiling the kernel as an opaque function avoids that. */
#if defined(__GNUC__) && !defined(__clang__)
#define KERNEL_ATTR noipa
#else
#define KERNEL_ATTR noinline
#endif

__attribute__((target("avx512f,avx512vnni"), KERNEL_ATTR)) static void
vnni_kernel(const uint32_t *a, const uint8_t *b, size_t kc, int32_t *c, size_t ldc) {
    __m512i acc[V_MR][4];
    UNROLL(6) for (int r = 0; r < V_MR; r++)
        UNROLL(4) for (int v = 0; v < 4; v++) acc[r][v] = _mm512_loadu_si512(c + r * ldc + 16 * v);
    for (size_t q = 0; q < kc; q++) {
        __m512i bv[4];
        UNROLL(4) for (int v = 0; v < 4; v++) bv[v] = _mm512_loadu_si512(b + q * V_NR * 4 + 64 * v);
        UNROLL(6) for (int r = 0; r < V_MR; r++) {
            __m512i av = _mm512_set1_epi32((int)a[q * V_MR + r]);
            UNROLL(4) for (int v = 0; v < 4; v++)
                acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], av, bv[v]);
        }
    }
    UNROLL(6) for (int r = 0; r < V_MR; r++)
        UNROLL(4) for (int v = 0; v < 4; v++) _mm512_storeu_si512(c + r * ldc + 16 * v, acc[r][v]);
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
    .name = "avx512vnni", .supported = vnni_supported, .mr = V_MR, .mc = V_MC, .ldc = vnni_ldc,
    .packed_b_bytes = vnni_b_bytes, .b_panels = vnni_panels, .pack_b = vnni_pack_b,
    .scratch_bytes = vnni_scratch, .rows = vnni_rows,
};

/* ========================= AVX2: 6 x 16 tile ========================= */

#define W_MR 6
#define W_NR 16
#define W_KC 128 /* k-pairs per pass: 8 KiB B micro-panel */
#define W_MC 96

static int avx2_supported(void) { return (cpu_features() & F_AVX2) != 0; }
static size_t avx2_ldc(uint32_t n) { return round_up(n, W_NR); }
static size_t avx2_kp(uint32_t n) { return (n + 1) / 2; }
static size_t avx2_b_bytes(uint32_t n) { return avx2_ldc(n) * avx2_kp(n) * 4; }
static size_t avx2_scratch(uint32_t n) { return (size_t)W_MC * avx2_kp(n) * 4; }

/* bp[panel][q][col 0..15][t 0..1] = (int16) B[2q+t][16 panel + col] */
static size_t avx2_panels(uint32_t n) { return avx2_ldc(n) / W_NR; }
static void avx2_pack_b(const int8_t *B, uint32_t n, void *bp, int32_t *cinit, size_t p0,
                        size_t p1) {
    size_t kp = avx2_kp(n);
    for (size_t p = p0; p < p1; p++) {
        int16_t *dst = (int16_t *)bp + p * kp * W_NR * 2;
        for (size_t q = 0; q < kp; q++, dst += W_NR * 2) {
            size_t j0 = p * W_NR, k0 = 2 * q;
            for (size_t col = 0; col < W_NR; col++)
                for (size_t t = 0; t < 2; t++)
                    dst[2 * col + t] = (j0 + col < n && k0 + t < n) ? B[(k0 + t) * n + j0 + col] : 0;
        }
        memset(cinit + p * W_NR, 0, W_NR * 4);
    }
}

__attribute__((target("avx2"), KERNEL_ATTR)) static void
avx2_kernel(const uint32_t *a, const int16_t *b, size_t kc, int32_t *c, size_t ldc) {
    __m256i acc[W_MR][2];
    UNROLL(6) for (int r = 0; r < W_MR; r++)
        UNROLL(2) for (int v = 0; v < 2; v++)
            acc[r][v] = _mm256_loadu_si256((const __m256i *)(c + r * ldc + 8 * v));
    for (size_t q = 0; q < kc; q++) {
        __m256i bv[2];
        UNROLL(2) for (int v = 0; v < 2; v++)
            bv[v] = _mm256_loadu_si256((const __m256i *)(b + q * W_NR * 2 + 16 * v));
        UNROLL(6) for (int r = 0; r < W_MR; r++) {
            __m256i av = _mm256_set1_epi32((int)a[q * W_MR + r]);
            UNROLL(2) for (int v = 0; v < 2; v++)
                acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_madd_epi16(av, bv[v]));
        }
    }
    UNROLL(6) for (int r = 0; r < W_MR; r++)
        UNROLL(2) for (int v = 0; v < 2; v++)
            _mm256_storeu_si256((__m256i *)(c + r * ldc + 8 * v), acc[r][v]);
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
    .name = "avx2", .supported = avx2_supported, .mr = W_MR, .mc = W_MC, .ldc = avx2_ldc,
    .packed_b_bytes = avx2_b_bytes, .b_panels = avx2_panels, .pack_b = avx2_pack_b,
    .scratch_bytes = avx2_scratch, .rows = avx2_rows,
};

#endif
