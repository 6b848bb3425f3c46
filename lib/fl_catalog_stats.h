/* SPDX-License-Identifier: MIT */
/*
 * What the listing planner knows of the products without asking on every request: the
 * table's size and a systematic sample of (category, price, name), read by this worker (one
 * process, one request at a time) at most once per FL_CATALOG_STATS_REFRESH_S. It answers
 * "how many products of this category cost between lo and hi", and "how far into the name
 * order is the first of them", from memory. It never decides a plan and never makes a
 * page: a wrong estimate costs time, not correctness (the planner bounds every plan it
 * chooses by estimate; see lib/fl_plan.c).
 */
#ifndef FL_CATALOG_STATS_H
#define FL_CATALOG_STATS_H

#include <stdint.h>

#include "fl_db.h"
#include "fl_str.h"

/*
 * How long a sample is used before the next is read, unless fl_catalog_stats_every says
 * otherwise (FL_PLAN_SAMPLE_S). Reading one costs 16,000 primary-key lookups (8,000 cost
 * 45 ms of MariaDB CPU at once on 200,000 products, in a worker's first listing): the next
 * is read a slice (200 ids, about 1 ms) a request. A catalogue's shape moves over days, so
 * five minutes is fresh enough.
 */
#define FL_CATALOG_STATS_REFRESH_S 300

/*
 * Products sampled: a category with 1% of the products holds 160 of them. With 2,000 (one
 * for 100 of 200,000 products), windows the sample saw nearly empty held hundreds, and
 * their plans tripped the guard (tests/bench/bench.py misses' filters: 1.048 statements
 * a miss, 1.042 with 4,000). A name walk's estimate rests on where the sample's first
 * products in the price range fall, about one sampled product for a page when the sample
 * is small. Pages by name priced 0-6.08, 0-7.74, 0-2.11 and 0-12.80 of the bench's
 * 200,000 and 1,000,000 products (walks of 1,925 to 82,591 names; the estimate computed
 * over the ids each size samples, as a worker logged it for one): with 4,000 the
 * estimates were 0.55 to 4.4 times the walk, with 8,000 0.6 to 4.2 (a page of 100 priced
 * under 6.08 of 1,000,000 put at 62,767 names, where it walks 14,868, so its 10,665 were
 * read and sorted), with 16,000 0.8 to 1.5, and every choice between walk and sort the
 * cheaper one. A page of 50 under 7.74 of 200,000 was sorted with 4,000: 3.1 ms of
 * MariaDB against 1.1 for the walk.
 */
#define FL_CATALOG_STATS_SAMPLE_N 16000

/*
 * Reads the sample on db when none is held (the whole of it, at once), or a slice of the
 * next when the one held is older than its refresh interval: the next replaces it
 * once read whole, FL_CATALOG_STATS_SAMPLE_N / 200 calls later (a half-read one would say
 * some categories are empty). A failed read is logged and tried again, from the start,
 * after a shorter interval; the sample held, if any, stays. The caller goes on either way.
 */
void fl_catalog_stats_refresh(struct fl_db *db);

/* Uses each sample refresh_s seconds (at least 1) from the next one read on. */
void fl_catalog_stats_every(unsigned refresh_s);

/* Forgets the sample, so that the next refresh reads one whole (tests, and a schema change). */
void fl_catalog_stats_forget(void);

/* Estimated products in the table (0 before the first sample). */
double fl_catalog_stats_rows(void);

/*
 * Estimated products of category (compared byte for byte, as the column is; an empty
 * category means every category) whose price in cents is in [min_cents, max_cents]. 0 for a
 * category the sample has not seen.
 */
double fl_catalog_stats_count(struct fl_str category, int64_t min_cents, int64_t max_cents);

/*
 * Estimated entries of category's name index (every category's when empty) that a walk
 * in name order from after (exclusive; empty: from the start) passes before its first
 * product priced in [min_cents, max_cents], beyond what the sample's matches spread evenly
 * over the walk would put there. Names cluster by category, and so by price: twenty
 * spices over 1,700 come after 3,800 names of other products, where an even spread says
 * 800 in all (tests/bench/bench.py misses, 200,000 products). 0 when the sample saw no
 * such product, or saw them spread evenly. Names are placed by their first bytes,
 * lower-cased, as an estimate of the column's collation.
 */
double fl_catalog_stats_name_skip(struct fl_str category, int64_t min_cents, int64_t max_cents,
                                  struct fl_str after);

#endif
