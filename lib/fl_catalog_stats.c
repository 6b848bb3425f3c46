/* SPDX-License-Identifier: MIT */
/*
 * The planner's sample of the catalogue; see fl_catalog_stats.h. One systematic sample of
 * products by id (ids are dense: AUTO_INCREMENT, and the seeder writes them in order), so
 * the sample spreads evenly over the table and over time. It is process state: a worker is
 * one single-threaded process, and each worker reads its own sample.
 */
#include "fl_catalog_stats.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_catalog.h"
#include "fl_log.h"
#include "fl_time.h"

#define CATEGORIES_MAX        256 /* categories told apart; the rest of the sample is dropped */
#define NAME_MAX_BYTES        256 /* VARCHAR(64) in utf8mb4 */
#define RETRY_AFTER_FAILURE_S 10
/* Enough of a name to place it in the name order; the seeded names differ in 4-20 bytes. */
#define NAME_PREFIX_BYTES 24

struct sample {
    uint16_t category; /* index into names */
    uint8_t name_len;
    char name[NAME_PREFIX_BYTES]; /* the name's first bytes, ASCII lower-cased */
    int64_t cents;
};

struct category {
    char name[NAME_MAX_BYTES];
    size_t len;
    size_t first, end; /* its samples: s[first..end), by price */
};

/*
 * Sampled ids read a statement once a sample is held: 200 primary-key lookups cost about
 * 1 ms of MariaDB CPU, where 4,000 read at once cost 26 ms, in the one request that found
 * the sample due (measured on 200,000 products).
 */
#define SLICE_N 200
_Static_assert(FL_CATALOG_STATS_SAMPLE_N % SLICE_N == 0 && SLICE_N <= FL_DB_ARGS_MAX,
               "the sample is read in whole slices, one statement each");

static struct {
    int64_t refresh_us;   /* fl_catalog_stats_every; 0: FL_CATALOG_STATS_REFRESH_S */
    int64_t next_read_us; /* monotonic; 0: never read */
    double per_sample;    /* products one sampled row stands for */
    struct sample s[FL_CATALOG_STATS_SAMPLE_N];
    uint16_t by_name[FL_CATALOG_STATS_SAMPLE_N]; /* s in name order */
    size_t n;
    struct category cat[CATEGORIES_MAX]; /* s's categories, then those next added */
    size_t n_cat;
    struct sample next[FL_CATALOG_STATS_SAMPLE_N]; /* the sample being read */
    size_t next_n, next_slot;                      /* its rows read, and ids asked */
    uint64_t next_max_id;
} st;

static const struct category *find(struct fl_str name)
{
    for (size_t i = 0; i < st.n_cat; i++)
        if (fl_str_eq(name, (struct fl_str){st.cat[i].name, st.cat[i].len}))
            return &st.cat[i];
    return NULL;
}

static enum fl_err read_max_id(void *ud, const struct fl_str *c, size_t ncols)
{
    if (ncols != 1 || c[0].p == NULL)
        return FL_EDB;
    return fl_str_to_u64(c[0], 0, UINT64_MAX, ud);
}

/* The first bytes of name as the sample keeps them: lower-cased like the name order's collation. */
static uint8_t name_prefix(struct fl_str name, char *out)
{
    size_t n = name.len < NAME_PREFIX_BYTES ? name.len : NAME_PREFIX_BYTES;

    for (size_t i = 0; i < n; i++)
        out[i] = name.p[i] >= 'A' && name.p[i] <= 'Z' ? (char)(name.p[i] - 'A' + 'a') : name.p[i];
    return (uint8_t)n;
}

static int name_cmp(const char *a, size_t a_len, const char *b, size_t b_len)
{
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);

    return c ? c : (a_len > b_len) - (a_len < b_len);
}

static enum fl_err read_sample(void *ud, const struct fl_str *c, size_t ncols)
{
    const struct category *known;
    int64_t cents;

    (void)ud;
    if (ncols != 3 || c[0].p == NULL || c[1].p == NULL || c[2].p == NULL ||
        st.next_n == FL_COUNTOF(st.next))
        return FL_EDB;
    if (fl_str_to_cents(c[1], FL_CATALOG_PRICE_MAX_CENTS, &cents) != FL_OK)
        return FL_EDB;
    known = find(c[0]);
    if (known == NULL) {
        if (st.n_cat == CATEGORIES_MAX || c[0].len > NAME_MAX_BYTES)
            return FL_OK; /* estimated as an unseen category: 0 */
        memcpy(st.cat[st.n_cat].name, c[0].p, c[0].len);
        st.cat[st.n_cat].len = c[0].len;
        known = &st.cat[st.n_cat++];
    }
    st.next[st.next_n] = (struct sample){.category = (uint16_t)(known - st.cat), .cents = cents};
    st.next[st.next_n].name_len = name_prefix(c[2], st.next[st.next_n].name);
    st.next_n++;
    return FL_OK;
}

static int by_category_price(const void *a, const void *b)
{
    const struct sample *x = a, *y = b;

    if (x->category != y->category)
        return x->category < y->category ? -1 : 1;
    return (x->cents > y->cents) - (x->cents < y->cents);
}

static int by_sample_name(const void *a, const void *b)
{
    const struct sample *x = &st.s[*(const uint16_t *)a], *y = &st.s[*(const uint16_t *)b];

    return name_cmp(x->name, x->name_len, y->name, y->name_len);
}

/* The statement: one placeholder a sampled id, so its text never changes. */
static const char *sample_sql(void)
{
    static char sql[64 + 2 * SLICE_N];

    if (sql[0] == '\0') {
        size_t at = (size_t)snprintf(sql, sizeof(sql),
                                     "SELECT category, price, name FROM products WHERE id IN (?");
        for (size_t i = 1; i < SLICE_N; i++, at += 2)
            memcpy(sql + at, ",?", 2);
        memcpy(sql + at, ")", 2);
    }
    return sql;
}

/*
 * Reads the next SLICE_N ids of the sample being read, the table's size first when it
 * starts. Ids at the middles of FL_CATALOG_STATS_SAMPLE_N equal slices of 1..max_id (every
 * id of a smaller table; the spare places ask for id 0, which no product has).
 */
static enum fl_err read_slice(struct fl_db *db)
{
    static const char max_sql[] = "SELECT COALESCE(MAX(id), 0) FROM products";
    static struct fl_db_arg ids[SLICE_N];
    const double n = FL_CATALOG_STATS_SAMPLE_N;
    uint64_t max_id;
    enum fl_err err;

    if (st.next_slot == 0) {
        st.next_n = 0;
        st.next_max_id = 0;
        if ((err = fl_db_query(db, max_sql, NULL, 0, read_max_id, &st.next_max_id)) != FL_OK)
            return err;
    }
    max_id = st.next_max_id;
    for (size_t i = 0, slot = st.next_slot; i < SLICE_N; i++, slot++) {
        uint64_t id = max_id >= n     ? 1 + (uint64_t)(((double)slot + 0.5) * (double)max_id / n)
                      : slot < max_id ? slot + 1
                                      : 0;
        ids[i] = FL_DB_ARG_U64(id);
    }
    if ((err = fl_db_query(db, sample_sql(), ids, SLICE_N, read_sample, NULL)) != FL_OK)
        return err;
    st.next_slot += SLICE_N;
    return FL_OK;
}

/* Makes the sample read whole the one held, with only its own categories. */
static void install(void)
{
    static struct category cats[CATEGORIES_MAX];
    uint16_t to[CATEGORIES_MAX];
    size_t n_cat = 0;

    memset(to, 0xff, sizeof(to));
    for (size_t i = 0; i < st.next_n; i++) {
        uint16_t c = st.next[i].category;
        if (to[c] == UINT16_MAX) {
            cats[n_cat] = st.cat[c];
            to[c] = (uint16_t)n_cat++;
        }
        st.s[i] = st.next[i];
        st.s[i].category = to[c];
    }
    memcpy(st.cat, cats, n_cat * sizeof(cats[0]));
    st.n_cat = n_cat;
    st.n = st.next_n;
    st.per_sample = st.next_max_id >= FL_CATALOG_STATS_SAMPLE_N
                        ? (double)st.next_max_id / FL_CATALOG_STATS_SAMPLE_N
                        : 1;
    qsort(st.s, st.n, sizeof(st.s[0]), by_category_price);
    for (size_t i = 0; i < st.n; i++) {
        struct category *c = &st.cat[st.s[i].category];
        if (i == 0 || st.s[i - 1].category != st.s[i].category)
            c->first = i;
        c->end = i + 1;
        st.by_name[i] = (uint16_t)i;
    }
    qsort(st.by_name, st.n, sizeof(st.by_name[0]), by_sample_name);
}

/*
 * Without a sample the whole of one is read at once (the planner has nothing else); with
 * one, the next is read a slice a call and replaces it once read whole, so no request
 * pays for all of it.
 */
void fl_catalog_stats_refresh(struct fl_db *db)
{
    int64_t now = fl_time_mono_us();
    enum fl_err err;

    if (st.next_read_us && now < st.next_read_us)
        return;
    do {
        err = read_slice(db);
    } while (err == FL_OK && st.n == 0 && st.next_slot < FL_CATALOG_STATS_SAMPLE_N);
    if (err != FL_OK) {
        st.next_slot = 0; /* the next try starts over; the sample held, if any, stays */
        fl_log(FL_LOG_WARN, "event=catalog_stats_failed error=\"%s\" retry_s=%d", fl_strerror(err),
               RETRY_AFTER_FAILURE_S);
        st.next_read_us = now + (int64_t)RETRY_AFTER_FAILURE_S * 1000000;
        return;
    }
    if (st.next_slot < FL_CATALOG_STATS_SAMPLE_N)
        return; /* the next call reads the next slice */
    install();
    st.next_slot = 0;
    st.next_read_us =
        now + (st.refresh_us ? st.refresh_us : (int64_t)FL_CATALOG_STATS_REFRESH_S * 1000000);
}

void fl_catalog_stats_every(unsigned refresh_s)
{
    st.refresh_us = (int64_t)(refresh_s ? refresh_s : 1) * 1000000;
}

void fl_catalog_stats_forget(void)
{
    st.next_read_us = 0;
    st.n = st.n_cat = st.next_slot = 0;
}

double fl_catalog_stats_rows(void)
{
    return (double)st.n * st.per_sample;
}

/* Samples of c priced in [lo, hi]: two binary searches in its slice. */
static size_t in_range(const struct category *c, int64_t lo, int64_t hi)
{
    size_t a = c->first, b = c->end, from, to;

    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (st.s[m].cents < lo)
            a = m + 1;
        else
            b = m;
    }
    from = a;
    b = c->end;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (st.s[m].cents <= hi)
            a = m + 1;
        else
            b = m;
    }
    to = a;
    return to - from;
}

double fl_catalog_stats_count(struct fl_str category, int64_t min_cents, int64_t max_cents)
{
    const struct category *c;
    size_t n = 0;

    if (category.len == 0) {
        for (size_t i = 0; i < st.n_cat; i++)
            n += in_range(&st.cat[i], min_cents, max_cents);
    } else if ((c = find(category)) != NULL) {
        n = in_range(c, min_cents, max_cents);
    }
    return (double)n * st.per_sample;
}

double fl_catalog_stats_name_skip(struct fl_str category, int64_t min_cents, int64_t max_cents,
                                  struct fl_str after)
{
    const struct category *c = category.len ? find(category) : NULL;
    char from[NAME_PREFIX_BYTES];
    uint8_t from_len = name_prefix(after, from);
    size_t passed = 0, before = 0, matched = 0;
    double even;

    if (category.len && c == NULL)
        return 0;
    for (size_t i = 0; i < st.n; i++) {
        const struct sample *s = &st.s[st.by_name[i]];
        if ((c && s->category != c - st.cat) ||
            (after.len && name_cmp(s->name, s->name_len, from, from_len) <= 0))
            continue;
        passed++;
        if (s->cents >= min_cents && s->cents <= max_cents && matched++ == 0)
            before = passed - 1;
    }
    if (matched == 0)
        return 0;
    /* Before the first of matched among passed, spread evenly: (passed - matched) / matched. */
    even = (double)(passed - matched) / (double)matched;
    return (double)before > even ? ((double)before - even) * st.per_sample : 0;
}
