/* ABI between the shim (cuda_loader.c) and libwdpost_cuda.so (cuda/kernels.cu).
 * Plain C types only; every function returns 0 or a negative code and writes
 * a message into err (errlen bytes) on failure. Bump WDCUDA_ABI_VERSION on any
 * change: the loader refuses a library reporting another version. */
#ifndef WDPOST_CUDA_ABI_H
#define WDPOST_CUDA_ABI_H
#include <stddef.h>
#include <stdint.h>
#include "kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WDCUDA_ABI_VERSION 1

/* Exported symbol names (the loader dlsym()s exactly these). */
int wdcuda_abi_version(void);
/* Initialises the runtime; returns the number of usable devices (>= 0). */
int wdcuda_init(char *err, size_t errlen);
int wdcuda_device_info(int index, wd_device_t *out, char *err, size_t errlen);
/* Roots of nchunks consecutive subtrees of 2^chunk_height leaves each over
 * data[0..len) zero-padded to nchunks << (chunk_height + 5) bytes; roots is
 * nchunks*32 bytes. Truncated (tree_d) nodes. */
int wdcuda_merkle_chunk_roots(const uint8_t *data, uint64_t len, unsigned chunk_height,
                              uint64_t nchunks, uint8_t *roots, char *err, size_t errlen);
/* The n row hashes of the synthetic product for this seed (n*32 bytes). */
int wdcuda_synthetic_row_hashes(const uint8_t seed[32], uint32_t n, uint8_t *row_hashes,
                                char *err, size_t errlen);

typedef struct wdcuda_api {
    int (*abi_version)(void);
    int (*init)(char *, size_t);
    int (*device_info)(int, wd_device_t *, char *, size_t);
    int (*merkle_chunk_roots)(const uint8_t *, uint64_t, unsigned, uint64_t, uint8_t *,
                              char *, size_t);
    int (*synthetic_row_hashes)(const uint8_t *, uint32_t, uint8_t *, char *, size_t);
} wdcuda_api;

#ifdef __cplusplus
}
#endif
#endif
