/* SPDX-License-Identifier: MIT */
/*
 * The cryptography FarmLokal needs, over OpenSSL: random bytes, base64, HMAC-SHA256 and
 * constant-time comparison. The only module that includes OpenSSL headers.
 */
#ifndef FL_CRYPTO_H
#define FL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include "fl_buf.h"
#include "fl_err.h"
#include "fl_str.h"

/* Fills p with n cryptographically random bytes. Returns FL_OK or FL_EIO. */
enum fl_err fl_crypto_random(void *p, size_t n);

/* Writes n bytes of p as 2n lower-case hex digits and a NUL to out (2n + 1 bytes). */
void fl_crypto_hex(const void *p, size_t n, char *out);

/*
 * Writes n random bytes as 2n hex digits and a NUL to out (2n + 1 bytes): request ids and
 * lock tokens. Returns FL_OK or FL_EIO (out then holds a less random value, still valid).
 */
enum fl_err fl_crypto_random_hex(size_t n, char *out);

/* Appends the standard base64 encoding of s to out. */
void fl_crypto_base64_encode(struct fl_str s, struct fl_buf *out);

/*
 * Appends the decoding of standard base64 s (with padding) to out.
 * Returns FL_OK, or FL_EINVAL when s is not valid base64.
 */
enum fl_err fl_crypto_base64_decode(struct fl_str s, struct fl_buf *out);

/*
 * Writes HMAC-SHA256(key, parts[0] || parts[1] || ...) to out. Returns FL_OK or FL_EIO.
 */
enum fl_err fl_crypto_hmac_sha256(struct fl_str key, const struct fl_str *parts, size_t n,
                                  unsigned char out[32]);

/* Writes the SHA-256 digest of s to out. */
void fl_crypto_sha256(struct fl_str s, unsigned char out[32]);

/* True when a and b are equal; the time taken depends only on their lengths. */
bool fl_crypto_equal(struct fl_str a, struct fl_str b);

#endif
