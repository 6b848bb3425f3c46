/* SPDX-License-Identifier: MIT */
/*
 * The sort table and the cursor codec. A cursor is base64url("<sort letter><id>.<key>"):
 * the letter ties a cursor to its sort, and the key is checked whole on the way in, so a
 * forged token is a 400 here and never a surprise in a statement.
 */
#include "fl_cursor.h"

#include <stdio.h>
#include <string.h>

#include "fl_catalog.h"
#include "fl_crypto.h"

static const struct fl_sort_spec sorts[FL_SORT__MAX] = {
    [FL_SORT_NEWEST] = {"newest", 'n', "created_at", true, "ix_products_created",
                        "ix_products_cat_created", "PRIMARY", "p.created_at",
                        "9999-12-31 23:59:59.999999", UINT64_MAX},
    [FL_SORT_OLDEST] = {"oldest", 'o', "created_at", false, "ix_products_created",
                        "ix_products_cat_created", "PRIMARY", "p.created_at",
                        "1000-01-01 00:00:00.000000", 0},
    [FL_SORT_PRICE_ASC] = {"price_asc", 'p', "price", false, "ix_products_price",
                           "ix_products_cat_price", "ix_product_words_price", "p.price", "-1", 0},
    [FL_SORT_PRICE_DESC] = {"price_desc", 'q', "price", true, "ix_products_price",
                            "ix_products_cat_price", "ix_product_words_price", "p.price",
                            "100000000", UINT64_MAX},
    [FL_SORT_NAME_ASC] = {"name_asc", 'a', "name", false, "ix_products_name",
                          "ix_products_cat_name", "ix_product_words_name", "p.name", "", 0},
};

enum fl_err fl_sort_parse(struct fl_str s, enum fl_sort *out)
{
    for (int i = 0; i < FL_SORT__MAX; i++) {
        if (fl_str_eq(s, fl_str_c(sorts[i].name))) {
            *out = (enum fl_sort)i;
            return FL_OK;
        }
    }
    return FL_EINVAL;
}

const char *fl_sort_name(enum fl_sort sort)
{
    return sorts[sort].name;
}

const struct fl_sort_spec *fl_sort_spec(enum fl_sort sort)
{
    return &sorts[sort];
}

void fl_cursor_encode(const struct fl_cursor *c, struct fl_buf *out)
{
    char raw[FL_CURSOR_MAX_BYTES / 4 * 3];
    int n = snprintf(raw, sizeof(raw), "%c%llu.%.*s", sorts[c->sort].code,
                     (unsigned long long)c->id, (int)c->key.len, c->key.p ? c->key.p : "");
    size_t start = out->len;

    if (n < 0 || (size_t)n >= sizeof(raw))
        n = 0;
    fl_crypto_base64_encode((struct fl_str){raw, (size_t)n}, out);
    if (fl_buf_err(out))
        return;
    for (size_t i = start; i < out->len; i++) {
        if (out->p[i] == '+')
            out->p[i] = '-';
        else if (out->p[i] == '/')
            out->p[i] = '_';
    }
    while (out->len > start && out->p[out->len - 1] == '=')
        out->p[--out->len] = '\0';
}

/* The decimal number in k.p[at..at+n). */
static unsigned digits(struct fl_str k, size_t at, size_t n)
{
    unsigned v = 0;

    for (size_t i = at; i < at + n; i++)
        v = v * 10 + (unsigned)(k.p[i] - '0');
    return v;
}

/*
 * True when key is "YYYY-MM-DD HH:MM:SS.ffffff", a real time in DATETIME's range
 * (1000-01-01 to 9999-12-31): a real day of its month (leap years included), hours to 23,
 * minutes and seconds to 59. A cursor is only ever made from a row's created_at.
 */
static bool valid_datetime(struct fl_str k)
{
    static const char shape[] = "dddd-dd-dd dd:dd:dd.dddddd";
    static const unsigned month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned year, month, day;
    bool leap;

    if (k.len != sizeof(shape) - 1)
        return false;
    for (size_t i = 0; i < k.len; i++) {
        bool digit = k.p[i] >= '0' && k.p[i] <= '9';
        if (shape[i] == 'd' ? !digit : k.p[i] != shape[i])
            return false;
    }
    year = digits(k, 0, 4);
    month = digits(k, 5, 2);
    day = digits(k, 8, 2);
    leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    return year >= 1000 && month >= 1 && month <= 12 && day >= 1 &&
           day <= month_days[month - 1] + (month == 2 && leap) && digits(k, 11, 2) <= 23 &&
           digits(k, 14, 2) <= 59 && digits(k, 17, 2) <= 59;
}

/* True when key is a key the sort can have (see fl_cursor_decode). */
static bool valid_key(enum fl_sort sort, struct fl_str key)
{
    int64_t cents;

    switch (sort) {
    case FL_SORT_NEWEST:
    case FL_SORT_OLDEST:
        return valid_datetime(key);
    case FL_SORT_PRICE_ASC:
    case FL_SORT_PRICE_DESC:
        return fl_str_to_cents(key, FL_CATALOG_PRICE_MAX_CENTS, &cents) == FL_OK;
    case FL_SORT_NAME_ASC:
    case FL_SORT__MAX:
        break;
    }
    return key.len > 0 && fl_utf8_count(key) <= FL_CATALOG_NAME_MAX_CHARS &&
           memchr(key.p, '\0', key.len) == NULL;
}

/* Decodes base64url without padding into raw. Returns FL_OK or FL_EINVAL. */
static enum fl_err unbase64url(struct fl_str token, struct fl_buf *raw)
{
    char b64[FL_CURSOR_MAX_BYTES + 4];
    size_t n = token.len;

    if (n == 0 || n > FL_CURSOR_MAX_BYTES || n % 4 == 1)
        return FL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = token.p[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (c == '+' || c == '/' || c == '=')
            return FL_EINVAL;
        b64[i] = c;
    }
    while (n % 4)
        b64[n++] = '=';
    return fl_crypto_base64_decode((struct fl_str){b64, n}, raw) == FL_OK ? FL_OK : FL_EINVAL;
}

enum fl_err fl_cursor_decode(struct fl_str token, struct fl_arena *arena, struct fl_cursor *out)
{
    struct fl_buf raw;
    const char *dot;
    struct fl_str id_text, key;
    enum fl_err err = FL_EINVAL;
    int sort = -1;

    fl_buf_init(&raw, FL_CURSOR_MAX_BYTES);
    if (unbase64url(token, &raw) != FL_OK || raw.len < 3)
        goto free_raw;
    for (int i = 0; i < FL_SORT__MAX; i++)
        if (raw.p[0] == sorts[i].code)
            sort = i;
    dot = memchr(raw.p, '.', raw.len);
    if (sort < 0 || dot == NULL)
        goto free_raw;
    id_text = (struct fl_str){raw.p + 1, (size_t)(dot - raw.p - 1)};
    key = (struct fl_str){dot + 1, raw.len - (size_t)(dot - raw.p) - 1};
    if (fl_str_to_u64(id_text, 1, UINT64_MAX, &out->id) != FL_OK || !fl_utf8_valid(key) ||
        !valid_key((enum fl_sort)sort, key))
        goto free_raw;
    out->sort = (enum fl_sort)sort;
    out->key = fl_arena_strdup(arena, key);
    err = out->key.p ? FL_OK : FL_ENOMEM;
free_raw:
    fl_buf_free(&raw);
    return err;
}
