/* SPDX-License-Identifier: MIT */
/*
 * The catalogue service's reads: the product listing (keyset pagination on (sort key, id),
 * with category, price and word filters) and one product by id. Its parts: the sorts and
 * cursors (fl_cursor), the planner (fl_plan, from the sample of fl_catalog_stats), the
 * listing SQL (fl_plan_sql) and the writes (fl_catalog_write). It does not parse HTTP or
 * render JSON.
 */
#ifndef FL_CATALOG_H
#define FL_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include "fl_arena.h"
#include "fl_buf.h"
#include "fl_cursor.h"
#include "fl_db.h"
#include "fl_err.h"
#include "fl_str.h"

#define FL_CATALOG_LIMIT_MAX          100
#define FL_CATALOG_CATEGORIES_MAX     20
#define FL_CATALOG_CATEGORY_MAX_BYTES 64
#define FL_CATALOG_WORDS_MAX          16
#define FL_CATALOG_PRICE_MAX_CENTS    9999999999LL
#define FL_CATALOG_NAME_MAX_CHARS     200 /* products.name is VARCHAR(200) */

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

#endif
