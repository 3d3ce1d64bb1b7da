/* secp256k1 keys and signatures, and RIPEMD-160, over OpenSSL's libcrypto
 * (already linked for SHA-256): what ComputeChain's transactions and
 * addresses need (see ../shared/COMPUTECHAIN.md).
 *
 * RIPEMD-160: OpenSSL 3.0.0-3.0.6 kept it in the legacy provider only;
 * 3.0.7 and later (Debian 12 ships 3.0.x >= 3.0.11) have it in the default
 * provider again, so a plain fetch finds it. Where it does not, the call
 * fails with a message naming the cause instead of returning a wrong digest. */
/* EC_KEY and ECDSA_do_sign are deprecated in OpenSSL 3 in favour of
 * EVP_PKEY, but they are still shipped and are the direct form of "sign
 * this digest with this scalar"; the EVP route needs a key built from
 * OSSL_PARAMs and a DER round trip for the same result. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "kernels.h"
#include "internal.h"
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <string.h>

int wd_ripemd160(const uint8_t *data, size_t len, uint8_t out[20]) {
    EVP_MD *md = EVP_MD_fetch(NULL, "RIPEMD160", NULL);
    if (!md) {
        return wd_fail(WD_ERR_DEVICE, "RIPEMD-160 is not available in this OpenSSL (3.0.7 or later has it in the default provider)");
    }
    unsigned int n = 0;
    int ok = EVP_Digest(data, len, out, &n, md, NULL) == 1 && n == 20;
    EVP_MD_free(md);
    if (!ok) return wd_fail(WD_ERR_DEVICE, "RIPEMD-160 failed");
    return WD_OK;
}

/* The key for priv (big-endian, 1 <= priv < n), with its public point. */
static EC_KEY *key_from_private(const uint8_t priv[32]) {
    EC_KEY *key = EC_KEY_new_by_curve_name(NID_secp256k1);
    BIGNUM *d = BN_bin2bn(priv, 32, NULL);
    EC_POINT *pub = NULL;
    int ok = key && d && !BN_is_zero(d) && BN_cmp(d, EC_GROUP_get0_order(EC_KEY_get0_group(key))) < 0;
    if (ok) {
        const EC_GROUP *g = EC_KEY_get0_group(key);
        pub = EC_POINT_new(g);
        ok = pub && EC_POINT_mul(g, pub, d, NULL, NULL, NULL) == 1 &&
             EC_KEY_set_private_key(key, d) == 1 && EC_KEY_set_public_key(key, pub) == 1;
    }
    EC_POINT_free(pub);
    BN_clear_free(d);
    if (!ok) { EC_KEY_free(key); return NULL; }
    return key;
}

int wd_secp256k1_public_key(const uint8_t priv[32], uint8_t pub[33]) {
    EC_KEY *key = key_from_private(priv);
    if (!key) return wd_fail(WD_ERR_ARG, "secp256k1: the private key is not in 1 ... n-1");
    size_t n = EC_POINT_point2oct(EC_KEY_get0_group(key), EC_KEY_get0_public_key(key),
                                  POINT_CONVERSION_COMPRESSED, pub, 33, NULL);
    EC_KEY_free(key);
    if (n != 33) return wd_fail(WD_ERR_ARG, "secp256k1: cannot encode the public key");
    return WD_OK;
}

int wd_secp256k1_sign(const uint8_t priv[32], const uint8_t digest[32], uint8_t sig[64]) {
    EC_KEY *key = key_from_private(priv);
    if (!key) return wd_fail(WD_ERR_ARG, "secp256k1: the private key is not in 1 ... n-1");
    /* The digest is signed as it is: ComputeChain verifies over the
     * transaction hash itself, with no second hash. */
    ECDSA_SIG *s = ECDSA_do_sign(digest, 32, key);
    int rc = WD_ERR_ARG;
    if (s) {
        const BIGNUM *r = NULL, *sv = NULL;
        ECDSA_SIG_get0(s, &r, &sv);
        const BIGNUM *order = EC_GROUP_get0_order(EC_KEY_get0_group(key));
        BIGNUM *low = BN_dup(sv), *half = BN_dup(order);
        /* The node accepts only low-S signatures (s <= n/2, as its
         * `verify` checks): a high s is replaced by n - s, which verifies
         * the same. */
        if (low && half && BN_rshift1(half, half) == 1) {
            if (BN_cmp(low, half) > 0) BN_sub(low, order, low);
            if (BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(low, sig + 32, 32) == 32) rc = WD_OK;
        }
        BN_free(low);
        BN_free(half);
        ECDSA_SIG_free(s);
    }
    EC_KEY_free(key);
    return rc == WD_OK ? WD_OK : wd_fail(rc, "secp256k1: signing failed");
}

int wd_secp256k1_verify(const uint8_t pub[33], const uint8_t digest[32], const uint8_t sig[64]) {
    EC_KEY *key = EC_KEY_new_by_curve_name(NID_secp256k1);
    const EC_GROUP *g = key ? EC_KEY_get0_group(key) : NULL;
    EC_POINT *p = g ? EC_POINT_new(g) : NULL;
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *sv = BN_bin2bn(sig + 32, 32, NULL);
    int ok = p && s && r && sv && EC_POINT_oct2point(g, p, pub, 33, NULL) == 1 && EC_KEY_set_public_key(key, p) == 1 &&
             ECDSA_SIG_set0(s, r, sv) == 1;
    if (ok) { r = NULL; sv = NULL; }
    ok = ok && ECDSA_do_verify(digest, 32, s, key) == 1;
    BN_free(r);
    BN_free(sv);
    ECDSA_SIG_free(s);
    EC_POINT_free(p);
    EC_KEY_free(key);
    return ok ? WD_OK : WD_ERR_VERIFY;
}
