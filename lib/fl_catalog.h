/* SPDX-License-Identifier: MIT */
/*
 * The catalogue service: the product listing (keyset pagination on (sort key, id), with
 * category, price and word filters), one product by id, and the admin writes. It owns the
 * products SQL and the search planner, and keeps the search index (product_words) in step
 * with every write. It does not parse HTTP or render JSON.
 */
#ifndef FL_CATALOG_H
#define FL_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include "fl_arena.h"
#include "fl_buf.h"
#include "fl_db.h"
#include "fl_err.h"
#include "fl_str.h"

#define FL_CATALOG_LIMIT_MAX          100
#define FL_CATALOG_CATEGORIES_MAX     20
#define FL_CATALOG_CATEGORY_MAX_BYTES 64
#define FL_CATALOG_WORDS_MAX          16
#define FL_CATALOG_PRICE_MAX_CENTS    9999999999LL
#define FL_CATALOG_NAME_MAX_CHARS     200  /* products.name is VARCHAR(200) */
#define FL_CATALOG_CURSOR_MAX_BYTES   2048 /* a token; its key can be a 200-character name */

enum fl_sort {
    FL_SORT_NEWEST,     /* created_at desc, id desc */
    FL_SORT_OLDEST,     /* created_at asc, id asc */
    FL_SORT_PRICE_ASC,  /* price asc, id asc */
    FL_SORT_PRICE_DESC, /* price desc, id desc */
    FL_SORT_NAME_ASC,   /* name asc (case-insensitive), id asc */
    FL_SORT__MAX
};

/* Where the previous page ended: its last row's sort key (as text) and id. */
struct fl_cursor {
    enum fl_sort sort;
    uint64_t id;
    struct fl_str key; /* "2026-11-24 14:42:29.123456", "64.50" or a name; borrowed */
};

struct fl_listing {
    unsigned limit; /* 1..FL_CATALOG_LIMIT_MAX */
    enum fl_sort sort;
    struct fl_str categories[FL_CATALOG_CATEGORIES_MAX];
    size_t n_categories;          /* 0: every category */
    int64_t min_cents, max_cents; /* inclusive; 0 and FL_CATALOG_PRICE_MAX_CENTS by default */
    struct fl_str words[FL_CATALOG_WORDS_MAX]; /* lower-cased search words (fl_search) */
    size_t n_words;
    bool has_cursor;
    struct fl_cursor after;
};

/* A product row; every string is borrowed from the arena it was read into. */
struct fl_product {
    uint64_t id;
    struct fl_str sku, name, description, category, price, unit, producer;
    uint64_t stock;
    struct fl_str created_at, updated_at; /* RFC 3339 UTC with microseconds */
    struct fl_str sort_key;               /* the listing's sort key as text, for cursors */
};

/* The fields of a write; a NULL p means "not given". */
struct fl_product_input {
    struct fl_str sku, name, description, category, price, unit, producer;
    bool has_stock;
    uint64_t stock;
};

/* Parses "newest", "oldest", "price_asc", "price_desc" or "name_asc". FL_EINVAL otherwise. */
enum fl_err fl_sort_parse(struct fl_str s, enum fl_sort *out);

/* The sort's name, e.g. "price_asc". */
const char *fl_sort_name(enum fl_sort sort);

/* Appends the opaque token for c (base64url, no padding). */
void fl_cursor_encode(const struct fl_cursor *c, struct fl_buf *out);

/*
 * Decodes a token made by fl_cursor_encode into out, its key copied into arena. Returns
 * FL_OK, or FL_EINVAL when the token is malformed or its key is not a valid key of its sort
 * (checked whole: a real date and time in DATETIME's range, a price of 0 to
 * FL_CATALOG_PRICE_MAX_CENTS with at most two decimals, a name of valid UTF-8 with 1 to
 * FL_CATALOG_NAME_MAX_CHARS characters).
 */
enum fl_err fl_cursor_decode(struct fl_str token, struct fl_arena *arena, struct fl_cursor *out);

/*
 * Lists one page: up to q->limit products into out (an arena array of q->limit + 1), the
 * count in n_out; has_more tells whether another page follows (its cursor is the last row).
 * No statement examines more than a bounded multiple of its page while the planner's
 * estimates hold; a wrong estimate costs a bounded try and another plan, never a wrong
 * page. Returns FL_OK, FL_EDB, or FL_EINVAL only for a search (q->n_words > 0) that no plan
 * can answer within its bound on rows examined: "search is too broad" (a 400; longer words
 * narrow it).
 */
enum fl_err fl_catalog_list(struct fl_db *db, struct fl_arena *arena, const struct fl_listing *q,
                            struct fl_product **out, size_t *n_out, bool *has_more);

/* Reads one product. Returns FL_OK, FL_ENOTFOUND or FL_EDB. */
enum fl_err fl_catalog_get(struct fl_db *db, struct fl_arena *arena, uint64_t id,
                           struct fl_product *out);

/*
 * Creates a product from in (every field but stock required, validated by the caller) and
 * indexes its words, in one transaction. Returns FL_OK with the new id, FL_ECONFLICT when
 * the sku exists, or FL_EDB.
 */
enum fl_err fl_catalog_create(struct fl_db *db, const struct fl_product_input *in, uint64_t *id);

/*
 * Updates the given fields of product id (and its words when name or description change),
 * in one transaction. Returns FL_OK, FL_ENOTFOUND or FL_EDB.
 */
enum fl_err fl_catalog_update(struct fl_db *db, uint64_t id, const struct fl_product_input *in);

/*
 * The search index, for callers already inside a transaction that has written products
 * first (the webhook service); both return FL_OK or FL_EDB. fl_catalog_index_words
 * rewrites product id's rows from its name and description (and adds new words to the
 * vocabulary); fl_catalog_sync_words copies
 * its price, name and category into its rows, after a write that changed one of those
 * but neither text.
 */
enum fl_err fl_catalog_index_words(struct fl_db *db, uint64_t id, struct fl_str name,
                                   struct fl_str description);
enum fl_err fl_catalog_sync_words(struct fl_db *db, uint64_t id);

#endif
