/* Hash primitives over OpenSSL's libcrypto: one implementation shared by the
 * handshake (HMAC) and the kernels (SHA-256), so every device hashes alike. */
#include "kernels.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/core_names.h>
#include <pthread.h>

void wd_sha256(const uint8_t *data, size_t len, uint8_t out[32]) {
    SHA256(data, len, out);
}

void wd_sha1(const uint8_t *data, size_t len, uint8_t out[20]) {
    SHA1(data, len, out);
}

void wd_hmac_sha256(const uint8_t *key, size_t key_len,
                    const uint8_t *msg, size_t msg_len, uint8_t out[32]) {
    unsigned int out_len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &out_len);
}

/* Fetched once: a fetch looks the algorithm up under the library's locks,
 * which per frame would cost more than the MAC of a small frame. */
static EVP_MAC *hmac_algorithm;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static void hmac_fetch(void) { hmac_algorithm = EVP_MAC_fetch(NULL, "HMAC", NULL); }

int wd_hmac_sha256_2(const uint8_t *key, size_t key_len,
                      const uint8_t *head, size_t head_len,
                      const uint8_t *body, size_t body_len, uint8_t out[32]) {
    pthread_once(&hmac_once, hmac_fetch);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    size_t out_len = 0;
    EVP_MAC_CTX *ctx = hmac_algorithm ? EVP_MAC_CTX_new(hmac_algorithm) : NULL;
    int ok = ctx && EVP_MAC_init(ctx, key, key_len, params) == 1 &&
             EVP_MAC_update(ctx, head, head_len) == 1 &&
             (body_len == 0 || EVP_MAC_update(ctx, body, body_len) == 1) &&
             EVP_MAC_final(ctx, out, &out_len, 32) == 1 && out_len == 32;
    EVP_MAC_CTX_free(ctx);
    return ok ? 0 : -1;
}

int wd_random_bytes(uint8_t *out, size_t len) {
    return RAND_bytes(out, (int)len) == 1 ? 0 : -1;
}
