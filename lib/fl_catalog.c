/* SPDX-License-Identifier: MIT */
/*
 * Catalogue queries. Every listing is a keyset seek on (sort key, id), written in the split
 * form MariaDB range-scans (`k < ? OR (k = ? AND id < ?)`; it does not range-scan row
 * constructors), with the index forced so a plan never depends on statistics, reading
 * (id, key) from covering branches (a UNION of `LIMIT n+1` branches, merged by the outer
 * ORDER BY), then joining back on the primary key for the page's rows only:
 *  - without words, one branch per category of products' (category, key, id) index;
 *  - with words, product_words holds (word, key, product_id) for every sort, so the rarest
 *    word's products come in listing order and LIMIT stops the read after a page; one
 *    branch per indexed word the prefix matches ("tomato" -> tomato, tomatoes), the other
 *    words as eq_ref probes of (product_id, word) or, when rare, a set read once (see
 *    word_joins). The planner asks the optimizer how many entries each prefix has
 *    (EXPLAIN, ~0.1 ms) and takes the listing scan with probes instead when that reads
 *    less: a broad, common prefix ("a"), or a small category.
 * The first page uses a sentinel key below or above every row, so first and later pages
 * share one statement shape.
 */
#include "fl_catalog.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_catalog_stats.h"
#include "fl_crypto.h"
#include "fl_log.h"
#include "fl_search.h"

#define COLUMNS_N        12
#define WORDS_PER_INSERT 32
#define VARIANTS_MAX     16 /* a prefix matching more indexed words is read as one range */
#define VARIANTS_LIMIT   "17"
#define JOINS_MAX        24    /* probe joins a statement may hold (MariaDB allows 61 tables) */
#define SAMPLE_ROWS      "100" /* driver entries read to see how often another word goes with it */
#define BRANCHES_MAX                                                                               \
    (VARIANTS_MAX > FL_CATALOG_CATEGORIES_MAX ? VARIANTS_MAX : FL_CATALOG_CATEGORIES_MAX)

/*
 * The planner's units: one index entry read in order by a walk (0.4 us on 1M products).
 * Reading a price range from the filter's index and sorting it costs more an entry: 0.9 us
 * with the sort key in the index (dates), 2.9 us for the name sort, which reads each row
 * (measured on 1M products, 2 cores: PLAN_PRICES' statements, sql/006).
 */
#define SET_COST_DATE 2.2
#define SET_COST_NAME 7.0
/*
 * The guard: the rows and index entries a statement may touch (MariaDB's LIMIT ROWS
 * EXAMINED) before the planner takes it that its estimate was wrong and runs another plan:
 * a fixed floor or ROWS_PER_ROW for each row a page holds, whichever is larger (~1 ms of
 * MariaDB time at the floor). MariaDB counts every entry and row it touches, sort and
 * temporary-table passes included: the slow log's Rows_examined is at most that (1.3
 * times less for a walk, 2.6 times for a range read and sorted, the same for probes;
 * measured on tests/integration/test_planner_property.py's catalogue), so even a statement
 * the bound stops has examined little more than the floor, or ROWS_PER_ROW a row of its
 * page (it stops at its next check: 17 rows over, measured), inside the 2,000 or 20 a row
 * that issue #14 allows.
 * A listing's first plan expected to need more than that gets EST_SLACK times its own
 * estimate, and a last try
 * RETRY_SLACK times its first bound: MariaDB 10.11 sometimes ran a prepared statement,
 * after others on its connection, without the covering read the same text had before (a
 * walk of 1,400 entries then tripped 2,500; measured, not understood).
 */
#define ROWS_EXAMINED_FLOOR 1800
#define ROWS_PER_ROW        18
#define EST_SLACK           2
#define RETRY_SLACK         4
/*
 * What a search may touch before it is refused as too broad (400): sixteen one-letter
 * words on 1M products were stopped at 100,000 after 0.1 s of MariaDB time (they ran
 * 6-8 s unbounded), inside the 1 s statement bound with room for the tries before it.
 */
#define SEARCH_ROWS_MAX 100000

struct sort_spec {
    const char *name;
    char code;          /* the sort's letter inside a cursor */
    const char *column; /* sort key column */
    bool desc;
    const char *index; /* covering index without / with a category */
    const char *cat_index;
    const char *word_index; /* product_words' (word, key, product_id) index */
    const char *key_text;   /* the key as cursor text, from alias p */
    const char *first_key;  /* sentinel before the first row */
    uint64_t first_id;
};

static const struct sort_spec sorts[FL_SORT__MAX] = {
    [FL_SORT_NEWEST] = {"newest", 'n', "created_at", true, "ix_products_created",
                        "ix_products_cat_created", "PRIMARY",
                        "DATE_FORMAT(p.created_at, '%Y-%m-%d %H:%i:%s.%f')",
                        "9999-12-31 23:59:59.999999", UINT64_MAX},
    [FL_SORT_OLDEST] = {"oldest", 'o', "created_at", false, "ix_products_created",
                        "ix_products_cat_created", "PRIMARY",
                        "DATE_FORMAT(p.created_at, '%Y-%m-%d %H:%i:%s.%f')",
                        "1000-01-01 00:00:00.000000", 0},
    [FL_SORT_PRICE_ASC] = {"price_asc", 'p', "price", false, "ix_products_price",
                           "ix_products_cat_price", "ix_product_words_price", "p.price", "-1", 0},
    [FL_SORT_PRICE_DESC] = {"price_desc", 'q', "price", true, "ix_products_price",
                            "ix_products_cat_price", "ix_product_words_price", "p.price",
                            "100000000", UINT64_MAX},
    [FL_SORT_NAME_ASC] = {"name_asc", 'a', "name", false, "ix_products_name",
                          "ix_products_cat_name", "ix_product_words_name", "p.name", "", 0},
};

/* A product's columns, in read_product's order; the sort key follows as the last one. */
#define COLUMNS                                                                                    \
    "p.id, p.sku, p.name, p.description, p.category, p.price, p.unit, p.stock, p.producer, "       \
    "DATE_FORMAT(p.created_at, '%Y-%m-%dT%H:%i:%s.%fZ'), "                                         \
    "DATE_FORMAT(p.updated_at, '%Y-%m-%dT%H:%i:%s.%fZ'), "
static const char columns[] = COLUMNS;

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

/* ---- cursors: base64url("<sort letter><id>.<key>") ---- */

void fl_cursor_encode(const struct fl_cursor *c, struct fl_buf *out)
{
    char raw[FL_CATALOG_CURSOR_MAX_BYTES / 4 * 3];
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

enum fl_err fl_cursor_decode(struct fl_str token, struct fl_arena *arena, struct fl_cursor *out)
{
    char b64[FL_CATALOG_CURSOR_MAX_BYTES + 4];
    struct fl_buf raw;
    const char *dot;
    struct fl_str id_text, key;
    int64_t cents;
    size_t n = token.len;
    enum fl_err err = FL_EINVAL;
    int sort = -1;

    if (n == 0 || n > FL_CATALOG_CURSOR_MAX_BYTES || n % 4 == 1)
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
    fl_buf_init(&raw, FL_CATALOG_CURSOR_MAX_BYTES);
    if (fl_crypto_base64_decode((struct fl_str){b64, n}, &raw) != FL_OK || raw.len < 3)
        goto out;
    for (int i = 0; i < FL_SORT__MAX; i++)
        if (raw.p[0] == sorts[i].code)
            sort = i;
    dot = memchr(raw.p, '.', raw.len);
    if (sort < 0 || dot == NULL)
        goto out;
    id_text = (struct fl_str){raw.p + 1, (size_t)(dot - raw.p - 1)};
    key = (struct fl_str){dot + 1, raw.len - (size_t)(dot - raw.p) - 1};
    if (fl_str_to_u64(id_text, 1, UINT64_MAX, &out->id) != FL_OK || !fl_utf8_valid(key))
        goto out;
    switch (sort) {
    case FL_SORT_NEWEST:
    case FL_SORT_OLDEST:
        if (!valid_datetime(key))
            goto out;
        break;
    case FL_SORT_PRICE_ASC:
    case FL_SORT_PRICE_DESC:
        if (fl_str_to_cents(key, FL_CATALOG_PRICE_MAX_CENTS, &cents) != FL_OK)
            goto out;
        break;
    default:
        if (key.len == 0 || fl_utf8_count(key) > FL_CATALOG_NAME_MAX_CHARS ||
            memchr(key.p, '\0', key.len))
            goto out;
        break;
    }
    out->sort = (enum fl_sort)sort;
    out->key = fl_arena_strdup(arena, key);
    err = out->key.p ? FL_OK : FL_ENOMEM;
out:
    fl_buf_free(&raw);
    return err;
}

/* ---- the listing ---- */

enum probe { PROBE_JOIN, PROBE_SET, PROBE_RANGE }; /* see word_joins */

/* A query word and what the planner knows of it. */
struct word_plan {
    struct fl_str pattern;                /* "w%" */
    double rows;                          /* estimated index entries with the prefix */
    struct fl_str variants[VARIANTS_MAX]; /* the indexed words with the prefix ... */
    size_t n_variants;                    /* ... or VARIANTS_MAX + 1: too many to list */
    enum probe probe;                     /* how it is checked when it does not drive */
};

/*
 * The most placeholders a statement holds: a branch per driver variant (or per category),
 * each with its word, categories, price range, keyset, probe joins, other words and LIMIT.
 */
#define ARGS_MAX                                                                                   \
    (VARIANTS_MAX *                                                                                \
         (1 + FL_CATALOG_CATEGORIES_MAX + 2 + 3 + JOINS_MAX + FL_CATALOG_WORDS_MAX + 1) +          \
     1)
#define SQL_MAX (256 << 10) /* the text of such a statement is under 100 KiB */
_Static_assert(ARGS_MAX <= FL_DB_ARGS_MAX, "a search statement binds more than fl_db allows");

struct args {
    struct fl_db_arg a[ARGS_MAX];
    size_t n;
    char prices[2][24];
};

/* How a page is read. */
enum plan_kind {
    PLAN_TERMS, /* the rarest word's index entries in listing order, one branch a variant */
    PLAN_RANGE, /* the rarest word's whole prefix range, sorted (a rare, broad prefix) */
    PLAN_SCAN,  /* the products listing index, one branch a category, words as probes */
};

struct plan {
    enum plan_kind kind;
    struct word_plan *w; /* rarest first; w[0] drives PLAN_TERMS and PLAN_RANGE */
    size_t n_words;
    double page_entries; /* driver entries a page needs if each had the other words */
    double driver_whole; /* > 0: the driver's entries read whole (its price range) */
    /*
     * Per branch, with a price range under another sort: read the range whole from the
     * price index (products' (category, price, id, created_at) or (price, id, created_at),
     * product_words' (word, price, ...)) and sort it, instead of walking the sort index.
     */
    bool by_price[BRANCHES_MAX];
    bool fewer_by_price[BRANCHES_MAX]; /* the range holds fewer entries than the walk reads */
    double est;                        /* rows the plan is expected to examine */
};

static void arg(struct args *a, struct fl_db_arg v)
{
    if (a->n < sizeof(a->a) / sizeof(a->a[0]))
        a->a[a->n++] = v;
}

static void cents_text(char *out, size_t cap, int64_t cents)
{
    snprintf(out, cap, "%lld.%02lld", (long long)(cents / 100), (long long)(cents % 100));
}

/* Appends "AND (x.k < ? OR (x.k = ? AND x.<id> < ?))" for table alias x. */
static void keyset(struct fl_buf *sql, struct args *a, const struct fl_listing *q, const char *x,
                   const char *id)
{
    const struct sort_spec *s = &sorts[q->sort];
    const char *op = s->desc ? "<" : ">";
    struct fl_str key = q->has_cursor ? q->after.key : fl_str_c(s->first_key);
    uint64_t after = q->has_cursor ? q->after.id : s->first_id;

    fl_buf_appendf(sql, " AND (%s.%s %s ? OR (%s.%s = ? AND %s.%s %s ?))", x, s->column, op, x,
                   s->column, x, id, op);
    arg(a, FL_DB_ARG_STR(key));
    arg(a, FL_DB_ARG_STR(key));
    arg(a, FL_DB_ARG_U64(after));
}

/* The price filter, when the listing has one (every price is in 0..max). */
static void price_range(struct fl_buf *sql, struct args *a, const struct fl_listing *q,
                        const char *x)
{
    if (q->min_cents == 0 && q->max_cents == FL_CATALOG_PRICE_MAX_CENTS)
        return;
    fl_buf_appendf(sql, " AND %s.price BETWEEN ? AND ?", x);
    arg(a, FL_DB_ARG_STR(fl_str_c(a->prices[0])));
    arg(a, FL_DB_ARG_STR(fl_str_c(a->prices[1])));
}

static void categories_in(struct fl_buf *sql, struct args *a, const struct fl_listing *q,
                          const char *x)
{
    for (size_t i = 0; i < q->n_categories; i++) {
        if (i == 0)
            fl_buf_appendf(sql, " AND %s.category IN (?", x);
        else
            fl_buf_puts(sql, ", ?");
        arg(a, FL_DB_ARG_STR(q->categories[i]));
    }
    if (q->n_categories)
        fl_buf_putc(sql, ')');
}

/*
 * The words other than the driver must each match, by one of three probes:
 *  - PROBE_JOIN: a LEFT JOIN per variant, an eq_ref lookup of the unique (product_id,
 *    word) (~2 us a row read, where a dependent subquery costs ~7 us), and "one of them
 *    matched" in WHERE; a product has a word once, so a join never repeats a row;
 *  - PROBE_SET: the word's products, read once into a derived table (~0.2 us an entry)
 *    that each row looks up; for a word rare enough that reading it all costs less than
 *    probing the rows the driver is expected to read (two 1% words with no product in
 *    common: 23 ms of joins, 5 ms this way; see choose_probes);
 *  - PROBE_RANGE: a range subquery on (product_id, word), for a prefix with too many
 *    variants to list.
 */
static void word_joins(struct fl_buf *sql, struct args *a, const struct plan *p, const char *id)
{
    for (size_t i = p->kind == PLAN_SCAN ? 0 : 1; i < p->n_words; i++) {
        const struct word_plan *w = &p->w[i];
        if (w->probe == PROBE_SET) {
            /*
             * The prefix's range holds exactly its variants' entries. Forced: to skip
             * the DISTINCT's temporary table the optimizer read all of (product_id, word)
             * instead, once per branch (275,000 entries for a 16-branch page of 600
             * products, measured).
             */
            fl_buf_appendf(sql,
                           " JOIN (SELECT DISTINCT product_id FROM product_words FORCE INDEX "
                           "(PRIMARY) WHERE word LIKE ?) m%zu ON m%zu.product_id = x.%s",
                           i, i, id);
            arg(a, FL_DB_ARG_STR(w->pattern));
            continue;
        }
        for (size_t v = 0; w->probe == PROBE_JOIN && v < w->n_variants; v++) {
            fl_buf_appendf(sql,
                           " LEFT JOIN product_words b%zu_%zu FORCE INDEX "
                           "(ix_product_words_product) ON b%zu_%zu.product_id = x.%s AND "
                           "b%zu_%zu.word = ?",
                           i, v, i, v, id, i, v);
            arg(a, FL_DB_ARG_STR(w->variants[v]));
        }
    }
}

static void word_conditions(struct fl_buf *sql, struct args *a, const struct plan *p,
                            const char *id)
{
    for (size_t i = p->kind == PLAN_SCAN ? 0 : 1; i < p->n_words; i++) {
        const struct word_plan *w = &p->w[i];
        if (w->probe == PROBE_RANGE) {
            fl_buf_appendf(sql,
                           " AND (SELECT 1 FROM product_words w FORCE INDEX "
                           "(ix_product_words_product) WHERE w.product_id = x.%s AND "
                           "w.word LIKE ? LIMIT 1) IS NOT NULL",
                           id);
            arg(a, FL_DB_ARG_STR(w->pattern));
        } else if (w->probe == PROBE_JOIN) {
            for (size_t v = 0; v < w->n_variants; v++)
                fl_buf_appendf(sql, "%sb%zu_%zu.product_id IS NOT NULL", v ? " OR " : " AND (", i,
                               v);
            fl_buf_putc(sql, ')');
        }
    }
}

/* " ORDER BY <k> <dir>, <id> <dir> LIMIT n+1": one page and the row that tells if more follow. */
static void order_limit(struct fl_buf *sql, struct args *a, const struct fl_listing *q,
                        const char *k, const char *id)
{
    const char *dir = sorts[q->sort].desc ? "DESC" : "ASC";

    fl_buf_appendf(sql, " ORDER BY %s %s, %s %s LIMIT ?", k, dir, id, dir);
    arg(a, FL_DB_ARG_U64(q->limit + 1));
}

/*
 * One branch: (id, k) of up to limit+1 rows in listing order from x, an index of products
 * (PLAN_SCAN: branch is a category, or 0 without one) or of product_words (branch is the
 * driver's variant; PLAN_RANGE: its whole prefix): the sort index, walked in order, or
 * (by_price) the price range of the filter's index, read whole and sorted.
 */
static void branch(struct fl_buf *sql, struct args *a, const struct fl_listing *q,
                   const struct plan *p, size_t b)
{
    const struct sort_spec *s = &sorts[q->sort];
    bool scan = p->kind == PLAN_SCAN;
    const char *id = scan ? "id" : "product_id";
    const char *index = scan && p->by_price[b]
                            ? (q->n_categories ? "ix_products_cat_price" : "ix_products_price")
                        : scan           ? (q->n_categories ? s->cat_index : s->index)
                        : p->by_price[b] ? "ix_product_words_price"
                                         : s->word_index;
    char k[32];

    /* A range holds a product once per word it has with the prefix: DISTINCT. */
    fl_buf_appendf(sql, "(SELECT STRAIGHT_JOIN%s x.%s AS id, x.%s AS k FROM %s x FORCE INDEX (%s)",
                   p->kind == PLAN_RANGE ? " DISTINCT" : "", id, s->column,
                   scan ? "products" : "product_words", index);
    word_joins(sql, a, p, id);
    if (scan && q->n_categories) {
        /* One category a branch: the (category, key, id) index is read in order. */
        fl_buf_puts(sql, " WHERE x.category = ?");
        arg(a, FL_DB_ARG_STR(q->categories[b]));
    } else if (scan) {
        fl_buf_puts(sql, " WHERE 1=1");
    } else {
        fl_buf_puts(sql, p->kind == PLAN_TERMS ? " WHERE x.word = ?" : " WHERE x.word LIKE ?");
        arg(a, FL_DB_ARG_STR(p->kind == PLAN_TERMS ? p->w[0].variants[b] : p->w[0].pattern));
        categories_in(sql, a, q, "x");
    }
    price_range(sql, a, q, "x");
    keyset(sql, a, q, "x", id);
    word_conditions(sql, a, p, id);
    snprintf(k, sizeof(k), "x.%s", s->column);
    order_limit(sql, a, q, k, scan ? "x.id" : "x.product_id");
    fl_buf_putc(sql, ')');
}

/*
 * A UNION of branches (one for PLAN_RANGE), merged by the outer ORDER BY,
 * then a join back on the primary key for the page's rows only. UNION, not UNION ALL: two
 * spellings of a category ("fruits,FRUITS") are one to the column's collation, and a
 * product with two variants of a prefix ("tomato", "tomatoes") is one row.
 */
static void build_branches(struct fl_buf *sql, struct args *a, const struct fl_listing *q,
                           const struct plan *p)
{
    size_t n = p->kind == PLAN_TERMS                     ? p->w[0].n_variants
               : p->kind == PLAN_SCAN && q->n_categories ? q->n_categories
                                                         : 1;

    /* The page's ids first, then their rows: never a scan of products to find them. */
    fl_buf_puts(sql, "SELECT STRAIGHT_JOIN ");
    fl_buf_puts(sql, columns);
    fl_buf_puts(sql, sorts[q->sort].key_text);
    fl_buf_puts(sql, " FROM (");
    for (size_t i = 0; i < n; i++) {
        if (i)
            fl_buf_puts(sql, " UNION ");
        branch(sql, a, q, p, i);
    }
    fl_buf_puts(sql, ") k JOIN products p ON p.id = k.id");
    order_limit(sql, a, q, "k.k", "k.id");
}

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
    struct word_plan *w;
    struct fl_arena *arena;
};

static enum fl_err read_variant(void *ud, const struct fl_str *c, size_t ncols)
{
    struct variants *v = ud;

    if (ncols != 1 || c[0].p == NULL)
        return FL_EDB;
    if (v->w->n_variants < VARIANTS_MAX) {
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
                             struct word_plan *w)
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
    const struct word_plan *x = a, *y = b;

    return (x->rows > y->rows) - (x->rows < y->rows);
}

static double fraction(double rows, double total)
{
    return rows <= 0 ? 1e-9 : rows >= total ? 1 : rows / total;
}

/* Lookups a row costs to probe words from..n-1, each only if the ones before matched. */
static double probes(const struct word_plan *w, size_t from, size_t n, double total)
{
    double expected = 0, pass = 1;

    for (size_t i = from; i < n; i++) {
        expected += pass * (double)(w[i].n_variants <= VARIANTS_MAX ? w[i].n_variants : 4);
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
static void choose(struct plan *p, double total, double in_categories, const struct fl_listing *q)
{
    const struct word_plan *w = p->w;
    size_t n = p->n_words;
    double want = q->limit + 1.0, others = 1, all, terms, scan;

    for (size_t i = 1; i < n; i++)
        others *= fraction(w[i].rows, total);
    all = others * fraction(w[0].rows, total);
    p->page_entries = want / fraction(in_categories, total);
    terms = p->page_entries / others;
    if (w[0].n_variants > VARIANTS_MAX || terms > w[0].rows)
        terms = w[0].rows; /* at most the driver's entries; a range is read whole, to sort */
    terms *= 1 + probes(w, 1, n, total);
    scan = want / all;
    if (scan > in_categories)
        scan = in_categories;
    scan *= 1 + probes(w, 0, n, total);
    if (scan < terms)
        p->kind = PLAN_SCAN;
    else
        p->kind = w[0].n_variants > VARIANTS_MAX ? PLAN_RANGE : PLAN_TERMS;
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
 * entries and a lookup each, under a millisecond on 1M products.
 */
static enum fl_err sample_together(struct fl_db *db, const struct word_plan *driver,
                                   const struct word_plan *w, double *out)
{
    static const char sql[] =
        "SELECT COUNT(*), SUM(EXISTS (SELECT 1 FROM product_words p "
        "WHERE p.product_id = d.product_id AND p.word LIKE ?)) "
        "FROM (SELECT product_id FROM product_words WHERE word LIKE ? LIMIT " SAMPLE_ROWS ") d";
    struct fl_db_arg a[2] = {FL_DB_ARG_STR(w->pattern), FL_DB_ARG_STR(driver->pattern)};

    return fl_db_query(db, sql, a, 2, read_sample, out);
}

/* Probing cost of the driver entries read for a page when a share of them matches. */
static double probing(const struct plan *p, double share, double cost)
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
static enum fl_err choose_probes(struct fl_db *db, struct plan *p, double total)
{
    size_t joins = 0;
    double branches = p->kind == PLAN_TERMS ? (double)p->w[0].n_variants : 1;

    for (size_t i = p->kind == PLAN_SCAN ? 0 : 1; i < p->n_words; i++) {
        struct word_plan *w = &p->w[i];
        bool listed = w->n_variants <= VARIANTS_MAX && joins + w->n_variants <= JOINS_MAX;
        double cost = listed ? 2 : 7, set = w->rows * 0.2 * branches, share;
        enum fl_err err;

        w->probe = listed ? PROBE_JOIN : PROBE_RANGE;
        if (p->kind != PLAN_SCAN && set < probing(p, 0, cost)) {
            share = fraction(w->rows, total); /* as if independent */
            if (set >= probing(p, share, cost) &&
                (err = sample_together(db, &p->w[0], w, &share)) != FL_OK)
                return err;
            if (set < probing(p, share, cost))
                w->probe = PROBE_SET;
        }
        if (w->probe == PROBE_JOIN)
            joins += w->n_variants;
    }
    return FL_OK;
}

/* True when the listing filters by price and sorts by something else: a choice of indexes. */
static bool price_sorts_elsewhere(const struct fl_listing *q)
{
    return (q->min_cents > 0 || q->max_cents < FL_CATALOG_PRICE_MAX_CENTS) &&
           q->sort != FL_SORT_PRICE_ASC && q->sort != FL_SORT_PRICE_DESC;
}

/* The rows a statement of q may examine before its bound stops it (see ROWS_EXAMINED_FLOOR). */
static uint64_t rows_floor(const struct fl_listing *q)
{
    uint64_t floor = q->limit * ROWS_PER_ROW;

    return floor < ROWS_EXAMINED_FLOOR ? ROWS_EXAMINED_FLOOR : floor;
}

/*
 * Whether a branch reads its price range whole (by_price: in entries, each read and
 * sorted) rather than walk its sort index (walk entries), by cost, unless only the range
 * fits the guard's floor: the guard is the promise, the cost a preference. Adds what it
 * reads to *est.
 */
static bool read_by_price(const struct fl_listing *q, double walk, double in, double *est)
{
    double weight = q->sort == FL_SORT_NAME_ASC ? SET_COST_NAME : SET_COST_DATE;
    double floor = (double)rows_floor(q);
    bool by_price = in * weight < walk || (walk > floor && in <= floor);

    *est += by_price ? in : walk;
    return by_price;
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
 * words (probed on each) let through, 1 without words.
 */
static void choose_listing(struct plan *p, const struct fl_listing *q, double others)
{
    size_t n = q->n_categories ? q->n_categories : 1;

    p->est = 0;
    for (size_t b = 0; b < n; b++) {
        struct fl_str cat = q->n_categories ? q->categories[b] : FL_STR("");
        double all = fl_catalog_stats_count(cat, 0, FL_CATALOG_PRICE_MAX_CENTS);
        double in = fl_catalog_stats_count(cat, q->min_cents, q->max_cents);
        double walk = walk_entries(q, all, all > 0 ? in / all * others : 0);

        p->by_price[b] = price_sorts_elsewhere(q) && read_by_price(q, walk, in, &p->est);
        p->fewer_by_price[b] = in < walk;
    }
}

/*
 * The same choice for the driver's variants of a search, each taken to hold an equal share
 * of the prefix's entries, a share of them in the price range as of all products, and the
 * categories and other words as independent filters.
 */
static void choose_variants(struct plan *p, const struct fl_listing *q, double total,
                            double in_categories)
{
    const struct word_plan *w = &p->w[0];
    double entries = w->rows / (double)(w->n_variants ? w->n_variants : 1);
    double in_price =
        fraction(fl_catalog_stats_count(FL_STR(""), q->min_cents, q->max_cents), total);
    double others = fraction(in_categories, total), walk_est = 0, est = 0;
    bool by_price;

    for (size_t i = 1; i < p->n_words; i++)
        others *= fraction(w[i].rows, total);
    by_price = read_by_price(q, walk_entries(q, entries, in_price * others), entries * in_price,
                             &walk_est);
    for (size_t v = 0; v < w->n_variants && v < VARIANTS_MAX; v++) {
        p->by_price[v] = by_price;
        est += walk_est;
    }
    if (by_price) {
        p->est = est;
        p->driver_whole = entries * in_price * (double)w->n_variants;
    }
}

/* The share of products that has every word, the words taken as independent. */
static double words_share(const struct plan *p, double total)
{
    double share = 1;

    for (size_t i = 0; i < p->n_words; i++)
        share *= fraction(p->w[i].rows, total);
    return share;
}

/* Plans the page: p->kind, and the words in p->w rarest first. *none when nothing matches. */
static enum fl_err plan(struct fl_db *db, struct fl_arena *arena, const struct fl_listing *q,
                        struct plan *p, bool *none)
{
    double total, in_categories = 0;
    enum fl_err err;

    *none = false;
    p->n_words = q->n_words;
    p->kind = PLAN_SCAN;
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
    if (p->kind == PLAN_TERMS && price_sorts_elsewhere(q))
        choose_variants(p, q, total, in_categories);
    if (p->kind == PLAN_SCAN && price_sorts_elsewhere(q))
        choose_listing(p, q, words_share(p, total));
    return choose_probes(db, p, total);
}

struct rows {
    struct fl_arena *arena;
    struct fl_product *out;
    size_t n, cap;
};

static struct fl_str copy(struct fl_arena *a, struct fl_str s, bool *oom)
{
    struct fl_str r = fl_arena_strdup(a, s.p ? s : FL_STR(""));

    if (r.p == NULL)
        *oom = true;
    return r;
}

static enum fl_err read_product(void *ud, const struct fl_str *c, size_t ncols)
{
    struct rows *r = ud;
    struct fl_product *p;
    bool oom = false;

    if (ncols != COLUMNS_N || r->n == r->cap)
        return FL_EDB;
    p = &r->out[r->n];
    if (fl_str_to_u64(c[0], 1, UINT64_MAX, &p->id) != FL_OK ||
        fl_str_to_u64(c[7], 0, UINT64_MAX, &p->stock) != FL_OK)
        return FL_EDB;
    p->sku = copy(r->arena, c[1], &oom);
    p->name = copy(r->arena, c[2], &oom);
    p->description = copy(r->arena, c[3], &oom);
    p->category = copy(r->arena, c[4], &oom);
    p->price = copy(r->arena, c[5], &oom);
    p->unit = copy(r->arena, c[6], &oom);
    p->producer = copy(r->arena, c[8], &oom);
    p->created_at = copy(r->arena, c[9], &oom);
    p->updated_at = copy(r->arena, c[10], &oom);
    p->sort_key = copy(r->arena, c[11], &oom);
    if (oom)
        return FL_ENOMEM;
    r->n++;
    return FL_OK;
}

/*
 * Runs plan p once, bounded to examine at most bound rows (0: no bound), its rows into r.
 * *stopped when the bound cut it short: its rows are then dropped.
 */
static enum fl_err run_plan(struct fl_db *db, struct args *a, const struct fl_listing *q,
                            const struct plan *p, uint64_t bound, struct rows *r, bool *stopped)
{
    struct fl_buf sql;
    enum fl_err err;

    a->n = 0;
    r->n = 0;
    fl_buf_init(&sql, SQL_MAX);
    build_branches(&sql, a, q, p);
    /*
     * The bound is ours, not the client's, and written in the text: MariaDB 10.11 kept a
     * bound given as a placeholder from an earlier execution of a prepared statement
     * (a statement re-executed after a larger bound tripped at once, measured).
     */
    if (bound)
        fl_buf_appendf(&sql, " ROWS EXAMINED %llu", (unsigned long long)bound);
    err = fl_buf_err(&sql) ? fl_buf_err(&sql) : fl_db_query(db, sql.p, a->a, a->n, read_product, r);
    fl_buf_free(&sql);
    *stopped = bound && fl_db_stopped(db);
    if (*stopped) {
        r->n = 0;
        err = FL_OK;
    }
    return err;
}

/* Turns every branch that had a choice of index to the other one. */
static void flip_indexes(struct plan *p)
{
    for (size_t i = 0; i < BRANCHES_MAX; i++)
        p->by_price[i] = !p->by_price[i];
}

/*
 * Probes each word that was read as a set and, when sets_too, reads as a set each word
 * that was probed, as far as the joins allow (see word_joins). Returns false when there
 * was none to turn.
 */
static bool turn_probes(struct plan *p, bool sets_too)
{
    size_t first = p->kind == PLAN_SCAN ? 0 : 1, joins = 0;
    bool turned = false;

    for (size_t i = first; i < p->n_words; i++)
        if (p->w[i].probe == PROBE_JOIN)
            joins += p->w[i].n_variants;
    for (size_t i = first; i < p->n_words; i++) {
        struct word_plan *w = &p->w[i];
        if (w->probe == PROBE_JOIN && sets_too) {
            w->probe = PROBE_SET;
            joins -= w->n_variants;
            turned = true;
        } else if (w->probe == PROBE_SET && w->n_variants <= VARIANTS_MAX &&
                   joins + w->n_variants <= JOINS_MAX) {
            w->probe = PROBE_JOIN;
            joins += w->n_variants;
            turned = true;
        }
    }
    return turned;
}

/*
 * Tries plan p turned one way (flip_probes or flip_indexes), bounded; turns it back when
 * the bound trips too. *stopped stays true when there was nothing to turn.
 */
static enum fl_err try_turned(struct fl_db *db, struct args *a, const struct fl_listing *q,
                              struct plan *p, bool (*turn)(struct plan *), uint64_t bound,
                              struct rows *r, bool *stopped)
{
    enum fl_err err;

    if (!turn(p))
        return FL_OK;
    if ((err = run_plan(db, a, q, p, bound, r, stopped)) != FL_OK || !*stopped)
        return err;
    turn(p);
    return FL_OK;
}

/* Both ways, for try_turned. */
static bool flip_probes(struct plan *p)
{
    return turn_probes(p, true);
}

/* flip_indexes as a turn that always applies (callers check there is a choice). */
static bool turn_indexes(struct plan *p)
{
    flip_indexes(p);
    return true;
}

/*
 * Reads the page by plan p, guarded against a wrong estimate: the plan is bounded to a
 * multiple of its page (and, for a listing, of its estimate); when the bound trips, the
 * plan with its words probed the other way, then with the other index for each branch,
 * are tried under the floor. After that a listing tries, under a larger bound, the plan
 * that examines the fewest rows (whatever their cost), then reads every branch's price
 * range whole (what it can match, nothing more); a search
 * gets SEARCH_ROWS_MAX or is refused (FL_EINVAL). Without a choice of index (no price
 * range, or a price sort) a listing's seek reads only what it returns and is not bounded.
 */
static enum fl_err read_page(struct fl_db *db, struct args *a, const struct fl_listing *q,
                             struct plan *p, struct rows *r)
{
    uint64_t floor = rows_floor(q), bound;
    bool choice = price_sorts_elsewhere(q) && p->kind != PLAN_RANGE, stopped = false;
    enum fl_err err;

    if (q->n_words == 0 && !choice)
        return run_plan(db, a, q, p, 0, r, &stopped);
    /* In powers of two: each bound is another statement text to prepare. */
    for (bound = floor; q->n_words == 0 && p->est > floor && bound < p->est * EST_SLACK;)
        bound *= 2;
    if ((err = run_plan(db, a, q, p, bound, r, &stopped)) != FL_OK || !stopped)
        return err;
    if ((err = try_turned(db, a, q, p, flip_probes, floor, r, &stopped)) != FL_OK || !stopped)
        return err;
    if (choice &&
        ((err = try_turned(db, a, q, p, turn_indexes, floor, r, &stopped)) != FL_OK || !stopped))
        return err;
    if (q->n_words == 0) {
        /* By the rows each branch examines, not by their cost. */
        memcpy(p->by_price, p->fewer_by_price, sizeof(p->by_price));
        if ((err = run_plan(db, a, q, p, bound * RETRY_SLACK, r, &stopped)) != FL_OK || !stopped)
            return err;
        memset(p->by_price, 1, sizeof(p->by_price));
        return run_plan(db, a, q, p, 0, r, &stopped);
    }
    /*
     * The last try probes every word it can when a word drives: a probe costs a lookup per
     * entry of the rarest word, where a set costs every entry of a commoner one. A scan of
     * products keeps its sets, read once rather than probed on every product.
     */
    if (p->kind != PLAN_SCAN)
        turn_probes(p, false);
    if ((err = run_plan(db, a, q, p, SEARCH_ROWS_MAX, r, &stopped)) != FL_OK || !stopped)
        return err;
    fl_log(FL_LOG_INFO, "event=search_too_broad words=%zu rows_examined_max=%d", q->n_words,
           SEARCH_ROWS_MAX);
    return FL_EINVAL;
}

enum fl_err fl_catalog_list(struct fl_db *db, struct fl_arena *arena, const struct fl_listing *q,
                            struct fl_product **out, size_t *n_out, bool *has_more)
{
    struct word_plan w[FL_CATALOG_WORDS_MAX];
    struct plan p = {.w = w};
    struct rows rows = {.arena = arena, .cap = q->limit + 1};
    struct args *a = fl_arena_alloc(arena, sizeof(*a));
    bool none = false;
    enum fl_err err;

    rows.out = fl_arena_alloc(arena, sizeof(*rows.out) * rows.cap);
    if (a == NULL || rows.out == NULL)
        return FL_ENOMEM;
    cents_text(a->prices[0], sizeof(a->prices[0]), q->min_cents);
    cents_text(a->prices[1], sizeof(a->prices[1]), q->max_cents);
    if ((err = plan(db, arena, q, &p, &none)) != FL_OK)
        return err;
    /* A word no product has: an empty page, no query. */
    if (!none && (err = read_page(db, a, q, &p, &rows)) != FL_OK)
        return err;
    *has_more = rows.n > q->limit;
    *n_out = rows.n > q->limit ? q->limit : rows.n;
    *out = rows.out;
    return FL_OK;
}

enum fl_err fl_catalog_get(struct fl_db *db, struct fl_arena *arena, uint64_t id,
                           struct fl_product *out)
{
    static const char sql[] = "SELECT " COLUMNS "'' FROM products p WHERE p.id = ?";
    struct rows rows = {.arena = arena, .out = out, .cap = 1};
    struct fl_db_arg a = FL_DB_ARG_U64(id);
    enum fl_err err = fl_db_query(db, sql, &a, 1, read_product, &rows);

    if (err == FL_OK && rows.n == 0)
        err = FL_ENOTFOUND;
    return err;
}

/* ---- writes ---- */

struct word_set {
    struct fl_str w[256]; /* distinct words, in first-seen order; borrowed from text */
    char bytes[256 * FL_SEARCH_WORD_MAX_BYTES];
    size_t n, used;
};

static int add_word(void *ud, struct fl_str word)
{
    struct word_set *set = ud;

    for (size_t i = 0; i < set->n; i++)
        if (fl_str_eq(set->w[i], word))
            return 0;
    if (set->n == sizeof(set->w) / sizeof(set->w[0]))
        return 1; /* the first 256 distinct words are searchable; more is not a product */
    memcpy(set->bytes + set->used, word.p, word.len);
    set->w[set->n++] = (struct fl_str){set->bytes + set->used, word.len};
    set->used += word.len;
    return 0;
}

enum fl_err fl_catalog_index_words(struct fl_db *db, uint64_t id, struct fl_str name,
                                   struct fl_str description)
{
    static const char del[] = "DELETE FROM product_words WHERE product_id = ?";
    struct fl_db_arg args[WORDS_PER_INSERT + 1];
    struct word_set *set = malloc(sizeof(*set));
    struct fl_buf sql;
    enum fl_err err;

    if (set == NULL)
        return FL_ENOMEM;
    set->n = set->used = 0;
    fl_search_words(name, add_word, set);
    fl_search_words(description, add_word, set);
    /* In byte order: concurrent writers then take the vocabulary's locks in one order. */
    qsort(set->w, set->n, sizeof(set->w[0]), fl_str_cmp);
    args[0] = FL_DB_ARG_U64(id);
    err = fl_db_exec(db, del, args, 1, NULL, NULL);
    fl_buf_init(&sql, 4096);
    for (size_t at = 0; err == FL_OK && at < set->n; at += WORDS_PER_INSERT) {
        size_t k = set->n - at < WORDS_PER_INSERT ? set->n - at : WORDS_PER_INSERT;
        fl_buf_reset(&sql);
        fl_buf_puts(&sql, "INSERT INTO product_words (word, product_id, created_at, price, name,"
                          " category) SELECT w.word, p.id, p.created_at, p.price, p.name,"
                          " p.category FROM products p JOIN (");
        for (size_t i = 0; i < k; i++) {
            fl_buf_puts(&sql, i ? " UNION ALL SELECT ?" : "SELECT ? AS word");
            args[i] = FL_DB_ARG_STR(set->w[at + i]);
        }
        fl_buf_puts(&sql, ") w WHERE p.id = ?");
        args[k] = FL_DB_ARG_U64(id);
        err = fl_buf_err(&sql) ? fl_buf_err(&sql) : fl_db_exec(db, sql.p, args, k + 1, NULL, NULL);
        fl_buf_reset(&sql);
        fl_buf_puts(&sql, "INSERT IGNORE INTO vocabulary (word) VALUES ");
        for (size_t i = 0; i < k; i++)
            fl_buf_puts(&sql, i ? ",(?)" : "(?)");
        if (err == FL_OK)
            err = fl_buf_err(&sql) ? fl_buf_err(&sql) : fl_db_exec(db, sql.p, args, k, NULL, NULL);
    }
    fl_buf_free(&sql);
    free(set);
    return err;
}

enum fl_err fl_catalog_sync_words(struct fl_db *db, uint64_t id)
{
    static const char sql[] =
        "UPDATE product_words w JOIN products p ON p.id = w.product_id SET w.price = p.price,"
        " w.name = p.name, w.category = p.category WHERE w.product_id = ?";
    struct fl_db_arg a = FL_DB_ARG_U64(id);

    return fl_db_exec(db, sql, &a, 1, NULL, NULL);
}

enum fl_err fl_catalog_create(struct fl_db *db, const struct fl_product_input *in, uint64_t *id)
{
    static const char sql[] =
        "INSERT INTO products (sku, name, description, category, price, unit, stock, producer,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6),"
        " UTC_TIMESTAMP(6))";
    struct fl_db_arg a[8] = {
        FL_DB_ARG_STR(in->sku),
        FL_DB_ARG_STR(in->name),
        FL_DB_ARG_STR(in->description.p ? in->description : FL_STR("")),
        FL_DB_ARG_STR(in->category),
        FL_DB_ARG_STR(in->price),
        FL_DB_ARG_STR(in->unit),
        FL_DB_ARG_U64(in->has_stock ? in->stock : 0),
        FL_DB_ARG_STR(in->producer),
    };
    enum fl_err err = fl_db_begin(db);

    if (err != FL_OK)
        return err;
    err = fl_db_exec(db, sql, a, 8, NULL, id);
    if (err == FL_OK)
        err = fl_catalog_index_words(db, *id, in->name, in->description);
    if (err == FL_OK)
        err = fl_db_commit(db);
    else
        fl_db_rollback(db);
    return err;
}

struct texts {
    struct fl_buf name, description;
    bool found;
};

static enum fl_err read_texts(void *ud, const struct fl_str *c, size_t ncols)
{
    struct texts *t = ud;

    if (ncols != 2)
        return FL_EDB;
    fl_buf_put(&t->name, c[0].p ? c[0] : FL_STR(""));
    fl_buf_put(&t->description, c[1].p ? c[1] : FL_STR(""));
    t->found = true;
    return fl_buf_err(&t->name) ? fl_buf_err(&t->name) : fl_buf_err(&t->description);
}

enum fl_err fl_catalog_update(struct fl_db *db, uint64_t id, const struct fl_product_input *in)
{
    static const char lock[] = "SELECT name, description FROM products WHERE id = ? FOR UPDATE";
    static const struct {
        const char *column;
        size_t offset;
    } fields[] = {
        {"name", offsetof(struct fl_product_input, name)},
        {"description", offsetof(struct fl_product_input, description)},
        {"category", offsetof(struct fl_product_input, category)},
        {"price", offsetof(struct fl_product_input, price)},
        {"unit", offsetof(struct fl_product_input, unit)},
        {"producer", offsetof(struct fl_product_input, producer)},
    };
    struct fl_db_arg a[10];
    struct texts t = {.found = false};
    struct fl_buf sql;
    size_t n = 0;
    enum fl_err err;

    fl_buf_init(&sql, 1024);
    fl_buf_init(&t.name, 4096);
    fl_buf_init(&t.description, 16384);
    fl_buf_puts(&sql, "UPDATE products SET updated_at = UTC_TIMESTAMP(6)");
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const struct fl_str *v = (const struct fl_str *)((const char *)in + fields[i].offset);
        if (v->p == NULL)
            continue;
        fl_buf_appendf(&sql, ", %s = ?", fields[i].column);
        a[n++] = FL_DB_ARG_STR(*v);
    }
    if (in->has_stock) {
        fl_buf_puts(&sql, ", stock = ?");
        a[n++] = FL_DB_ARG_U64(in->stock);
    }
    fl_buf_puts(&sql, " WHERE id = ?");
    a[n++] = FL_DB_ARG_U64(id);

    if ((err = fl_db_begin(db)) != FL_OK)
        goto out;
    err = fl_db_query(db, lock, &a[n - 1], 1, read_texts, &t);
    if (err == FL_OK && !t.found)
        err = FL_ENOTFOUND;
    if (err == FL_OK)
        err = fl_buf_err(&sql) ? fl_buf_err(&sql) : fl_db_exec(db, sql.p, a, n, NULL, NULL);
    if (err == FL_OK && (in->name.p || in->description.p))
        err = fl_catalog_index_words(db, id, in->name.p ? in->name : fl_buf_str(&t.name),
                                     in->description.p ? in->description
                                                       : fl_buf_str(&t.description));
    else if (err == FL_OK && (in->price.p || in->category.p))
        err = fl_catalog_sync_words(db, id);
    if (err == FL_OK)
        err = fl_db_commit(db);
    else
        fl_db_rollback(db);
out:
    fl_buf_free(&sql);
    fl_buf_free(&t.name);
    fl_buf_free(&t.description);
    return err;
}
