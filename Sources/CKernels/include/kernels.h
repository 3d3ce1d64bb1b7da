#ifndef WDPOST_KERNELS_H
#define WDPOST_KERNELS_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SHA-256 of len bytes into out[32]. */
void wd_sha256(const uint8_t *data, size_t len, uint8_t out[32]);

/* HMAC-SHA256(key, msg) into out[32]. Used for the RPC handshake. */
void wd_hmac_sha256(const uint8_t *key, size_t key_len,
                    const uint8_t *msg, size_t msg_len, uint8_t out[32]);

/* Fills out with len cryptographically random bytes; returns 0 on success. */
int wd_random_bytes(uint8_t *out, size_t len);

#ifdef __cplusplus
}
#endif
#endif
