/* Tests of the C kernel library (Sources/CKernels), built and run by run.sh.
 *
 * Known answers below were printed by Tests/ckernels/reference.py, an
 * independent implementation of docs/KERNELS.md in Python (hashlib + numpy).
 * Test buffers: byte i is (i * 131 + 7) mod 256.
 *
 * Modes (argv[1]):
 *   cpu        everything on the CPU (run.sh sets WDPOST_NO_GPU=1)
 *   mock       backend must be "cuda" via Tests/ckernels/fake_cuda.c; the same
 *              known answers must come back through the loader's dispatch
 *   nodevice   the library loads but reports no device: CPU backend
 *   missing    WDPOST_CUDA_LIB names a missing file: CPU backend
 *   forced     WDPOST_NO_GPU=1 wins over a loadable library */
#define _GNU_SOURCE
#include "kernels.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int passed, failed;

#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (cond) {                                                   \
            passed++;                                                 \
        } else {                                                      \
            failed++;                                                 \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);               \
            printf(__VA_ARGS__);                                      \
            printf(" [last error: %s]\n", wd_last_error());          \
        }                                                             \
    } while (0)

static void hex(const uint8_t *b, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static int eqhex(const uint8_t *b, size_t n, const char *want) {
    char got[4096];
    hex(b, n, got);
    if (strcmp(got, want) == 0) return 1;
    printf("  got  %s\n  want %s\n", got, want);
    return 0;
}

static uint8_t *test_buf(size_t n) {
    uint8_t *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(i * 131 + 7);
    return b;
}

static char tmpdir[256];

static const char *write_file(const char *name, const uint8_t *data, size_t n) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        perror(path);
        exit(2);
    }
    fclose(f);
    return path;
}

/* ---------------- hashing ---------------- */

static void test_hash(void) {
    uint8_t out[32], l[32], r[32];
    wd_sha256((const uint8_t *)"abc", 3, out);
    CHECK(eqhex(out, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
          "sha256(abc)");
    for (int i = 0; i < 32; i++) l[i] = (uint8_t)i, r[i] = (uint8_t)(32 + i);
    wd_merkle_node(l, r, out);
    CHECK(eqhex(out, 32, "fdeab9acf3710362bd2658cdc9a29e8f9c757fcf9811603a8c447cd1d9151108"),
          "trunc254 node");
}

/* ---------------- sector tree ---------------- */

static const struct {
    size_t len;
    const char *root;
} roots[] = {
    {0, "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb0b"},
    {1, "aa78d00250ebecbaff1365075b554f1a9051c560adc300b3f9220a94e1e86808"},
    {32, "b51aff2fef611138e64a7733d3700376824432936f53bdc3d4781f8ff3d5430f"},
    {33, "165ce1fb127c5c0b0acedb9915e07a45f44d40e52ae405891b740d8c6e05062b"},
    {1000, "a24f65f3a349506a9bd2ad6d2563db5693a9777e4a8e40a066aa5289cd56453c"},
    {600000, "04c272e3b283d5384db009c9bd4f0322075eaf33af0708325b9a9b849cd7f928"},
    {1000003, "f0fa7a061cd9c2aa5cdf1ced78ade3731dcc5a776c9f6ee13fa08674736d1d0f"},
};

static void test_merkle_shape(void) {
    CHECK(wd_merkle_depth(0) == 1 && wd_merkle_leaf_count(0) == 2, "depth(0)");
    CHECK(wd_merkle_depth(1) == 1, "depth(1)");
    CHECK(wd_merkle_depth(64) == 1, "depth(64)");
    CHECK(wd_merkle_depth(65) == 2, "depth(65)");
    CHECK(wd_merkle_depth(1000) == 5, "depth(1000)");
    CHECK(wd_merkle_depth((uint64_t)32 << 30) == 30, "depth(32 GiB)");
    CHECK(wd_merkle_leaf_count(1000003) == 32768, "leaf_count(1000003)");
}

static void test_merkle_roots(void) {
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
        uint8_t *b = test_buf(roots[i].len), root[32];
        for (int t = 0; t <= 3; t++) {
            int rc = wd_merkle_root_mem(b, roots[i].len, t, root);
            CHECK(rc == WD_OK && eqhex(root, 32, roots[i].root), "root_mem len=%zu threads=%d",
                  roots[i].len, t);
        }
        const char *path = write_file("tree.bin", b, roots[i].len);
        int rc = wd_merkle_root_file(path, 2, root);
        CHECK(rc == WD_OK && eqhex(root, 32, roots[i].root), "root_file len=%zu", roots[i].len);
        free(b);
    }
}

static void test_merkle_paths(void) {
    uint8_t *b = test_buf(1000), root[32], leaf[32], path[5 * 32];
    uint64_t idx = 5;
    int rc = wd_merkle_paths_mem(b, 1000, &idx, 1, 1, root, leaf, path);
    CHECK(rc == WD_OK, "paths_mem 1000");
    CHECK(eqhex(leaf, 32, "e76aed70f376f97cff8205880b8e1194179a1da023a629ac2fb235b83bbe41c4"),
          "leaf 5");
    CHECK(eqhex(path, sizeof path,
                "870a8d109316991c9f22a528ab2eb134b73abd40c346c94ccf52d558db5ee164"
                "e3309cb9da87504f240e6f5342485b2a06466d324953fab17d255e9c63007c22"
                "a828ccd88c98b26d23d19ceb6e0995a7fbcd79f664834cc431fb2cbf95119e25"
                "c7571c75c2d81f60129003da30eac50ea9afd90af5fb7d3f1b259bb3baefed29"
                "a0cc3f275458cfd5d4fca5acf7cd057569b6f8a785024bd9b34edb11de8aac0e"),
          "path of leaf 5");
    CHECK(wd_merkle_verify(root, leaf, 5, path, 5) == WD_OK, "verify leaf 5");
    CHECK(wd_merkle_verify(root, leaf, 4, path, 5) == WD_ERR_VERIFY, "wrong index rejected");
    CHECK(wd_merkle_verify(root, leaf, 32, path, 5) == WD_ERR_ARG, "index out of range");
    leaf[3] ^= 1;
    CHECK(wd_merkle_verify(root, leaf, 5, path, 5) == WD_ERR_VERIFY, "tampered leaf rejected");
    leaf[3] ^= 1;
    path[40] ^= 1;
    CHECK(wd_merkle_verify(root, leaf, 5, path, 5) == WD_ERR_VERIFY, "tampered path rejected");
    idx = 32;
    CHECK(wd_merkle_paths_mem(b, 1000, &idx, 1, 1, root, leaf, path) == WD_ERR_ARG,
          "path index out of range");
    free(b);

    /* 1000003 bytes: 4 chunks of 8192 leaves, last one partly padding */
    static const struct {
        uint64_t idx;
        const char *sha;
    } big[] = {
        {0, "e746c6aa4e1bf781adff7732606589f632b8f9530554e9cc85aa061c7947a7a9"},
        {12345, "c5bbeebe2ba831d6a0aee73744fc8b9feec3e39d5c648bb27c45942748a61ed5"},
        {31250, "5ad677801779eabfb4113d13eafb13e19524bdf8c2f370bdc87139d0921c7a8c"},
        {32767, "6931f44c201ad69cdf591f597709272e388009ffc3cb5f58240b9bcf73b2562f"},
    };
    b = test_buf(1000003);
    const char *file = write_file("big.bin", b, 1000003);
    uint64_t ids[4];
    uint8_t leaves[4 * 32], paths[4 * 15 * 32], froot[32], fleaves[4 * 32], fpaths[4 * 15 * 32];
    for (int i = 0; i < 4; i++) ids[i] = big[i].idx;
    rc = wd_merkle_paths_mem(b, 1000003, ids, 4, 2, root, leaves, paths);
    CHECK(rc == WD_OK, "paths_mem 1000003");
    rc = wd_merkle_paths_file(file, ids, 4, 0, froot, fleaves, fpaths);
    CHECK(rc == WD_OK, "paths_file 1000003");
    CHECK(eqhex(root, 32, roots[6].root), "paths root 1000003");
    CHECK(memcmp(root, froot, 32) == 0 && memcmp(leaves, fleaves, sizeof leaves) == 0 &&
              memcmp(paths, fpaths, sizeof paths) == 0,
          "file and memory paths agree");
    for (int i = 0; i < 4; i++) {
        uint8_t h[32];
        wd_sha256(paths + i * 15 * 32, 15 * 32, h);
        CHECK(eqhex(h, 32, big[i].sha), "path sha of leaf %llu", (unsigned long long)ids[i]);
        CHECK(wd_merkle_verify(root, leaves + 32 * i, ids[i], paths + i * 15 * 32, 15) == WD_OK,
              "verify leaf %llu", (unsigned long long)ids[i]);
    }
    free(b);
}

static void test_merkle_errors(void) {
    uint8_t root[32];
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no-such-sector.bin", tmpdir);
    CHECK(wd_merkle_root_file(missing, 1, root) == WD_ERR_IO, "missing file");
    CHECK(strstr(wd_last_error(), missing) != NULL, "message names the path: %s", wd_last_error());
    CHECK(wd_merkle_root_file(tmpdir, 1, root) == WD_ERR_IO, "directory is not a sector");
}

/* multi-threaded builds must equal single-threaded ones on inputs that span
 * many chunks, with a ragged tail */
static void test_merkle_threads(void) {
    size_t n = ((size_t)9 << 20) + 13;
    uint8_t *b = malloc(n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (uint8_t)(x >> 16);
    }
    uint8_t r1[32], r2[32], r5[32], rf[32];
    CHECK(wd_merkle_root_mem(b, n, 1, r1) == WD_OK, "root 1 thread");
    CHECK(wd_merkle_root_mem(b, n, 2, r2) == WD_OK, "root 2 threads");
    CHECK(wd_merkle_root_mem(b, n, 5, r5) == WD_OK, "root 5 threads");
    const char *path = write_file("rand.bin", b, n);
    CHECK(wd_merkle_root_file(path, 3, rf) == WD_OK, "root file 3 threads");
    CHECK(memcmp(r1, r2, 32) == 0 && memcmp(r1, r5, 32) == 0 && memcmp(r1, rf, 32) == 0,
          "thread counts agree");
    free(b);
}

/* ---------------- synthetic ---------------- */

static const struct {
    const char *bh, *worker;
    uint32_t n;
    const char *seed, *root;
    int32_t c00, clast;
    uint32_t ch[8];
} syn[] = {
    {"00ab", "worker-1", 64, "9322d82c70a6a9852181abecf183ec5e339b4a542272a8e037d05636fe2f4342",
     "322385d8cdc4e658cf106157b749e607122e78e5d47cec97943a010bef11eb9e", 38219, 13595,
     {6, 25, 54, 49, 48, 43, 63, 0}},
    {"00ab", "worker-1", 100, "9322d82c70a6a9852181abecf183ec5e339b4a542272a8e037d05636fe2f4342",
     "b52897b5d87768a859fcdbb5f3ea8f8aac81a2a6f56451f131b15df7ed8f3d51", 43104, 1984,
     {5, 37, 86, 88, 14, 89, 9, 5}},
    {"x", "y", 1, "769a4e6d0003189c7e96c5d9b7e810a0d11c3a12832527ec94b0f86d277f51ca",
     "7f5475dc40d09c6a543b1fb9ec3e23d6f6516d208553b1097812b1fedb93b3e5", -6670, -6670,
     {0, 0, 0, 0, 0, 0, 0, 0}},
    {"x", "y", 3, "769a4e6d0003189c7e96c5d9b7e810a0d11c3a12832527ec94b0f86d277f51ca",
     "66a8384b94cbe898439bc1321c2d640aabe0043a6de93f0b5da4628990b60a52", -4965, 6808,
     {0, 2, 2, 0, 2, 0, 2, 0}},
};

static const char *impls[] = {"generic", "avx2", "avx512vnni"};

static void test_synthetic_kat(int cpu_mode) {
    for (size_t s = 0; s < sizeof syn / sizeof syn[0]; s++) {
        uint32_t n = syn[s].n;
        uint8_t seed[32], root[32];
        wd_synthetic_seed(syn[s].bh, syn[s].worker, seed);
        CHECK(eqhex(seed, 32, syn[s].seed), "seed n=%u", n);
        for (size_t im = 0; im < (cpu_mode ? 3u : 1u); im++) {
            if (cpu_mode && wd_synthetic_set_cpu_impl(impls[im]) != WD_OK) {
                printf("skip %s: %s\n", impls[im], wd_last_error());
                continue;
            }
            for (int t = 1; t <= 3; t += 2) {
                int rc = wd_synthetic_compute(syn[s].bh, syn[s].worker, n, t, root, NULL);
                CHECK(rc == WD_OK && eqhex(root, 32, syn[s].root), "root n=%u impl=%s threads=%d",
                      n, cpu_mode ? impls[im] : "device", t);
            }
        }
        wd_synthetic_set_cpu_impl("auto");
        int32_t *row = malloc(n * 4);
        CHECK(wd_synthetic_row(syn[s].bh, syn[s].worker, n, 0, row) == WD_OK && row[0] == syn[s].c00,
              "C[0][0] n=%u got %d", n, row[0]);
        CHECK(wd_synthetic_row(syn[s].bh, syn[s].worker, n, n - 1, row) == WD_OK &&
                  row[n - 1] == syn[s].clast,
              "C[n-1][n-1] n=%u got %d", n, row[n - 1]);
        for (uint32_t t = 0; t < 8; t++)
            CHECK(wd_synthetic_challenge_row(root, t, n) == syn[s].ch[t], "challenge %u n=%u", t, n);
        free(row);
    }
}

static void test_synthetic_paths(void) {
    const uint32_t n = 100;
    uint8_t rh[100 * 32], root[32], path[7 * 32], h[32];
    int32_t row[100];
    CHECK(wd_synthetic_depth(1) == 0 && wd_synthetic_depth(2) == 1 && wd_synthetic_depth(100) == 7,
          "synthetic depth");
    CHECK(wd_synthetic_compute("00ab", "worker-1", n, 0, root, rh) == WD_OK, "compute n=100");
    CHECK(eqhex(rh + 7 * 32, 32, "ff545e9b20189c957bbdd8219f8a539269811c348c8b6aed4f2cbd5d4faaf890"),
          "row 7 hash");
    CHECK(wd_synthetic_path(rh, n, 7, path) == WD_OK, "path row 7");
    wd_sha256(path, sizeof path, h);
    CHECK(eqhex(h, 32, "87eaff437f685e61cfa769eba302438592b860dc3ee3c2fb8328308009775db9"),
          "row 7 path");
    CHECK(wd_synthetic_row("00ab", "worker-1", n, 7, row) == WD_OK, "row 7");
    CHECK(wd_synthetic_verify_row(root, n, 7, row, path) == WD_OK, "verify row 7");
    CHECK(wd_synthetic_verify_row(root, n, 8, row, path) == WD_ERR_VERIFY, "row 7 as row 8");
    row[50]++;
    CHECK(wd_synthetic_verify_row(root, n, 7, row, path) == WD_ERR_VERIFY, "tampered row");
    CHECK(wd_synthetic_row("00ab", "worker-1", n, 100, row) == WD_ERR_ARG, "row out of range");
    CHECK(wd_synthetic_compute("a", "b", 0, 1, root, NULL) == WD_ERR_ARG, "n=0 rejected");
    CHECK(wd_synthetic_compute("a", "b", WD_SYNTHETIC_MAX_N + 1, 1, root, NULL) == WD_ERR_ARG,
          "n too large rejected");

    /* the worker's one-call proof, checked as the master would */
    uint32_t rows[8];
    int32_t *vals = malloc(8 * n * 4);
    uint8_t *paths = malloc(8 * 7 * 32);
    uint8_t proot[32];
    CHECK(wd_synthetic_prove("00ab", "worker-1", n, 8, 2, proot, rows, vals, paths) == WD_OK,
          "prove n=100");
    CHECK(memcmp(proot, root, 32) == 0, "prove root");
    for (int c = 0; c < 8; c++) {
        CHECK(rows[c] == syn[1].ch[c], "prove row %d", c);
        CHECK(wd_synthetic_verify_row(proot, n, rows[c], vals + c * n, paths + c * 7 * 32) == WD_OK,
              "prove row %d verifies", c);
    }
    free(vals);
    free(paths);

    /* n = 1: the root is the single row hash, paths are empty */
    uint8_t r1[32], rh1[32];
    int32_t v1;
    CHECK(wd_synthetic_compute("x", "y", 1, 1, r1, rh1) == WD_OK && memcmp(r1, rh1, 32) == 0,
          "n=1 root is the row hash");
    CHECK(wd_synthetic_row("x", "y", 1, 0, &v1) == WD_OK &&
              wd_synthetic_verify_row(r1, 1, 0, &v1, NULL) == WD_OK,
          "n=1 verify");
}

/* every CPU GEMM implementation, several thread counts and awkward sizes,
 * against the plain per-row loop */
static void test_synthetic_impls(void) {
    static const uint32_t sizes[] = {2, 4, 5, 31, 33, 63, 65, 97, 128, 130, 200, 257, 301};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        uint32_t n = sizes[si];
        uint8_t *want = malloc((size_t)n * 32), *got = malloc((size_t)n * 32);
        int32_t *row = malloc(n * 4);
        for (uint32_t i = 0; i < n; i++) {
            wd_synthetic_row("impl", "test", n, i, row);
            wd_synthetic_row_hash(row, n, want + 32 * i);
        }
        for (size_t im = 0; im < 3; im++) {
            if (wd_synthetic_set_cpu_impl(impls[im]) != WD_OK) continue;
            for (int t = 1; t <= 4; t += 3) {
                uint8_t root[32];
                memset(got, 0, (size_t)n * 32);
                int rc = wd_synthetic_compute("impl", "test", n, t, root, got);
                CHECK(rc == WD_OK && memcmp(want, got, (size_t)n * 32) == 0,
                      "impl %s n=%u threads=%d matches the row loop", impls[im], n, t);
            }
        }
        wd_synthetic_set_cpu_impl("auto");
        free(want); free(got); free(row);
    }
    CHECK(wd_synthetic_set_cpu_impl("nope") == WD_ERR_ARG, "unknown impl rejected");
}

/* ---------------- wdpost ---------------- */

static void test_post(void) {
    uint8_t rnd[32];
    for (int i = 0; i < 32; i++) rnd[i] = (uint8_t)i;
    static const uint64_t want42[10] = {6794, 23808, 17158, 22416, 6196, 28648, 2739, 11143, 28551, 6895};
    static const uint64_t want7[10] = {1, 1, 1, 1, 0, 0, 1, 1, 0, 1};
    for (int j = 0; j < 10; j++) {
        CHECK(wd_post_challenge_index(rnd, 42, j, 32768) == want42[j], "challenge %d sector 42", j);
        CHECK(wd_post_challenge_index(rnd, 7, j, 2) == want7[j], "challenge %d sector 7", j);
    }
    uint8_t *b = test_buf(1000003);
    const char *path = write_file("sector42.bin", b, 1000003);
    unsigned depth = 0;
    CHECK(wd_post_sector_depth(path, &depth) == WD_OK && depth == 15, "sector depth");
    uint64_t idx[10];
    uint8_t root[32], leaves[10 * 32], paths[10 * 15 * 32];
    int rc = wd_post_prove_file(path, 42, rnd, 10, 0, root, idx, leaves, paths);
    CHECK(rc == WD_OK, "prove sector 42");
    CHECK(eqhex(root, 32, roots[6].root), "sector root");
    for (int j = 0; j < 10; j++) {
        CHECK(idx[j] == want42[j], "proof index %d", j);
        CHECK(memcmp(leaves + 32 * j, b + 32 * idx[j], 32) == 0, "proof leaf %d is the data", j);
        CHECK(wd_post_verify(root, 42, rnd, j, 15, idx[j], leaves + 32 * j, paths + j * 15 * 32) ==
                  WD_OK,
              "verify challenge %d", j);
    }
    CHECK(wd_post_verify(root, 43, rnd, 0, 15, idx[0], leaves, paths) == WD_ERR_VERIFY,
          "other sector id rejected");
    CHECK(wd_post_verify(root, 42, rnd, 1, 15, idx[0], leaves, paths) == WD_ERR_VERIFY,
          "other challenge rejected");
    char missing[600];
    snprintf(missing, sizeof missing, "%s/missing-sector", tmpdir);
    rc = wd_post_prove_file(missing, 1, rnd, 10, 1, root, idx, leaves, paths);
    CHECK(rc == WD_ERR_IO && strstr(wd_last_error(), missing), "missing sector names the path");
    free(b);
}

/* ---------------- backend ---------------- */

static int fake_calls(void) {
    const char *lib = getenv("WDPOST_CUDA_LIB");
    void *h = lib ? dlopen(lib, RTLD_NOW | RTLD_NOLOAD) : NULL;
    if (!h) {
        /* loaded from the executable's directory */
        char exe[1024];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 40);
        if (n <= 0) return -1;
        exe[n] = 0;
        strcpy(strrchr(exe, '/') + 1, "libwdpost_cuda.so");
        h = dlopen(exe, RTLD_NOW | RTLD_NOLOAD);
    }
    int *calls = h ? dlsym(h, "wdfake_calls") : NULL;
    return calls ? *calls : -1;
}

static void test_backend(const char *mode) {
    wd_device_t info;
    if (strcmp(mode, "mock") == 0) {
        CHECK(strcmp(wd_backend_name(), "cuda") == 0, "backend cuda: %s", wd_backend_detail());
        CHECK(wd_device_count() == 1, "one fake device");
        CHECK(wd_device_info(0, &info) == WD_OK && strcmp(info.name, "wdpost fake GPU") == 0 &&
                  info.cc_major == 8 && info.cc_minor == 6 && info.cuda_cores == 1280 &&
                  info.memory_bytes == (uint64_t)8 << 30,
              "fake device info");
        CHECK(wd_device_info(1, &info) == WD_ERR_ARG, "device index out of range");
        int before = fake_calls();
        uint8_t *b = test_buf(600000), root[32];
        CHECK(wd_merkle_root_mem(b, 600000, 0, root) == WD_OK && eqhex(root, 32, roots[5].root),
              "root through the device");
        CHECK(fake_calls() > before, "the device was called (%d -> %d)", before, fake_calls());
        wd_thread_force_cpu(1);
        before = fake_calls();
        CHECK(strcmp(wd_backend_name(), "cpu") == 0, "forced CPU on this thread");
        CHECK(wd_merkle_root_mem(b, 600000, 0, root) == WD_OK && eqhex(root, 32, roots[5].root),
              "root forced to CPU");
        CHECK(fake_calls() == before, "device not called while forced to CPU");
        wd_thread_force_cpu(0);
        free(b);
    } else {
        CHECK(strcmp(wd_backend_name(), "cpu") == 0, "backend cpu: %s", wd_backend_detail());
        CHECK(wd_device_count() == 0, "no devices");
        CHECK(wd_device_info(0, &info) == WD_ERR_ARG, "no device info");
        if (strcmp(mode, "nodevice") == 0)
            CHECK(strstr(wd_backend_detail(), "no usable CUDA device") != NULL, "detail: %s",
                  wd_backend_detail());
        if (strcmp(mode, "forced") == 0)
            CHECK(strstr(wd_backend_detail(), "WDPOST_NO_GPU") != NULL, "detail: %s",
                  wd_backend_detail());
        if (strcmp(mode, "missing") == 0)
            CHECK(strstr(wd_backend_detail(), getenv("WDPOST_CUDA_LIB")) != NULL, "detail: %s",
                  wd_backend_detail());
    }
    CHECK(wd_cuda_cores_per_sm(9, 0) == 128 && wd_cuda_cores_per_sm(8, 0) == 64 &&
              wd_cuda_cores_per_sm(7, 5) == 64 && wd_cuda_cores_per_sm(1, 0) == 0,
          "cores per SM table");
    CHECK(wd_cpu_threads(3) == 3 && wd_cpu_threads(0) >= 1, "thread count resolution");
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "cpu";
    snprintf(tmpdir, sizeof tmpdir, "%s/wdkernels-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    printf("mode %s, backend %s (%s), cpu gemm %s\n", mode, wd_backend_name(), wd_backend_detail(),
           wd_synthetic_cpu_impl());
    test_backend(mode);
    test_hash();
    test_merkle_shape();
    test_merkle_roots();
    if (strcmp(mode, "cpu") == 0 || strcmp(mode, "mock") == 0) {
        test_merkle_paths();
        test_merkle_errors();
        test_synthetic_kat(strcmp(mode, "cpu") == 0);
        test_synthetic_paths();
        test_post();
    }
    if (strcmp(mode, "cpu") == 0) {
        test_merkle_threads();
        test_synthetic_impls();
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", tmpdir);
    printf("%s: %d passed, %d failed\n", mode, passed, failed);
    return failed ? 1 : 0;
}
