/* GPU benchmark (make bench): key=value lines.
 *   gemm_tops_n<N>          int8 GEMM kernel alone, 2 N^3 / s / 10^12 (the
 *                           kernel in use: tensor cores where self-tested)
 *   gemm_dp4a_tops_n<N>     the CUDA-core kernel, for comparison
 *   synthetic_tops_n<N>     wd_synthetic_compute end to end (allocation,
 *                           generation, GEMM, row hashes, copies, root)
 *   merkle_device_gbps      tree levels over 1 GiB already on the device
 *   merkle_gbps             wd_merkle_root_mem of a 1 GiB host buffer
 *                           (includes the host-to-device copies)
 *   merkle_cpu_gbps         the same on the CPU, all threads
 *   ./bench_gpu [path/to/libwdpost_cuda.so] */
#define _GNU_SOURCE
#include "kernels.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*bench_gemm_fn)(uint32_t, int, int, double *, char *, size_t);
typedef int (*bench_merkle_fn)(uint64_t, int, double *, char *, size_t);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const char *lib = argc > 1 ? argv[1] : "./libwdpost_cuda.so";
    char path[4096], err[512] = "";
    if (!realpath(lib, path)) {
        fprintf(stderr, "%s not found\n", lib);
        return 1;
    }
    setenv("WDPOST_CUDA_LIB", path, 1);
    unsetenv("WDPOST_NO_GPU");
    if (strcmp(wd_backend_name(), "cuda") != 0) {
        fprintf(stderr, "CUDA backend not loaded: %s\n", wd_backend_detail());
        return 1;
    }
    wd_device_t d;
    if (wd_device_info(0, &d) == WD_OK)
        printf("device=%s\ndevice_sms=%d\ndevice_cc=%d.%d\n", d.name, d.sm_count, d.cc_major, d.cc_minor);
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    bench_gemm_fn gemm = h ? (bench_gemm_fn)dlsym(h, "wdcuda_bench_gemm") : NULL;
    bench_merkle_fn merkle = h ? (bench_merkle_fn)dlsym(h, "wdcuda_bench_merkle") : NULL;
    if (!gemm || !merkle) {
        fprintf(stderr, "benchmark symbols missing from %s\n", path);
        return 1;
    }

    static const uint32_t sizes[] = {1024, 4096, 8192, 16384};
    for (int i = 0; i < 4; i++) {
        uint32_t n = sizes[i];
        double s, ops = 2.0 * n * n * n;
        if (gemm(n, 5, -1, &s, err, sizeof err) == 0) printf("gemm_tops_n%u=%.1f\n", n, ops / s / 1e12);
        else printf("gemm_error_n%u=%s\n", n, err);
        if (n >= 4096) {
            if (gemm(n, 3, 0, &s, err, sizeof err) == 0)
                printf("gemm_dp4a_tops_n%u=%.1f\n", n, ops / s / 1e12);
        }
    }
    for (int i = 1; i < 4; i++) {
        uint32_t n = sizes[i];
        uint8_t root[32];
        double best = 1e30;
        for (int r = 0; r < 3; r++) {
            double t = now();
            if (wd_synthetic_compute("bench", "worker", n, 0, root, NULL) != WD_OK) {
                printf("synthetic_error_n%u=%s\n", n, wd_last_error());
                break;
            }
            t = now() - t;
            if (t < best) best = t;
        }
        if (best < 1e30) printf("synthetic_tops_n%u=%.2f\n", n, 2.0 * n * n * n / best / 1e12);
    }

    uint64_t bytes = (uint64_t)1 << 30;
    double s;
    if (merkle(bytes, 5, &s, err, sizeof err) == 0) printf("merkle_device_gbps=%.1f\n", bytes / s / 1e9);
    else printf("merkle_device_error=%s\n", err);
    uint8_t *buf = malloc(bytes), root[32];
    if (buf) {
        for (uint64_t i = 0; i < bytes; i++) buf[i] = (uint8_t)(i * 2654435761u >> 13);
        double best = 1e30;
        for (int r = 0; r < 3; r++) {
            double t = now();
            if (wd_merkle_root_mem(buf, bytes, 0, root) != WD_OK) break;
            t = now() - t;
            if (t < best) best = t;
        }
        printf("merkle_gbps=%.2f\n", bytes / best / 1e9);
        wd_thread_force_cpu(1);
        double t = now();
        wd_merkle_root_mem(buf, bytes, 0, root);
        printf("merkle_cpu_gbps=%.2f\ncpu_threads=%d\n", bytes / (now() - t) / 1e9, wd_cpu_threads(0));
        wd_thread_force_cpu(0);
        free(buf);
    }
    return 0;
}
