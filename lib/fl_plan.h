/* SPDX-License-Identifier: MIT */
/*
 * The catalogue's planner: how a listing page is read, chosen by estimates that see every
 * filter (the per-category sample of lib/fl_catalog_stats.c for categories and prices; the
 * optimizer's index dives and a small sample for search words). It decides, and turns a
 * decision the other way when the guard finds an estimate wrong; it writes no listing SQL
 * (lib/fl_plan_sql.c) and runs no page (lib/fl_catalog.c).
 */
#ifndef FL_PLAN_H
#define FL_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "fl_arena.h"
#include "fl_catalog.h"
#include "fl_db.h"
#include "fl_err.h"
#include "fl_str.h"

/* A prefix matching more indexed words than this is read as one range, not word by word. */
#define FL_PLAN_VARIANTS_MAX 16
/* Probe joins one statement may hold (MariaDB allows 61 tables in a join). */
#define FL_PLAN_JOINS_MAX 24
/* Branches of a UNION: one per driver variant, or one per category. */
#define FL_PLAN_BRANCHES_MAX                                                                       \
    (FL_PLAN_VARIANTS_MAX > FL_CATALOG_CATEGORIES_MAX ? FL_PLAN_VARIANTS_MAX                       \
                                                      : FL_CATALOG_CATEGORIES_MAX)

/* How a word that does not drive the read is checked (see lib/fl_plan_sql.c). */
enum fl_plan_probe {
    FL_PLAN_PROBE_JOIN,  /* an eq_ref LEFT JOIN per variant */
    FL_PLAN_PROBE_SET,   /* the word's products read once into a derived table */
    FL_PLAN_PROBE_RANGE, /* a range subquery, for a prefix with too many variants to list */
};

/* A query word and what the planner knows of it. */
struct fl_plan_word {
    struct fl_str pattern;                        /* "w%"; in the planner's arena */
    double rows;                                  /* estimated index entries with the prefix */
    struct fl_str variants[FL_PLAN_VARIANTS_MAX]; /* the indexed words with the prefix ... */
    size_t n_variants;                            /* ... or FL_PLAN_VARIANTS_MAX + 1: too many */
    enum fl_plan_probe probe;                     /* how it is checked when it does not drive */
};

/* How a page is read. */
enum fl_plan_kind {
    FL_PLAN_TERMS, /* the rarest word's index entries in listing order, one branch a variant */
    FL_PLAN_RANGE, /* the rarest word's whole prefix range, sorted (a rare, broad prefix) */
    FL_PLAN_SCAN,  /* the products listing index, one branch a category, words as probes */
};

struct fl_plan {
    enum fl_plan_kind kind;
    struct fl_plan_word *w; /* the caller's array of FL_CATALOG_WORDS_MAX; rarest first */
    size_t n_words;
    double page_entries; /* driver entries a page needs if each had the other words */
    double driver_whole; /* > 0: the driver's entries read whole (its price range) */
    /*
     * Per branch, with a price range under another sort: read the range whole from the
     * price index (products' (category, price, ...) or (price, ...), product_words' (word,
     * price, ...)) and sort it, instead of walking the sort index.
     */
    bool by_price[FL_PLAN_BRANCHES_MAX];
    bool fewer_by_price[FL_PLAN_BRANCHES_MAX]; /* the range holds fewer entries than a walk */
    double est;         /* rows the plan is expected to examine (a listing's: as MariaDB counts) */
    double est_flipped; /* a listing's est with every branch's index turned */
};

/*
 * Plans the page of q into p (p->w set by the caller), reading the statistics' sample when
 * it is due and, for a search, each word's estimate and variants (words into arena).
 * *none when a word matches no indexed word: the page is empty without a query. Returns
 * FL_OK, FL_EDB or FL_ENOMEM.
 */
enum fl_err fl_plan_choose(struct fl_db *db, struct fl_arena *arena, const struct fl_listing *q,
                           struct fl_plan *p, bool *none);

/*
 * The rows a statement of q by plan p may examine before its guard (LIMIT ROWS EXAMINED)
 * stops it: a floor, or a multiple of the page, whichever is larger; more for a plan that
 * reads every branch's price range and sorts it, which MariaDB counts more times a row.
 */
uint64_t fl_plan_rows_floor(const struct fl_listing *q, const struct fl_plan *p);

/* True when q filters by price and sorts by something else: each branch has two indexes. */
bool fl_plan_has_index_choice(const struct fl_listing *q);

/* Turns every branch that had a choice of index to the other one, and est with it. */
void fl_plan_flip_indexes(struct fl_plan *p);

/*
 * Probes each word that was read as a set and, when sets_too, reads as a set each word
 * that was probed, as far as FL_PLAN_JOINS_MAX allows. Returns false when none turned.
 */
bool fl_plan_turn_probes(struct fl_plan *p, bool sets_too);

#endif
