/* SPDX-License-Identifier: MIT */
/*
 * The planner; see fl_plan.h. A listing without words has one branch a category, and each
 * branch chooses between walking its sort index and reading its price range whole, from
 * the sampled counts of its category inside and outside the range. A search is driven by
 * its rarest word (PLAN_TERMS, PLAN_RANGE) or scans products with the words as probes
 * (PLAN_SCAN), whichever the estimates say reads less; the words' estimates come from the
 * optimizer (EXPLAIN, ~0.1 ms a word) and, when independence is a poor guess, from a
 * sample of 100 entries. Every choice is a preference: the guard in fl_catalog.c bounds
 * what a wrong one costs.
 */
#include "fl_plan.h"

#include <stdlib.h>
#include <string.h>

#include "fl_catalog_stats.h"

/* One more than FL_PLAN_VARIANTS_MAX, as SQL text: "more than we list" in one read. */
#define VARIANTS_LIMIT "17"
/* Driver entries read to see how often another word goes with it. */
#define SAMPLE_ROWS "100"

/*
 * The listing plans' unit: one index entry read in order by a walk (0.4 us on 1M
 * products). Reading a price range from the filter's index and sorting it costs more an
 * entry: 0.9 us with the sort key in the index (dates; measured on 1M products, 2 cores:
 * the by-price statements of sql/006). Since sql/009 put name in the price indexes, the
 * name sort's by-price statements cost 0.85 to 1.5 times the dates' per examined row (3.9
 * to 4.6 us against 2.7 to 4.6, slow log Query_time / Rows_examined, three runs of
 * tests/bench/bench.py misses' filters on 200,000 products), where they cost 3.2 times
 * (2.9 us an entry) while each entry's row was read for its name: taken as 1.4.
 */
#define SET_WALKS_PER_ENTRY_DATE 2.2
#define SET_WALKS_PER_ENTRY_NAME 3.0

/*
 * The search probes' costs, in microseconds of MariaDB time, measured on 1M seeded
 * products (2 cores, MariaDB 10.11) with the statements of fl_plan_sql.c's word_joins:
 * an eq_ref probe of (product_id, word) per driver entry, a range subquery per driver
 * entry (a prefix with too many variants to list), and one entry of a word's set read
 * once per branch. A range probe is costed as PROBE_RANGE_LOOKUPS eq_ref lookups when
 * counting the lookups a row needs (7 us against 2).
 */
#define PROBE_JOIN_US       2.0
#define PROBE_RANGE_US      7.0
#define SET_ENTRY_US        0.2
#define PROBE_RANGE_LOOKUPS 4

/*
 * The guard's floor: the rows and index entries a statement may touch (MariaDB's LIMIT
 * ROWS EXAMINED) before the planner takes it that its estimate was wrong: a fixed floor
 * or ROWS_PER_ROW for each row a page holds, whichever is larger (~1 ms of MariaDB time at
 * the floor). MariaDB counts every entry and row it touches, sort and temporary-table
 * passes included: the slow log's Rows_examined is at most that (1.3 times less for a
 * walk, 2.6 times for a range read and sorted, the same for probes; measured on
 * tests/integration/test_planner_property.py's catalogue), so even a statement the bound
 * stops has examined little more than the floor, or ROWS_PER_ROW a row of its page (it
 * stops at its next check: 17 rows over, measured), inside the 2,000 or 20 a row that
 * issue #14 allows.
 */
#define ROWS_EXAMINED_FLOOR 1800
#define ROWS_PER_ROW        18
/*
 * A listing statement whose every branch reads its price range whole and sorts it is
 * counted 2.6 times what the slow log shows (above), a walk 1.3 times: such a statement
 * may touch SORTED_COUNTED times the floor and still examine what a walk stopped at the
 * floor does. Without it a window of 700 entries, listed 100 a page, tripped the floor and
 * ran three statements (tests/bench/bench.py misses, 200,000 products).
 */
#define SORTED_COUNTED 2
/*
 * What LIMIT ROWS EXAMINED counts for each row a statement's branches hand to the outer
 * query: its write to the derived table, its read back, its row by primary key and the
 * outer sort's read (measured: a walk of 73 entries for a page of 21 counted 158). A
 * single walk joined as it goes (fl_plan_sql.c's walk_joined) counts its row alone: it
 * is estimated as the derived form it replaced, high by the rest, and gets that form's
 * bound, under which it touches fewer rows than that form did.
 */
#define OUTER_COUNTED 4
/* Reads EXPLAIN's "rows" column (the optimizer's estimate from index dives). */
static enum fl_err read_estimate(void *ud, const struct fl_str *cols, size_t ncols)
{
    uint64_t n = 0;

    if (ncols > 8 && cols[8].p)
        fl_str_to_u64(cols[8], 0, UINT64_MAX, &n);
    if (n > *(uint64_t *)ud)
        *(uint64_t *)ud = n;
    return FL_OK;
}

/*
 * Estimates rows cheaply (about 0.1 ms, no scan) with EXPLAIN. Estimates run up to twice
 * the truth for large ranges and are exact for small ones, which is all a choice between
 * plans needs.
 */
static enum fl_err estimate(struct fl_db *db, const char *sql, const struct fl_db_arg *args,
                            size_t n, double *out)
{
    uint64_t rows = 0;
    enum fl_err err = fl_db_query(db, sql, args, n, read_estimate, &rows);

    *out = (double)rows;
    return err;
}

struct variants {
    struct fl_plan_word *w;
    struct fl_arena *arena;
};

static enum fl_err read_variant(void *ud, const struct fl_str *c, size_t ncols)
{
    struct variants *v = ud;

    if (ncols != 1 || c[0].p == NULL)
        return FL_EDB;
    if (v->w->n_variants < FL_PLAN_VARIANTS_MAX) {
        struct fl_str s = fl_arena_strdup(v->arena, c[0]);
        if (s.p == NULL)
            return FL_ENOMEM;
        v->w->variants[v->w->n_variants] = s;
    }
    v->w->n_variants++;
    return FL_OK;
}

/* Fills w's estimate and the words its prefix matches. */
static enum fl_err plan_word(struct fl_db *db, struct fl_arena *arena, struct fl_str word,
                             struct fl_plan_word *w)
{
    static const char rows[] = "EXPLAIN SELECT 1 FROM product_words WHERE word LIKE ?";
    static const char variants[] = "SELECT word FROM vocabulary WHERE word LIKE ? ORDER BY word "
                                   "LIMIT " VARIANTS_LIMIT;
    char *p = fl_arena_alloc(arena, word.len + 2);
    struct variants v = {w, arena};
    struct fl_db_arg pattern;
    enum fl_err err;

    if (p == NULL)
        return FL_ENOMEM;
    memcpy(p, word.p, word.len);
    memcpy(p + word.len, "%", 2);
    w->pattern = (struct fl_str){p, word.len + 1};
    w->n_variants = 0;
    pattern = FL_DB_ARG_STR(w->pattern);
    if ((err = estimate(db, rows, &pattern, 1, &w->rows)) != FL_OK)
        return err;
    return fl_db_query(db, variants, &pattern, 1, read_variant, &v);
}

static int by_rows(const void *a, const void *b)
{
    const struct fl_plan_word *x = a, *y = b;

    return (x->rows > y->rows) - (x->rows < y->rows);
}

static double fraction(double rows, double total)
{
    return rows <= 0 ? 1e-9 : rows >= total ? 1 : rows / total;
}

/* Lookups a row costs to probe words from..n-1, each only if the ones before matched. */
static double probes(const struct fl_plan_word *w, size_t from, size_t n, double total)
{
    double expected = 0, pass = 1;

    for (size_t i = from; i < n; i++) {
        expected += pass * (double)(w[i].n_variants <= FL_PLAN_VARIANTS_MAX ? w[i].n_variants
                                                                            : PROBE_RANGE_LOOKUPS);
        pass *= fraction(w[i].rows, total);
    }
    return expected;
}

/*
 * Chooses how to read a search page, by the index entries each plan is expected to read
 * (words and categories taken as independent) times the lookups each entry costs. Each
 * expectation is capped by what the plan can read at most, which bounds the harm of a
 * correlation the independence assumption misses: a driving word's entries, or a
 * category's products.
 */
static void choose(struct fl_plan *p, double total, double in_categories,
                   const struct fl_listing *q)
{
    const struct fl_plan_word *w = p->w;
    size_t n = p->n_words;
    double want = q->limit + 1.0, others = 1, all, terms, scan;

    for (size_t i = 1; i < n; i++)
        others *= fraction(w[i].rows, total);
    all = others * fraction(w[0].rows, total);
    p->page_entries = want / fraction(in_categories, total);
    terms = p->page_entries / others;
    if (w[0].n_variants > FL_PLAN_VARIANTS_MAX || terms > w[0].rows)
        terms = w[0].rows; /* at most the driver's entries; a range is read whole, to sort */
    terms *= 1 + probes(w, 1, n, total);
    scan = want / all;
    if (scan > in_categories)
        scan = in_categories;
    scan *= 1 + probes(w, 0, n, total);
    if (scan < terms)
        p->kind = FL_PLAN_SCAN;
    else
        p->kind = w[0].n_variants > FL_PLAN_VARIANTS_MAX ? FL_PLAN_RANGE : FL_PLAN_TERMS;
    p->est = scan < terms ? scan : terms;
}

static enum fl_err read_sample(void *ud, const struct fl_str *c, size_t ncols)
{
    double *out = ud;
    uint64_t n = 0, together = 0;

    if (ncols != 2)
        return FL_EDB;
    if (c[0].p)
        fl_str_to_u64(c[0], 0, UINT64_MAX, &n);
    if (c[1].p)
        fl_str_to_u64(c[1], 0, UINT64_MAX, &together);
    /*
     * None together in the sample: take it that they never meet, so the driver is read
     * whole. Any other guess lets a small page (limit=1) choose probes, and words that
     * never meet then probe every driver entry (30 ms, measured, against 12 as a set).
     */
    *out = n == 0 ? 1 : (double)together / (double)n;
    return FL_OK;
}

/*
 * The share of the driver's first entries whose product also has a word with w's prefix.
 * Words are not independent: "cold" and "pressed" go together in 46% of products with
 * "cold" (independence says 2%), "onions" and "powder" never. One small query: 100
 * entries and a lookup each, under a millisecond on 1M products. The lookup is forced onto
 * (product_id, word), as the range probe's is: left to itself the optimizer walked w's own
 * entries for each driver product (9,559 rows read for 100 entries of a 400-entry word,
 * against 545), and that walk grows with w.
 */
static enum fl_err sample_together(struct fl_db *db, const struct fl_plan_word *driver,
                                   const struct fl_plan_word *w, double *out)
{
    static const char sql[] =
        "SELECT COUNT(*), SUM(EXISTS (SELECT 1 FROM product_words p FORCE INDEX "
        "(ix_product_words_product) WHERE p.product_id = d.product_id AND p.word LIKE ?)) "
        "FROM (SELECT product_id FROM product_words WHERE word LIKE ? LIMIT " SAMPLE_ROWS ") d";
    struct fl_db_arg a[2] = {FL_DB_ARG_STR(w->pattern), FL_DB_ARG_STR(driver->pattern)};

    return fl_db_query(db, sql, a, 2, read_sample, out);
}

/* Probing cost of the driver entries read for a page when a share of them matches. */
static double probing(const struct fl_plan *p, double share, double cost)
{
    double all = p->w[0].rows;

    if (p->driver_whole > 0)
        return p->driver_whole * cost;
    return (share * all > p->page_entries ? p->page_entries / share : all) * cost;
}

/*
 * How each word that does not drive is probed (see word_joins). A word set is read once,
 * whole, when that costs less than probing the driver entries the plan reads for a page;
 * the scan is chosen only when its words are common, and probes. How many entries that is
 * depends on how often the word goes with the driver. Independence of words is only a
 * guess (poor for phrases, and for words that never meet), so when it says probing is
 * cheaper but probing all of the driver would not be, a sample of the driver decides
 * (measured on 1M rows: cold pressed 22 ms as a set, 1 ms probed; onions powder 12 ms as
 * a set, 30 ms probed). A set cheaper than even the guess is read without a sample.
 */
static enum fl_err choose_probes(struct fl_db *db, struct fl_plan *p, double total)
{
    size_t joins = 0;
    double branches = p->kind == FL_PLAN_TERMS ? (double)p->w[0].n_variants : 1;

    for (size_t i = p->kind == FL_PLAN_SCAN ? 0 : 1; i < p->n_words; i++) {
        struct fl_plan_word *w = &p->w[i];
        bool listed =
            w->n_variants <= FL_PLAN_VARIANTS_MAX && joins + w->n_variants <= FL_PLAN_JOINS_MAX;
        double cost = listed ? PROBE_JOIN_US : PROBE_RANGE_US;
        double set = w->rows * SET_ENTRY_US * branches, share;
        enum fl_err err;

        w->probe = listed ? FL_PLAN_PROBE_JOIN : FL_PLAN_PROBE_RANGE;
        if (p->kind != FL_PLAN_SCAN && set < probing(p, 0, cost)) {
            share = fraction(w->rows, total); /* as if independent */
            if (set >= probing(p, share, cost) &&
                (err = sample_together(db, &p->w[0], w, &share)) != FL_OK)
                return err;
            if (set < probing(p, share, cost))
                w->probe = FL_PLAN_PROBE_SET;
        }
        if (w->probe == FL_PLAN_PROBE_JOIN)
            joins += w->n_variants;
    }
    return FL_OK;
}

/* True when the listing filters by price and sorts by something else: a choice of indexes. */
bool fl_plan_has_index_choice(const struct fl_listing *q)
{
    return (q->min_cents > 0 || q->max_cents < FL_CATALOG_PRICE_MAX_CENTS) &&
           q->sort != FL_SORT_PRICE_ASC && q->sort != FL_SORT_PRICE_DESC;
}

/* The guard's floor for any plan of q: the rows a statement of q may examine before its
 * bound stops it (see ROWS_EXAMINED_FLOOR). */
static uint64_t page_floor(const struct fl_listing *q)
{
    uint64_t floor = q->limit * ROWS_PER_ROW;

    return floor < ROWS_EXAMINED_FLOOR ? ROWS_EXAMINED_FLOOR : floor;
}

uint64_t fl_plan_rows_floor(const struct fl_listing *q, const struct fl_plan *p)
{
    size_t n = q->n_categories ? q->n_categories : 1;
    bool sorted = q->n_words == 0 && fl_plan_has_index_choice(q);

    for (size_t b = 0; b < n && sorted; b++)
        sorted = p->by_price[b];
    return sorted ? page_floor(q) * SORTED_COUNTED : page_floor(q);
}

/*
 * Whether a branch reads its price range whole (by_price: in entries, each read and
 * sorted) rather than walk its sort index (walk entries), by cost, unless only the range
 * fits the guard's floor: the guard is the promise, the cost a preference.
 */
static bool read_by_price(const struct fl_listing *q, double walk, double in)
{
    double floor = (double)page_floor(q);
    double weight =
        q->sort == FL_SORT_NAME_ASC ? SET_WALKS_PER_ENTRY_NAME : SET_WALKS_PER_ENTRY_DATE;

    return in * weight < walk || (walk > floor && in <= floor);
}

/* Entries a walk of all entries reads to find a page when a share f of them match. */
static double walk_entries(const struct fl_listing *q, double all, double f)
{
    double walk = f > 0 ? (q->limit + 1.0) / f : all;

    return walk < all ? walk : all;
}

/*
 * A branch of products a category (or one for all), each choosing its own index from the
 * sampled counts of its category in and out of the price range, so a window past one
 * category's prices never walks that category; others is the share of those products the
 * words (probed on each) let through, 1 without words. A walk by name also passes what
 * the sample puts before the range's first product in name order: names cluster by
 * category, and so by price. p->est is in MariaDB's count, for the guard.
 */
static void choose_listing(struct fl_plan *p, const struct fl_listing *q, double others)
{
    size_t n = q->n_categories ? q->n_categories : 1;
    double page = q->limit + 1.0, handed;

    p->est = p->est_flipped = 0;
    for (size_t b = 0; b < n; b++) {
        struct fl_str cat = q->n_categories ? q->categories[b] : FL_STR("");
        double all = fl_catalog_stats_count(cat, 0, FL_CATALOG_PRICE_MAX_CENTS);
        double in = fl_catalog_stats_count(cat, q->min_cents, q->max_cents);
        double walk = walk_entries(q, all, all > 0 ? in / all * others : 0);

        if (q->sort == FL_SORT_NAME_ASC && fl_plan_has_index_choice(q))
            walk += fl_catalog_stats_name_skip(cat, q->min_cents, q->max_cents,
                                               q->has_cursor ? q->after.key : FL_STR(""));
        if (walk > all)
            walk = all;
        p->by_price[b] = fl_plan_has_index_choice(q) && read_by_price(q, walk, in);
        p->fewer_by_price[b] = in < walk;
        /* As MariaDB counts them: a range read and sorted twice, and the rows it hands on. */
        handed = OUTER_COUNTED * (in * others < page ? in * others : page);
        p->est += (p->by_price[b] ? in * SORTED_COUNTED : walk) + handed;
        p->est_flipped += (p->by_price[b] ? walk : in * SORTED_COUNTED) + handed;
    }
}

/*
 * The same choice for the driver's variants of a search, each taken to hold an equal share
 * of the prefix's entries, a share of them in the price range as of all products, and the
 * categories and other words as independent filters.
 */
static void choose_variants(struct fl_plan *p, const struct fl_listing *q, double total,
                            double in_categories)
{
    const struct fl_plan_word *w = &p->w[0];
    double entries = w->rows / (double)(w->n_variants ? w->n_variants : 1);
    double in_price =
        fraction(fl_catalog_stats_count(FL_STR(""), q->min_cents, q->max_cents), total);
    double others = fraction(in_categories, total);
    bool by_price;

    for (size_t i = 1; i < p->n_words; i++)
        others *= fraction(w[i].rows, total);
    by_price = read_by_price(q, walk_entries(q, entries, in_price * others), entries * in_price);
    for (size_t v = 0; v < w->n_variants && v < FL_PLAN_VARIANTS_MAX; v++)
        p->by_price[v] = by_price;
    if (by_price)
        p->est = p->driver_whole = entries * in_price * (double)w->n_variants;
}

/* The share of products that has every word, the words taken as independent. */
static double words_share(const struct fl_plan *p, double total)
{
    double share = 1;

    for (size_t i = 0; i < p->n_words; i++)
        share *= fraction(p->w[i].rows, total);
    return share;
}

/* Plans the page: p->kind, and the words in p->w rarest first. *none when nothing matches. */
enum fl_err fl_plan_choose(struct fl_db *db, struct fl_arena *arena, const struct fl_listing *q,
                           struct fl_plan *p, bool *none)
{
    double total, in_categories = 0;
    enum fl_err err;

    *none = false;
    p->n_words = q->n_words;
    p->kind = FL_PLAN_SCAN;
    memset(p->by_price, 0, sizeof(p->by_price));
    fl_catalog_stats_refresh(db);
    total = fl_catalog_stats_rows() < 1 ? 1 : fl_catalog_stats_rows();
    p->driver_whole = 0;
    if (q->n_words == 0) {
        choose_listing(p, q, 1);
        return FL_OK;
    }
    for (size_t i = 0; i < q->n_words; i++) {
        if ((err = plan_word(db, arena, q->words[i], &p->w[i])) != FL_OK)
            return err;
        if (p->w[i].n_variants == 0) {
            *none = true; /* no product has a word with this prefix */
            return FL_OK;
        }
    }
    qsort(p->w, q->n_words, sizeof(p->w[0]), by_rows);
    for (size_t i = 0; i < q->n_categories; i++)
        in_categories += fl_catalog_stats_count(q->categories[i], 0, FL_CATALOG_PRICE_MAX_CENTS);
    if (q->n_categories == 0 || in_categories > total)
        in_categories = total;
    choose(p, total, in_categories, q);
    if (p->kind == FL_PLAN_TERMS && fl_plan_has_index_choice(q))
        choose_variants(p, q, total, in_categories);
    if (p->kind == FL_PLAN_SCAN && fl_plan_has_index_choice(q))
        choose_listing(p, q, words_share(p, total));
    return choose_probes(db, p, total);
}

/* Turns every branch that had a choice of index to the other one, and est with it. */
void fl_plan_flip_indexes(struct fl_plan *p)
{
    double est = p->est;

    for (size_t i = 0; i < FL_PLAN_BRANCHES_MAX; i++)
        p->by_price[i] = !p->by_price[i];
    p->est = p->est_flipped;
    p->est_flipped = est;
}

/*
 * Probes each word that was read as a set and, when sets_too, reads as a set each word
 * that was probed, as far as the joins allow (see word_joins). Returns false when there
 * was none to turn.
 */
bool fl_plan_turn_probes(struct fl_plan *p, bool sets_too)
{
    size_t first = p->kind == FL_PLAN_SCAN ? 0 : 1, joins = 0;
    bool turned = false;

    for (size_t i = first; i < p->n_words; i++)
        if (p->w[i].probe == FL_PLAN_PROBE_JOIN)
            joins += p->w[i].n_variants;
    for (size_t i = first; i < p->n_words; i++) {
        struct fl_plan_word *w = &p->w[i];
        if (w->probe == FL_PLAN_PROBE_JOIN && sets_too) {
            w->probe = FL_PLAN_PROBE_SET;
            joins -= w->n_variants;
            turned = true;
        } else if (w->probe == FL_PLAN_PROBE_SET && w->n_variants <= FL_PLAN_VARIANTS_MAX &&
                   joins + w->n_variants <= FL_PLAN_JOINS_MAX) {
            w->probe = FL_PLAN_PROBE_JOIN;
            joins += w->n_variants;
            turned = true;
        }
    }
    return turned;
}
