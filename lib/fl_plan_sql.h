/* SPDX-License-Identifier: MIT */
/*
 * The listing's SQL: the one statement that reads a page by a plan of lib/fl_plan.c, its
 * text and its arguments. Every value is a placeholder; only names from the sort table and
 * the plan's shape go into the text, so the set of texts is bounded and each is prepared
 * once per connection. It chooses nothing and runs nothing.
 */
#ifndef FL_PLAN_SQL_H
#define FL_PLAN_SQL_H

#include "fl_buf.h"
#include "fl_catalog.h"
#include "fl_db.h"
#include "fl_plan.h"

/*
 * A product's columns as every catalogue read selects them, from products alias p, in
 * fl_catalog.c's read order; the sort key (or '') follows as column FL_PLAN_SQL_COLUMNS_N.
 * The times come as the client library writes a DATETIME(6), "2026-11-24 14:42:29.123456",
 * and fl_catalog.c makes them RFC 3339: DATE_FORMAT on the server cost 3-15% of a listing
 * statement's CPU (the same statements replayed with and without it, in one run of
 * tests/bench/bench.py misses' filters on 200,000 products).
 */
#define FL_PLAN_SQL_COLUMNS                                                                        \
    "p.id, p.sku, p.name, p.description, p.category, p.price, p.unit, p.stock, p.producer, "       \
    "p.created_at, p.updated_at, "
#define FL_PLAN_SQL_COLUMNS_N 11

/*
 * The most placeholders a statement holds: a branch per driver variant (or per category),
 * each with its word, categories, price range, keyset, probe joins, other words and LIMIT.
 */
#define FL_PLAN_SQL_ARGS_MAX                                                                       \
    (FL_PLAN_VARIANTS_MAX *                                                                        \
         (1 + FL_CATALOG_CATEGORIES_MAX + 2 + 3 + FL_PLAN_JOINS_MAX + FL_CATALOG_WORDS_MAX + 1) +  \
     1)
#define FL_PLAN_SQL_MAX_BYTES (256 << 10) /* the text of such a statement is under 100 KiB */
_Static_assert(FL_PLAN_SQL_ARGS_MAX <= FL_DB_ARGS_MAX,
               "a search statement binds more than fl_db allows");

/* A statement's arguments; they borrow from the listing and from prices. */
struct fl_plan_sql_args {
    struct fl_db_arg a[FL_PLAN_SQL_ARGS_MAX];
    size_t n;
    char prices[2][24]; /* the price range as DECIMAL text */
};

/* Prepares a for statements of q (the price range's text); a->n is 0. */
void fl_plan_sql_args_init(struct fl_plan_sql_args *a, const struct fl_listing *q);

/*
 * Appends to sql the statement that reads q's page by plan p (up to q->limit + 1 rows of
 * FL_PLAN_SQL_COLUMNS and the sort key, in listing order), its arguments to a from a->n
 * on. The caller checks sql's sticky error.
 */
void fl_plan_sql_build(struct fl_buf *sql, struct fl_plan_sql_args *a, const struct fl_listing *q,
                       const struct fl_plan *p);

#endif
