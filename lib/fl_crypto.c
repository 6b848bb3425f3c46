/* SPDX-License-Identifier: MIT */
/* OpenSSL-backed primitives; see fl_crypto.h. */
#include "fl_crypto.h"

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <limits.h>

enum fl_err fl_crypto_random(void *p, size_t n)
{
    if (n > INT_MAX || RAND_bytes(p, (int)n) != 1)
        return FL_EIO;
    return FL_OK;
}

void fl_crypto_hex(const void *p, size_t n, char *out)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = fl_hex_digits[b[i] >> 4];
        out[2 * i + 1] = fl_hex_digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

enum fl_err fl_crypto_random_hex(size_t n, char *out)
{
    unsigned char rnd[64] = {0};
    enum fl_err err = n <= sizeof(rnd) ? fl_crypto_random(rnd, n) : FL_EINVAL;

    fl_crypto_hex(rnd, n <= sizeof(rnd) ? n : 0, out);
    return err;
}

void fl_crypto_base64_encode(struct fl_str s, struct fl_buf *out)
{
    char *p;

    if (s.len > INT_MAX / 2) {
        out->err = out->err ? out->err : FL_ETOOBIG;
        return;
    }
    /* EVP_EncodeBlock writes the NUL too: extend by one more and drop it after. */
    p = fl_buf_extend(out, (s.len + 2) / 3 * 4 + 1);
    if (p == NULL)
        return;
    EVP_EncodeBlock((unsigned char *)p, (const unsigned char *)s.p, (int)s.len);
    out->len--;
}

enum fl_err fl_crypto_base64_decode(struct fl_str s, struct fl_buf *out)
{
    size_t at = out->len, pad = 0;
    char *p;
    int n;

    if (s.len % 4 != 0 || s.len > INT_MAX / 2)
        return FL_EINVAL;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/';
        if (c == '=' && i + 2 >= s.len) {
            pad++;
        } else if (!ok || pad) {
            return FL_EINVAL;
        }
    }
    p = fl_buf_extend(out, s.len / 4 * 3);
    if (p == NULL)
        return out->err;
    n = EVP_DecodeBlock((unsigned char *)p, (const unsigned char *)s.p, (int)s.len);
    if (n < 0 || (size_t)n < pad) {
        out->len = at;
        out->p[at] = '\0';
        return FL_EINVAL;
    }
    out->len = at + (size_t)n - pad;
    out->p[out->len] = '\0';
    return FL_OK;
}

enum fl_err fl_crypto_hmac_sha256(struct fl_str key, const struct fl_str *parts, size_t n,
                                  unsigned char out[32])
{
    char digest[] = "SHA256"; /* OSSL_PARAM wants a writable buffer */
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    enum fl_err err = FL_EIO;
    size_t len = 0;

    if (ctx && EVP_MAC_init(ctx, (const unsigned char *)key.p, key.len, params) == 1) {
        size_t i = 0;
        while (i < n && EVP_MAC_update(ctx, (const unsigned char *)parts[i].p, parts[i].len) == 1)
            i++;
        if (i == n && EVP_MAC_final(ctx, out, &len, 32) == 1 && len == 32)
            err = FL_OK;
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return err;
}

void fl_crypto_sha256(struct fl_str s, unsigned char out[32])
{
    /* Fetched once per process: given EVP_sha256(), OpenSSL 3 looks the implementation up
     * again on every call, 4-5% of a worker's CPU on a Redis hit (which hashes its key). */
    static EVP_MD *sha256;

    if (sha256 == NULL)
        sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_Digest(s.p ? s.p : "", s.len, out, NULL, sha256 ? sha256 : EVP_sha256(), NULL);
}

bool fl_crypto_equal(struct fl_str a, struct fl_str b)
{
    if (a.len != b.len)
        return false;
    return a.len == 0 || CRYPTO_memcmp(a.p, b.p, a.len) == 0;
}
