/* synthetic: an exact int8 matrix product whose result is committed to by a
 * Merkle root over row hashes, so a verifier checks k rows in O(k n^2).
 *
 * A[i][j] = byte (j mod 32) of SHA-256(seed || tag || u32be(i) || u32be(j div 32))
 * as a signed int8, tag 'A' or 'B'. Each such message is 41 bytes, so it is a
 * single SHA-256 block that we pad once and compress directly. */
#include "internal.h"
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdlib.h>

void wd_synthetic_seed(const char *block_hash, const char *worker, uint8_t seed[32]) {
    size_t a = block_hash ? strlen(block_hash) : 0, b = worker ? strlen(worker) : 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int len = 32;
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(c, block_hash ? block_hash : "", a) == 1 &&
        EVP_DigestUpdate(c, worker ? worker : "", b) == 1 &&
        EVP_DigestFinal_ex(c, seed, &len) == 1) {
        EVP_MD_CTX_free(c);
        return;
    }
    EVP_MD_CTX_free(c);
    /* allocation failure inside OpenSSL: fall back to one buffer */
    uint8_t *buf = malloc(a + b + 1);
    if (!buf) abort();
    memcpy(buf, block_hash ? block_hash : "", a);
    memcpy(buf + a, worker ? worker : "", b);
    wd_sha256(buf, a + b, seed);
    free(buf);
}

/* The padded block for (seed, tag, i, jb); only bytes 33..40 change per call. */
static void element_block_init(uint8_t blk[64], const uint8_t seed[32], char tag) {
    memset(blk, 0, 64);
    memcpy(blk, seed, 32);
    blk[32] = (uint8_t)tag;
    blk[41] = 0x80;
    blk[62] = 0x01; /* message length 41 bytes = 328 bits = 0x0148 */
    blk[63] = 0x48;
}

int8_t wd_synthetic_element(const uint8_t seed[32], char tag, uint32_t i, uint32_t j) {
    uint8_t blk[64], h[32];
    element_block_init(blk, seed, tag);
    wd_be32(blk + 33, i);
    wd_be32(blk + 37, j / 32);
    wd_sha256_padded_block(blk, h);
    return (int8_t)h[j % 32];
}

static void generate_row(const uint8_t seed[32], char tag, uint32_t n, uint32_t i, int8_t *row) {
    uint8_t blk[64], h[32];
    element_block_init(blk, seed, tag);
    wd_be32(blk + 33, i);
    for (uint32_t jb = 0; jb * 32 < n; jb++) {
        wd_be32(blk + 37, jb);
        wd_sha256_padded_block(blk, h);
        uint32_t take = n - jb * 32 < 32 ? n - jb * 32 : 32;
        memcpy(row + (size_t)jb * 32, h, take);
    }
}

typedef struct {
    const uint8_t *seed;
    char tag;
    uint32_t n;
    int8_t *out;
    atomic_uint next;
} gen_job_t;

static void gen_worker(void *arg, int tid) {
    (void)tid;
    gen_job_t *j = arg;
    for (;;) {
        uint32_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n) break;
        generate_row(j->seed, j->tag, j->n, i, j->out + (size_t)i * j->n);
    }
}

int wd_synthetic_generate(const uint8_t seed[32], char tag, uint32_t n, int threads, int8_t *out) {
    gen_job_t j = {.seed = seed, .tag = tag, .n = n, .out = out};
    atomic_init(&j.next, 0);
    int t = wd_cpu_threads(threads);
    if ((uint32_t)t > n) t = (int)n;
    return wd_parallel(t, gen_worker, &j);
}

/* ---- row hashes and their tree (plain SHA-256, no truncation) ---- */

void wd_synthetic_row_hash(const int32_t *values, uint32_t n, uint8_t out[32]) {
    const uint16_t probe = 1;
    if (*(const uint8_t *)&probe == 1) { /* little-endian host: hash in place */
        wd_sha256((const uint8_t *)values, (size_t)n * 4, out);
        return;
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int len = 32;
    uint8_t buf[4096];
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (uint32_t j = 0; j < n;) {
        size_t m = 0;
        for (; j < n && m < sizeof buf; j++, m += 4) {
            uint32_t v = (uint32_t)values[j];
            buf[m] = (uint8_t)v; buf[m + 1] = (uint8_t)(v >> 8);
            buf[m + 2] = (uint8_t)(v >> 16); buf[m + 3] = (uint8_t)(v >> 24);
        }
        EVP_DigestUpdate(c, buf, m);
    }
    EVP_DigestFinal_ex(c, out, &len);
    EVP_MD_CTX_free(c);
}

unsigned wd_synthetic_depth(uint32_t n) {
    unsigned d = 0;
    while (((uint64_t)1 << d) < n) d++;
    return d;
}

static int check_n(uint32_t n) {
    if (n == 0 || n > WD_SYNTHETIC_MAX_N)
        return wd_fail(WD_ERR_ARG, "synthetic: n must be 1..%u, got %u", WD_SYNTHETIC_MAX_N, n);
    return WD_OK;
}

/* All levels of the row tree, leaves first: 2P-1 hashes for P leaves. */
static uint8_t *row_tree(const uint8_t *row_hashes, uint32_t n, unsigned *depth_out) {
    unsigned depth = wd_synthetic_depth(n);
    size_t p = (size_t)1 << depth;
    uint8_t *t = calloc(2 * p - 1, 32);
    if (!t) return NULL;
    memcpy(t, row_hashes, (size_t)n * 32);
    uint8_t *lvl = t;
    for (size_t m = p; m > 1; m /= 2) {
        for (size_t i = 0; i < m / 2; i++) wd_sha256_64(lvl + 64 * i, lvl + 32 * (m + i));
        lvl += 32 * m;
    }
    *depth_out = depth;
    return t;
}

int wd_synthetic_tree_root(const uint8_t *row_hashes, uint32_t n, uint8_t root[32]) {
    if (check_n(n)) return WD_ERR_ARG;
    if (!row_hashes || !root) return wd_fail(WD_ERR_ARG, "synthetic root: NULL argument");
    unsigned depth;
    uint8_t *t = row_tree(row_hashes, n, &depth);
    if (!t) return wd_fail(WD_ERR_NOMEM, "out of memory for the row tree");
    memcpy(root, t + 32 * (((size_t)2 << depth) - 2), 32);
    free(t);
    return WD_OK;
}

static void tree_path(const uint8_t *t, unsigned depth, uint32_t row, uint8_t *siblings) {
    const uint8_t *lvl = t;
    for (unsigned l = 0; l < depth; l++) {
        memcpy(siblings + 32 * l, lvl + 32 * ((row >> l) ^ 1), 32);
        lvl += 32 * ((size_t)1 << (depth - l));
    }
}

int wd_synthetic_path(const uint8_t *row_hashes, uint32_t n, uint32_t row, uint8_t *siblings) {
    if (check_n(n)) return WD_ERR_ARG;
    if (row >= n) return wd_fail(WD_ERR_ARG, "synthetic path: row %u out of range (n=%u)", row, n);
    if (!row_hashes || !siblings) return wd_fail(WD_ERR_ARG, "synthetic path: NULL argument");
    unsigned depth;
    uint8_t *t = row_tree(row_hashes, n, &depth);
    if (!t) return wd_fail(WD_ERR_NOMEM, "out of memory for the row tree");
    tree_path(t, depth, row, siblings);
    free(t);
    return WD_OK;
}

uint32_t wd_synthetic_challenge_row(const uint8_t root[32], uint32_t t, uint32_t n) {
    uint8_t msg[36], h[32];
    memcpy(msg, root, 32);
    wd_be32(msg + 32, t);
    wd_sha256(msg, sizeof msg, h);
    return n ? wd_load_be32(h) % n : 0;
}

int wd_synthetic_verify_row(const uint8_t root[32], uint32_t n, uint32_t row,
                            const int32_t *values, const uint8_t *siblings) {
    if (check_n(n)) return WD_ERR_ARG;
    if (row >= n) return wd_fail(WD_ERR_ARG, "synthetic verify: row %u out of range (n=%u)", row, n);
    unsigned depth = wd_synthetic_depth(n);
    if (!root || !values || (depth && !siblings))
        return wd_fail(WD_ERR_ARG, "synthetic verify: NULL argument");
    uint8_t buf[64], cur[32];
    wd_synthetic_row_hash(values, n, cur);
    for (unsigned l = 0; l < depth; l++) {
        int right = (row >> l) & 1;
        memcpy(buf + (right ? 32 : 0), cur, 32);
        memcpy(buf + (right ? 0 : 32), siblings + 32 * l, 32);
        wd_sha256_64(buf, cur);
    }
    if (memcmp(cur, root, 32) != 0)
        return wd_fail(WD_ERR_VERIFY, "synthetic row %u does not match the root", row);
    return WD_OK;
}

/* ---- the product ---- */

/* Row hashes on the GPU when loaded, else A and B are generated here (and
 * left in *A_out / *B_out for the caller when asked). */
static int compute_row_hashes(const uint8_t seed[32], uint32_t n, int threads,
                              uint8_t *row_hashes, int8_t **A_out, int8_t **B_out) {
    const wdcuda_api *g = wd_cuda();
    int8_t *A = NULL, *B = NULL;
    int rc = WD_OK;
    if (g) {
        char err[512] = "";
        if (g->synthetic_row_hashes(seed, n, row_hashes, err, sizeof err) != 0)
            return wd_fail(WD_ERR_DEVICE, "%s", err[0] ? err : "GPU synthetic failed");
        if (!A_out) return WD_OK;
    }
    A = malloc((size_t)n * n);
    B = malloc((size_t)n * n);
    if (!A || !B) {
        rc = wd_fail(WD_ERR_NOMEM, "out of memory for two %ux%u matrices", n, n);
    } else {
        wd_synthetic_generate(seed, 'A', n, threads, A);
        wd_synthetic_generate(seed, 'B', n, threads, B);
        if (!g) rc = wd_gemm_row_hashes(A, B, n, threads, row_hashes);
    }
    if (rc == WD_OK && A_out) {
        *A_out = A;
        *B_out = B;
    } else {
        free(A);
        free(B);
    }
    return rc;
}

int wd_synthetic_compute(const char *block_hash, const char *worker, uint32_t n, int threads,
                         uint8_t root[32], uint8_t *row_hashes) {
    if (check_n(n)) return WD_ERR_ARG;
    if (!root) return wd_fail(WD_ERR_ARG, "synthetic: NULL root");
    uint8_t seed[32];
    wd_synthetic_seed(block_hash, worker, seed);
    uint8_t *rh = row_hashes ? row_hashes : malloc((size_t)n * 32);
    if (!rh) return wd_fail(WD_ERR_NOMEM, "out of memory for row hashes");
    int rc = compute_row_hashes(seed, n, threads, rh, NULL, NULL);
    if (rc == WD_OK) rc = wd_synthetic_tree_root(rh, n, root);
    if (!row_hashes) free(rh);
    return rc;
}

int wd_synthetic_row(const char *block_hash, const char *worker, uint32_t n, uint32_t row,
                     int32_t *values) {
    if (check_n(n)) return WD_ERR_ARG;
    if (row >= n) return wd_fail(WD_ERR_ARG, "synthetic row %u out of range (n=%u)", row, n);
    if (!values) return wd_fail(WD_ERR_ARG, "synthetic row: NULL values");
    uint8_t seed[32];
    wd_synthetic_seed(block_hash, worker, seed);
    int8_t *a = malloc(n), *B = malloc((size_t)n * n);
    if (!a || !B) {
        free(a); free(B);
        return wd_fail(WD_ERR_NOMEM, "out of memory for a %ux%u matrix", n, n);
    }
    generate_row(seed, 'A', n, row, a);
    for (uint32_t k = 0; k < n; k++) generate_row(seed, 'B', n, k, B + (size_t)k * n);
    wd_gemm_row(a, B, n, values);
    free(a);
    free(B);
    return WD_OK;
}

int wd_synthetic_prove(const char *block_hash, const char *worker, uint32_t n, uint32_t k,
                       int threads, uint8_t root[32], uint32_t *rows, int32_t *values,
                       uint8_t *paths) {
    if (check_n(n)) return WD_ERR_ARG;
    if (!root || (k && (!rows || !values || !paths)))
        return wd_fail(WD_ERR_ARG, "synthetic prove: NULL argument");
    uint8_t seed[32];
    wd_synthetic_seed(block_hash, worker, seed);
    uint8_t *rh = malloc((size_t)n * 32);
    int8_t *A = NULL, *B = NULL;
    if (!rh) return wd_fail(WD_ERR_NOMEM, "out of memory for row hashes");
    int rc = compute_row_hashes(seed, n, threads, rh, &A, &B);
    unsigned depth = 0;
    uint8_t *t = NULL;
    if (rc == WD_OK && !(t = row_tree(rh, n, &depth)))
        rc = wd_fail(WD_ERR_NOMEM, "out of memory for the row tree");
    if (rc == WD_OK) {
        memcpy(root, t + 32 * (((size_t)2 << depth) - 2), 32);
        for (uint32_t c = 0; c < k; c++) {
            rows[c] = wd_synthetic_challenge_row(root, c, n);
            int32_t *v = values + (size_t)c * n;
            wd_gemm_row(A + (size_t)rows[c] * n, B, n, v);
            tree_path(t, depth, rows[c], paths + (size_t)c * depth * 32);
            /* the row recomputed here must be the one committed to: catches a
             * GPU or SIMD kernel that disagrees with the plain loop */
            uint8_t h[32];
            wd_synthetic_row_hash(v, n, h);
            if (memcmp(h, rh + (size_t)rows[c] * 32, 32) != 0) {
                rc = wd_fail(WD_ERR_DEVICE,
                             "synthetic: row %u from the %s kernel differs from the reference loop",
                             rows[c], wd_cuda() ? "CUDA" : wd_synthetic_cpu_impl());
                break;
            }
        }
    }
    free(t);
    free(rh);
    free(A);
    free(B);
    return rc;
}
