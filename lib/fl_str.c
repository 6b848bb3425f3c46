/* SPDX-License-Identifier: MIT */
/*
 * Strict parsing of numbers and UTF-8. Every number a client sends is parsed here, whole,
 * so "10abc", " 10", "+10" and overflow are all refused in one place.
 */
#include "fl_str.h"

#include <string.h>

const char fl_hex_digits[17] = "0123456789abcdef";

struct fl_str fl_str_c(const char *s)
{
    struct fl_str r = {s, s ? strlen(s) : 0};
    return r;
}

bool fl_str_eq(struct fl_str a, struct fl_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

int fl_str_cmp(const void *a, const void *b)
{
    const struct fl_str *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->p, y->p, n) : 0;

    return c ? c : (x->len > y->len) - (x->len < y->len);
}

bool fl_str_has_prefix(struct fl_str s, struct fl_str prefix)
{
    return s.len >= prefix.len && (prefix.len == 0 || memcmp(s.p, prefix.p, prefix.len) == 0);
}

/* Digits only, no leading zero unless the number is "0"; accumulates with overflow check. */
static enum fl_err digits(struct fl_str s, uint64_t limit, uint64_t *out)
{
    uint64_t v = 0;

    if (s.len == 0 || (s.len > 1 && s.p[0] == '0'))
        return FL_EINVAL;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned char)s.p[i] - '0';
        if (d > 9 || d > limit || v > (limit - d) / 10)
            return FL_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return FL_OK;
}

enum fl_err fl_str_to_u64(struct fl_str s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v;

    if (digits(s, max, &v) != FL_OK || v < min)
        return FL_EINVAL;
    *out = v;
    return FL_OK;
}

enum fl_err fl_str_to_i64(struct fl_str s, int64_t min, int64_t max, int64_t *out)
{
    uint64_t v;

    if (s.len > 0 && s.p[0] == '-') {
        struct fl_str rest = {s.p + 1, s.len - 1};
        uint64_t limit = min < 0 ? (uint64_t)(-(min + 1)) + 1 : 0;
        if (min >= 0 || digits(rest, limit, &v) != FL_OK || v == 0)
            return FL_EINVAL;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
        return FL_OK;
    }
    if (max < 0 || digits(s, (uint64_t)max, &v) != FL_OK || (int64_t)v < min)
        return FL_EINVAL;
    *out = (int64_t)v;
    return FL_OK;
}

enum fl_err fl_str_to_cents(struct fl_str s, int64_t max_cents, int64_t *out)
{
    const char *dot = s.len ? memchr(s.p, '.', s.len) : NULL;
    struct fl_str whole = {s.p, dot ? (size_t)(dot - s.p) : s.len};
    uint64_t units, frac = 0;

    if (max_cents < 0 || digits(whole, (uint64_t)max_cents / 100, &units) != FL_OK)
        return FL_EINVAL;
    if (dot) {
        size_t n = s.len - whole.len - 1;
        if (n < 1 || n > 2)
            return FL_EINVAL;
        for (size_t i = 0; i < n; i++) {
            unsigned d = (unsigned char)dot[1 + i] - '0';
            if (d > 9)
                return FL_EINVAL;
            frac = frac * 10 + d;
        }
        if (n == 1)
            frac *= 10;
    }
    if (units * 100 + frac > (uint64_t)max_cents)
        return FL_EINVAL;
    *out = (int64_t)(units * 100 + frac);
    return FL_OK;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

enum fl_err fl_str_unescape(struct fl_str s, bool plus_is_space, char *out, size_t *out_len)
{
    size_t o = 0;

    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (c == '%') {
            int hi, lo;
            if (s.len - i < 3 || (hi = hexval((unsigned char)s.p[i + 1])) < 0 ||
                (lo = hexval((unsigned char)s.p[i + 2])) < 0)
                return FL_EINVAL;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        out[o++] = c;
    }
    *out_len = o;
    return FL_OK;
}

bool fl_utf8_next(struct fl_str s, size_t *i, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s.p + *i;
    unsigned c = p[0];
    size_t n;
    uint32_t min;

    if (c < 0x80) {
        *cp = c, *i += 1;
        return true;
    } else if ((c & 0xe0) == 0xc0) {
        n = 1, *cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 2, *cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 3, *cp = c & 0x07, min = 0x10000;
    } else {
        return false;
    }
    if (s.len - *i <= n)
        return false;
    for (size_t k = 1; k <= n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return false;
        *cp = (*cp << 6) | (p[k] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return false;
    *i += n + 1;
    return true;
}

struct fl_str fl_str_trim(struct fl_str s)
{
    while (s.len && (s.p[0] == ' ' || s.p[0] == '\t'))
        s.p++, s.len--;
    while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    return s;
}

struct fl_str fl_utf8_clip(struct fl_str s, size_t max)
{
    if (s.len <= max)
        return s;
    s.len = max;
    while (s.len > 0 && ((unsigned char)s.p[s.len] & 0xc0) == 0x80)
        s.len--;
    return s;
}

bool fl_utf8_valid(struct fl_str s)
{
    uint32_t cp;

    for (size_t i = 0; i < s.len;)
        if (!fl_utf8_next(s, &i, &cp))
            return false;
    return true;
}

/*
 * Characters that show nothing: Unicode's White_Space and Default_Ignorable_Code_Point
 * (Unicode 15.0 PropList.txt and DerivedCoreProperties.txt; zero-width spaces and joiners,
 * bidi controls, variation selectors, the byte order mark, the Hangul fillers, tags) and
 * U+2800 BRAILLE PATTERN BLANK, a favourite for names that look empty. Sorted, disjoint.
 */
static const struct {
    uint32_t lo, hi;
} invisible[] = {
    {0x0009, 0x000d}, {0x0020, 0x0020},   {0x0085, 0x0085},   {0x00a0, 0x00a0},   {0x00ad, 0x00ad},
    {0x034f, 0x034f}, {0x061c, 0x061c},   {0x115f, 0x1160},   {0x1680, 0x1680},   {0x17b4, 0x17b5},
    {0x180b, 0x180f}, {0x2000, 0x200f},   {0x2028, 0x202f},   {0x205f, 0x206f},   {0x2800, 0x2800},
    {0x3000, 0x3000}, {0x3164, 0x3164},   {0xfe00, 0xfe0f},   {0xfeff, 0xfeff},   {0xffa0, 0xffa0},
    {0xfff0, 0xfff8}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0000, 0xe0fff},
};

static bool is_invisible(uint32_t cp)
{
    size_t lo = 0, hi = FL_COUNTOF(invisible);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp > invisible[mid].hi)
            lo = mid + 1;
        else if (cp < invisible[mid].lo)
            hi = mid;
        else
            return true;
    }
    return false;
}

bool fl_utf8_blank(struct fl_str s)
{
    uint32_t cp;

    for (size_t i = 0; i < s.len;)
        if (!fl_utf8_next(s, &i, &cp) || !is_invisible(cp))
            return false;
    return true;
}

size_t fl_utf8_count(struct fl_str s)
{
    size_t n = 0;

    for (size_t i = 0; i < s.len; i++)
        n += ((unsigned char)s.p[i] & 0xc0) != 0x80;
    return n;
}

bool fl_str_has_control(struct fl_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}
