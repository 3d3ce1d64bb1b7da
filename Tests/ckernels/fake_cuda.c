/* A stand-in for libwdpost_cuda.so, built by run.sh, to test the loader and
 * the dispatch path without a GPU. It implements the wdcuda_* ABI with plain
 * loops over OpenSSL's one-shot SHA256(), independently of the library's own
 * CPU code, so a dispatch bug or a definition drift shows as a mismatch.
 * WDFAKE_DEVICES sets the device count it reports (default 1). */
#include "cuda_abi.h"
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wdfake_calls; /* read by the test through dlsym */

int wdcuda_abi_version(void) { return WDCUDA_ABI_VERSION; }

int wdcuda_init(char *err, size_t errlen) {
    const char *d = getenv("WDFAKE_DEVICES");
    int n = d ? atoi(d) : 1;
    if (n <= 0) snprintf(err, errlen, "fake: no device");
    return n;
}

int wdcuda_device_info(int index, wd_device_t *out, char *err, size_t errlen) {
    if (index != 0) {
        snprintf(err, errlen, "fake: bad index %d", index);
        return -1;
    }
    snprintf(out->name, sizeof out->name, "wdpost fake GPU");
    out->memory_bytes = (uint64_t)8 << 30;
    out->sm_count = 10;
    out->cc_major = 8;
    out->cc_minor = 6;
    out->cuda_cores = 0; /* the loader fills in the estimate */
    return 0;
}

int wdcuda_merkle_chunk_roots(const uint8_t *data, uint64_t len, unsigned chunk_height,
                              uint64_t nchunks, uint8_t *roots, char *err, size_t errlen) {
    wdfake_calls++;
    size_t chunk = (size_t)32 << chunk_height;
    uint8_t *buf = malloc(chunk);
    if (!buf) {
        snprintf(err, errlen, "fake: out of memory");
        return -1;
    }
    for (uint64_t c = 0; c < nchunks; c++) {
        uint64_t off = c * chunk;
        size_t have = off >= len ? 0 : (len - off < chunk ? (size_t)(len - off) : chunk);
        memset(buf, 0, chunk);
        memcpy(buf, data + off, have);
        for (size_t nodes = (size_t)1 << chunk_height; nodes > 1; nodes /= 2)
            for (size_t i = 0; i < nodes / 2; i++) {
                uint8_t h[32];
                SHA256(buf + 64 * i, 64, h);
                h[31] &= 0x3f;
                memcpy(buf + 32 * i, h, 32);
            }
        memcpy(roots + 32 * c, buf, 32);
    }
    free(buf);
    return 0;
}

static int8_t element(const uint8_t seed[32], char tag, uint32_t i, uint32_t j) {
    uint8_t msg[41], h[32];
    memcpy(msg, seed, 32);
    msg[32] = (uint8_t)tag;
    for (int b = 0; b < 4; b++) {
        msg[33 + b] = (uint8_t)(i >> (24 - 8 * b));
        msg[37 + b] = (uint8_t)((j / 32) >> (24 - 8 * b));
    }
    SHA256(msg, sizeof msg, h);
    return (int8_t)h[j % 32];
}

int wdcuda_synthetic_row_hashes(const uint8_t seed[32], uint32_t n, uint8_t *row_hashes,
                                char *err, size_t errlen) {
    wdfake_calls++;
    int8_t *a = malloc((size_t)n * n), *b = malloc((size_t)n * n);
    uint8_t *row = malloc((size_t)n * 4);
    if (!a || !b || !row) {
        free(a); free(b); free(row);
        snprintf(err, errlen, "fake: out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            a[(size_t)i * n + j] = element(seed, 'A', i, j);
            b[(size_t)i * n + j] = element(seed, 'B', i, j);
        }
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < n; j++) {
            int32_t s = 0;
            for (uint32_t k = 0; k < n; k++) s += a[(size_t)i * n + k] * b[(size_t)k * n + j];
            for (int t = 0; t < 4; t++) row[4 * j + t] = (uint8_t)((uint32_t)s >> (8 * t));
        }
        SHA256(row, (size_t)n * 4, row_hashes + 32 * (size_t)i);
    }
    free(a); free(b); free(row);
    return 0;
}
