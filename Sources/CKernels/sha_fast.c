/* Fixed-size SHA-256 helpers on OpenSSL's block function.
 *
 * A Merkle parent hashes exactly 64 bytes: one data block plus one constant
 * padding block. Going through SHA256() or EVP costs more in setup than the
 * two compressions, so we feed both blocks to SHA256_Update in one call (one
 * pass through OpenSSL's SHA-NI/AVX block routine) and read the state words
 * directly instead of SHA256_Final. Results are exactly SHA-256's: the
 * padding block is what SHA256_Final would have appended. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "internal.h"
#include <openssl/evp.h>
#include <openssl/sha.h>

#if defined(OPENSSL_NO_DEPRECATED_3_0)
/* Libraries built without the low-level API: exact but slower. */
void wd_sha256_64(const uint8_t in[64], uint8_t out[32]) { SHA256(in, 64, out); }
void wd_sha256_padded_block(const uint8_t block[64], uint8_t out[32]) {
    /* The block carries its own padding: recover the message length. */
    uint64_t bits = 0;
    for (int i = 56; i < 64; i++) bits = (bits << 8) | block[i];
    SHA256(block, (size_t)(bits / 8), out);
}
#else
/* 0x80, zeros, then the 64-bit big-endian bit length 512. */
static const uint8_t pad_for_64[64] = {
    0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x00};

static inline void state_out(const SHA256_CTX *c, uint8_t out[32]) {
    for (int i = 0; i < 8; i++) wd_be32(out + 4 * i, c->h[i]);
}

void wd_sha256_64(const uint8_t in[64], uint8_t out[32]) {
    uint8_t buf[128];
    SHA256_CTX c;
    memcpy(buf, in, 64);
    memcpy(buf + 64, pad_for_64, 64);
    SHA256_Init(&c);
    SHA256_Update(&c, buf, sizeof buf); /* two whole blocks: no buffering */
    state_out(&c, out);
}

void wd_sha256_padded_block(const uint8_t block[64], uint8_t out[32]) {
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Transform(&c, block); /* one compression, no length bookkeeping */
    state_out(&c, out);
}
#endif

void wd_sha256_64_trunc(const uint8_t in[64], uint8_t out[32]) {
    wd_sha256_64(in, out);
    out[31] &= 0x3f;
}

void wd_sha256_64_trunc_many(const uint8_t *in, uint8_t *out, size_t count) {
    /* wd_sha256_64 copies its input first, so out[i] may overwrite in[i]. */
    for (size_t i = 0; i < count; i++) wd_sha256_64_trunc(in + 64 * i, out + 32 * i);
}
