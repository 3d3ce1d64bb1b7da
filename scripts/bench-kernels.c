/* Kernel benchmark: prints key=value lines (see scripts/bench_kernels.sh).
 *   merkle_*     tree_d root of a random buffer (default 256 MiB); *_mbps is
 *                input bytes per second (1 MB = 10^6 B), *_hash_mbps counts
 *                the 64 bytes each parent hashes, the unit `openssl speed`
 *                uses for 64-byte messages.
 *   synthetic_*  wd_synthetic_compute for n (default 1024): generation, GEMM,
 *                row hashes and root; gops = 2 n^3 / seconds / 10^9.
 *   gemm_*       the GEMM + row hashing part alone.
 * Usage: bench-kernels [merkle_mib] [n] */
#include "internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* best of `reps` runs, at least min_s seconds in total */
#define BEST(reps, min_s, expr)                                             \
    ({                                                                      \
        double best = 1e30, start = now();                                  \
        for (int r_ = 0; r_ < (reps) || now() - start < (min_s); r_++) {    \
            double t_ = now();                                              \
            if ((expr) != WD_OK) {                                          \
                fprintf(stderr, "bench failed: %s\n", wd_last_error());     \
                exit(1);                                                    \
            }                                                               \
            t_ = now() - t_;                                                \
            if (t_ < best) best = t_;                                       \
        }                                                                   \
        best;                                                               \
    })

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 256;
    uint32_t n = argc > 2 ? (uint32_t)atol(argv[2]) : 1024;
    int all = wd_cpu_threads(0);
    printf("backend=%s\nthreads_all=%d\ngemm_impl=%s\n", wd_backend_name(), all,
           wd_synthetic_cpu_impl());

    size_t len = mib << 20;
    uint8_t *buf = malloc(len), root[32];
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < len; i += 8) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        memcpy(buf + i, &x, 8);
    }
    double nodes = (double)wd_merkle_leaf_count(len) - 1;
    double t1 = BEST(2, 1.0, wd_merkle_root_mem(buf, len, 1, root));
    double ta = BEST(3, 1.0, wd_merkle_root_mem(buf, len, 0, root));
    printf("merkle_bytes=%zu\n", len);
    printf("merkle_mbps_1t=%.1f\nmerkle_mbps_all=%.1f\n", len / t1 / 1e6, len / ta / 1e6);
    printf("merkle_hash_mbps_1t=%.1f\nmerkle_hash_mbps_all=%.1f\n", nodes * 64 / t1 / 1e6,
           nodes * 64 / ta / 1e6);
    free(buf);

    double ops = 2.0 * n * n * n;
    uint8_t *rh = malloc((size_t)n * 32);
    double s1 = BEST(3, 1.0, wd_synthetic_compute("bench", "worker", n, 1, root, rh));
    double sa = BEST(5, 1.0, wd_synthetic_compute("bench", "worker", n, 0, root, rh));
    printf("synthetic_n=%u\nsynthetic_gops_1t=%.1f\nsynthetic_gops_all=%.1f\n", n, ops / s1 / 1e9,
           ops / sa / 1e9);

    uint8_t seed[32];
    int8_t *A = malloc((size_t)n * n), *B = malloc((size_t)n * n);
    wd_synthetic_seed("bench", "worker", seed);
    wd_synthetic_generate(seed, 'A', n, 0, A);
    wd_synthetic_generate(seed, 'B', n, 0, B);
    double g1 = BEST(3, 1.0, wd_gemm_row_hashes(A, B, n, 1, rh));
    double ga = BEST(5, 1.0, wd_gemm_row_hashes(A, B, n, 0, rh));
    printf("gemm_gops_1t=%.1f\ngemm_gops_all=%.1f\n", ops / g1 / 1e9, ops / ga / 1e9);
    free(A); free(B); free(rh);
    return 0;
}
