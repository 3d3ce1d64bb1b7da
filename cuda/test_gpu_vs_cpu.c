/* GPU against CPU: builds with the CPU sources of Sources/CKernels, loads
 * libwdpost_cuda.so through the same loader the program uses, and compares
 * every GPU result with the CPU result (wd_thread_force_cpu) and with the
 * known answers of Tests/ckernels/reference.py.
 *   ./test_gpu_vs_cpu [path/to/libwdpost_cuda.so]
 * WDTEST_MAX_N (default 4096) and WDTEST_MAX_MIB (default 300) bound the
 * largest synthetic size and Merkle buffer. */
#define _GNU_SOURCE
#include "cuda_abi.h"
#include "kernels.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int passed, failed;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            passed++;                                                      \
        } else {                                                           \
            failed++;                                                      \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                    \
            printf(__VA_ARGS__);                                           \
            printf(" [last error: %s]\n", wd_last_error());               \
        }                                                                  \
    } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void fill(uint8_t *b, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (uint8_t)(seed >> 16);
    }
}

static int eqhex(const uint8_t *b, const char *want) {
    char got[65];
    for (int i = 0; i < 32; i++) sprintf(got + 2 * i, "%02x", b[i]);
    return strcmp(got, want) == 0;
}

/* root on the GPU (through the loader) and on the CPU */
static void both_roots(const uint8_t *data, uint64_t len, uint8_t gpu[32], uint8_t cpu[32]) {
    int rc = wd_merkle_root_mem(data, len, 0, gpu);
    CHECK(rc == WD_OK, "GPU root of %llu bytes", (unsigned long long)len);
    wd_thread_force_cpu(1);
    rc = wd_merkle_root_mem(data, len, 0, cpu);
    wd_thread_force_cpu(0);
    CHECK(rc == WD_OK, "CPU root of %llu bytes", (unsigned long long)len);
}

static void test_merkle(const wdcuda_api *g, size_t max_mib) {
    /* known answers: buffers with byte i = (i * 131 + 7) mod 256 */
    static const struct {
        size_t len;
        const char *root;
    } kat[] = {
        {1, "aa78d00250ebecbaff1365075b554f1a9051c560adc300b3f9220a94e1e86808"},
        {32, "b51aff2fef611138e64a7733d3700376824432936f53bdc3d4781f8ff3d5430f"},
        {33, "165ce1fb127c5c0b0acedb9915e07a45f44d40e52ae405891b740d8c6e05062b"},
        {1000, "a24f65f3a349506a9bd2ad6d2563db5693a9777e4a8e40a066aa5289cd56453c"},
        {600000, "04c272e3b283d5384db009c9bd4f0322075eaf33af0708325b9a9b849cd7f928"},
        {1000003, "f0fa7a061cd9c2aa5cdf1ced78ade3731dcc5a776c9f6ee13fa08674736d1d0f"},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint8_t *b = malloc(kat[i].len), gpu[32], cpu[32];
        for (size_t j = 0; j < kat[i].len; j++) b[j] = (uint8_t)(j * 131 + 7);
        both_roots(b, kat[i].len, gpu, cpu);
        CHECK(eqhex(gpu, kat[i].root), "GPU known answer, %zu bytes", kat[i].len);
        CHECK(memcmp(gpu, cpu, 32) == 0, "GPU == CPU, %zu bytes", kat[i].len);
        free(b);
    }
    /* large random buffers: several GPU batches and a ragged tail */
    size_t sizes[] = {((size_t)64 << 20) + 5, ((size_t)300 << 20) + 17};
    for (size_t i = 0; i < 2; i++) {
        if (sizes[i] > (max_mib << 20) + 100) continue;
        uint8_t *b = malloc(sizes[i]), gpu[32], cpu[32];
        fill(b, sizes[i], (uint32_t)i + 1);
        double t = now();
        both_roots(b, sizes[i], gpu, cpu);
        CHECK(memcmp(gpu, cpu, 32) == 0, "GPU == CPU, %zu bytes (%.1fs)", sizes[i], now() - t);
        free(b);
    }
    /* the ABI call directly, at several chunk heights */
    unsigned heights[] = {1, 5, 13, 17};
    for (size_t h = 0; h < 4; h++) {
        unsigned ch = heights[h];
        uint64_t nchunks = 5, chunk = (uint64_t)32 << ch, len = nchunks * chunk - 77;
        uint8_t *b = malloc(nchunks * chunk), *roots = malloc(nchunks * 32), cpu[32];
        char err[512] = "";
        fill(b, len, 99 + ch);
        memset(b + len, 0, 77);
        CHECK(g->merkle_chunk_roots(b, len, ch, nchunks, roots, err, sizeof err) == 0,
              "chunk roots height %u: %s", ch, err);
        for (uint64_t c = 0; c < nchunks; c++) {
            wd_thread_force_cpu(1);
            wd_merkle_root_mem(b + c * chunk, chunk, 1, cpu);
            wd_thread_force_cpu(0);
            CHECK(memcmp(roots + 32 * c, cpu, 32) == 0, "chunk %llu height %u",
                  (unsigned long long)c, ch);
        }
        free(b);
        free(roots);
    }
}

static void test_synthetic(uint32_t max_n) {
    static const uint32_t sizes[] = {1, 2, 3, 31, 64, 100, 127, 128, 129, 200, 255, 256, 257,
                                     1000, 1024, 2048, 4096, 8192};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint32_t n = sizes[s];
        if (n > max_n) continue;
        uint8_t *rg = malloc((size_t)n * 32), *rc = malloc((size_t)n * 32), root_g[32], root_c[32];
        double t0 = now();
        CHECK(wd_synthetic_compute("00ab", "worker-1", n, 0, root_g, rg) == WD_OK, "GPU synthetic n=%u", n);
        double t1 = now();
        wd_thread_force_cpu(1);
        CHECK(wd_synthetic_compute("00ab", "worker-1", n, 0, root_c, rc) == WD_OK, "CPU synthetic n=%u", n);
        wd_thread_force_cpu(0);
        double t2 = now();
        CHECK(memcmp(root_g, root_c, 32) == 0 && memcmp(rg, rc, (size_t)n * 32) == 0,
              "GPU == CPU synthetic n=%u (gpu %.3fs, cpu %.3fs)", n, t1 - t0, t2 - t1);
        if (n == 64)
            CHECK(eqhex(root_g, "322385d8cdc4e658cf106157b749e607122e78e5d47cec97943a010bef11eb9e"),
                  "GPU known answer n=64");
        if (n == 100)
            CHECK(eqhex(root_g, "b52897b5d87768a859fcdbb5f3ea8f8aac81a2a6f56451f131b15df7ed8f3d51"),
                  "GPU known answer n=100");
        free(rg);
        free(rc);
    }
    /* the worker's proof through the GPU: prove re-derives challenged rows on
     * the CPU and fails if they do not match the GPU's row hashes */
    uint32_t n = max_n < 1000 ? max_n : 1000, rows[8];
    int32_t *vals = malloc((size_t)8 * n * 4);
    uint8_t *paths = malloc((size_t)8 * 32 * 32), root[32];
    unsigned depth = wd_synthetic_depth(n);
    CHECK(wd_synthetic_prove("blk", "w", n, 8, 0, root, rows, vals, paths) == WD_OK, "GPU prove n=%u", n);
    for (int c = 0; c < 8; c++)
        CHECK(wd_synthetic_verify_row(root, n, rows[c], vals + (size_t)c * n, paths + (size_t)c * depth * 32) == WD_OK,
              "GPU proof row %d verifies", c);
    free(vals);
    free(paths);
}

int main(int argc, char **argv) {
    const char *lib = argc > 1 ? argv[1] : "./libwdpost_cuda.so";
    char path[4096];
    if (!realpath(lib, path)) {
        printf("FAIL: %s not found\ngpu_vs_cpu: 0 passed, 1 failed\n", lib);
        return 1;
    }
    setenv("WDPOST_CUDA_LIB", path, 1);
    unsetenv("WDPOST_NO_GPU");
    size_t max_mib = getenv("WDTEST_MAX_MIB") ? (size_t)atol(getenv("WDTEST_MAX_MIB")) : 300;
    uint32_t max_n = getenv("WDTEST_MAX_N") ? (uint32_t)atol(getenv("WDTEST_MAX_N")) : 4096;

    printf("backend %s: %s\n", wd_backend_name(), wd_backend_detail());
    if (strcmp(wd_backend_name(), "cuda") != 0) {
        printf("FAIL: the CUDA library did not load\ngpu_vs_cpu: 0 passed, 1 failed\n");
        return 1;
    }
    for (int i = 0; i < wd_device_count(); i++) {
        wd_device_t d;
        if (wd_device_info(i, &d) == WD_OK)
            printf("device %d: %s, %.1f GiB, %d SMs, cc %d.%d, ~%d CUDA cores\n", i, d.name,
                   d.memory_bytes / 1073741824.0, d.sm_count, d.cc_major, d.cc_minor, d.cuda_cores);
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    wdcuda_api g;
    *(void **)&g.merkle_chunk_roots = h ? dlsym(h, "wdcuda_merkle_chunk_roots") : NULL;
    CHECK(g.merkle_chunk_roots != NULL, "dlsym wdcuda_merkle_chunk_roots");
    if (g.merkle_chunk_roots) test_merkle(&g, max_mib);
    test_synthetic(max_n);
    printf("gpu_vs_cpu: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
