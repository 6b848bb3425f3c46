/* SPDX-License-Identifier: MIT */
/*
 * Length-carrying strings and the strict parsers every input goes through: whole-string
 * integers and decimals (no trailing junk, no overflow) and UTF-8 validation. Nothing here
 * allocates.
 */
#ifndef FL_STR_H
#define FL_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl_err.h"

/* Lowercase hexadecimal digits, indexed by a nibble. */
extern const char fl_hex_digits[17];

/* A borrowed byte range; p need not be NUL-terminated. */
struct fl_str {
    const char *p;
    size_t len;
};

#define FL_STR(lit) ((struct fl_str){(lit), sizeof(lit) - 1})
#define FL_STR_NULL ((struct fl_str){NULL, 0})

/* The number of elements of array a; a pointer does not compile (as Linux's ARRAY_SIZE). */
#define FL_COUNTOF(a)                                                                              \
    (sizeof(a) / sizeof((a)[0]) +                                                                  \
     0 * sizeof(char[1 - 2 * __builtin_types_compatible_p(__typeof__(a), __typeof__(&(a)[0]))]))

/* Wraps a NUL-terminated string (NULL gives an empty string with p == NULL). */
struct fl_str fl_str_c(const char *s);

/* True when a and b hold the same bytes. */
bool fl_str_eq(struct fl_str a, struct fl_str b);

/* qsort comparator for struct fl_str: byte order (utf8mb4_bin's), shorter first on ties. */
int fl_str_cmp(const void *a, const void *b);

/* True when s starts with prefix. */
bool fl_str_has_prefix(struct fl_str s, struct fl_str prefix);

/*
 * Parses s whole as a decimal integer in [min, max]: optional '-' (only when min < 0), then
 * digits; no sign '+', no spaces, no leading zeros beyond a lone "0".
 * Returns FL_OK, or FL_EINVAL when s is empty, has other bytes, or is out of range.
 */
enum fl_err fl_str_to_i64(struct fl_str s, int64_t min, int64_t max, int64_t *out);

/* As fl_str_to_i64 for unsigned values in [min, max]. */
enum fl_err fl_str_to_u64(struct fl_str s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Parses a money amount "D[.D[D]]" (digits, optionally '.' and one or two digits) into cents.
 * Rejects ".5", "5.", "+5", "1e3", "-1" and values above max_cents.
 * Returns FL_OK or FL_EINVAL.
 */
enum fl_err fl_str_to_cents(struct fl_str s, int64_t max_cents, int64_t *out);

/*
 * Percent-decodes s into out, which must hold s.len bytes; '+' becomes a space when
 * plus_is_space (query strings). Returns FL_OK with the decoded length in out_len, or
 * FL_EINVAL when a '%' is not followed by two hex digits.
 */
enum fl_err fl_str_unescape(struct fl_str s, bool plus_is_space, char *out, size_t *out_len);

/*
 * Decodes the character at s.p[*i] (*i < s.len) into *cp and moves *i past it. Returns
 * false, leaving *i, when it is not well-formed UTF-8 (RFC 3629): a stray or truncated
 * byte, an overlong form, a surrogate or a code point above U+10FFFF.
 */
bool fl_utf8_next(struct fl_str s, size_t *i, uint32_t *cp);

/* True when s is well-formed UTF-8 (no overlongs, surrogates or code points over U+10FFFF). */
bool fl_utf8_valid(struct fl_str s);

/*
 * True when s is well-formed UTF-8 that shows nothing: empty, or only whitespace and
 * invisible characters (zero-width spaces and joiners, bidi controls, fillers, the BOM).
 * False for invalid UTF-8.
 */
bool fl_utf8_blank(struct fl_str s);

/* s without its leading and trailing spaces and tabs. */
struct fl_str fl_str_trim(struct fl_str s);

/* At most max bytes of UTF-8 s, cut at a character boundary: s itself when it fits. */
struct fl_str fl_utf8_clip(struct fl_str s, size_t max);

/* The number of characters (code points) in valid UTF-8 s. */
size_t fl_utf8_count(struct fl_str s);

/* True when s holds a byte below 0x20 or 0x7f (control characters). */
bool fl_str_has_control(struct fl_str s);

#endif
