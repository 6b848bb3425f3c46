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

#include "fl_crypto.h"
#include "fl_search.h"

#define COLUMNS_N 12
#define WORDS_PER_INSERT 32
#define VARIANTS_MAX 16  /* a prefix matching more indexed words is read as one range */
#define VARIANTS_LIMIT "17"
#define JOINS_MAX 24     /* probe joins a statement may hold (MariaDB allows 61 tables) */
#define SAMPLE_ROWS "100" /* driver entries read to see how often another word goes with it */

struct sort_spec {
    const char *name;
    char code;                /* the sort's letter inside a cursor */
    const char *column;       /* sort key column */
    bool desc;
    const char *index;        /* covering index without / with a category */
    const char *cat_index;
    const char *word_index;   /* product_words' (word, key, product_id) index */
    const char *key_text;     /* the key as cursor text, from alias p */
    const char *first_key;    /* sentinel before the first row */
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
                           "ix_products_cat_price", "ix_product_words_price", "p.price", "-1",
                           0},
    [FL_SORT_PRICE_DESC] = {"price_desc", 'q', "price", true, "ix_products_price",
                            "ix_products_cat_price", "ix_product_words_price", "p.price",
                            "100000000", UINT64_MAX},
    [FL_SORT_NAME_ASC] = {"name_asc", 'a', "name", false, "ix_products_name",
                          "ix_products_cat_name", "ix_product_words_name", "p.name", "", 0},
};

/* A product's columns, in read_product's order; the sort key follows as the last one. */
#define COLUMNS                                                                                \
    "p.id, p.sku, p.name, p.description, p.category, p.price, p.unit, p.stock, p.producer, "  \
    "DATE_FORMAT(p.created_at, '%Y-%m-%dT%H:%i:%s.%fZ'), "                                    \
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
    struct fl_str pattern;                  /* "w%" */
    double rows;                            /* estimated index entries with the prefix */
    struct fl_str variants[VARIANTS_MAX];   /* the indexed words with the prefix ... */
    size_t n_variants;                      /* ... or VARIANTS_MAX + 1: too many to list */
    enum probe probe;                       /* how it is checked when it does not drive */
};

/*
 * The most placeholders a statement holds: a branch per driver variant (or per category),
 * each with its word, categories, price range, keyset, probe joins, other words and LIMIT.
 */
#define ARGS_MAX                                                                              \
    (VARIANTS_MAX * (1 + FL_CATALOG_CATEGORIES_MAX + 2 + 3 + JOINS_MAX +                      \
                     FL_CATALOG_WORDS_MAX + 1) +                                              \
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
    PLAN_TERMS,   /* the rarest word's index entries in listing order, one branch a variant */
    PLAN_RANGE,   /* the rarest word's whole prefix range, sorted (a rare, broad prefix) */
    PLAN_SCAN,    /* the products listing index, one branch a category, words as probes */
    PLAN_PRICES,  /* a narrow price range read through the price index, sorted */
};

struct plan {
    enum plan_kind kind;
    struct word_plan *w; /* rarest first; w[0] drives PLAN_TERMS and PLAN_RANGE */
    size_t n_words;
    double page_entries; /* driver entries a page needs if each had the other words */
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
static void keyset(struct fl_buf *sql, struct args *a, const struct fl_listing *q,
                   const char *x, const char *id)
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
            /* The prefix's range holds exactly its variants' entries. */
            fl_buf_appendf(sql,
                           " JOIN (SELECT DISTINCT product_id FROM product_words WHERE word "
                           "LIKE ?) m%zu ON m%zu.product_id = x.%s",
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
                fl_buf_appendf(sql, "%sb%zu_%zu.product_id IS NOT NULL", v ? " OR " : " AND (",
                               i, v);
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
 * One branch: (id, k) of up to limit+1 rows in listing order from x, a covering index of
 * products (PLAN_SCAN: branch is a category, or 0 without one; PLAN_PRICES: the price
 * range, sorted) or of product_words (branch is the driver's variant; PLAN_RANGE: its
 * whole prefix).
 */
static void branch(struct fl_buf *sql, struct args *a, const struct fl_listing *q,
                   const struct plan *p, size_t b)
{
    const struct sort_spec *s = &sorts[q->sort];
    bool prices = p->kind == PLAN_PRICES, scan = p->kind == PLAN_SCAN || prices;
    const char *id = scan ? "id" : "product_id";
    char k[32];

    /* A range holds a product once per word it has with the prefix: DISTINCT. */
    fl_buf_appendf(sql, "(SELECT STRAIGHT_JOIN%s x.%s AS id, x.%s AS k FROM %s x FORCE INDEX (%s)",
                   p->kind == PLAN_RANGE ? " DISTINCT" : "", id, s->column,
                   scan ? "products" : "product_words",
                   prices ? "ix_products_price"
                   : scan ? (q->n_categories ? s->cat_index : s->index)
                          : s->word_index);
    word_joins(sql, a, p, id);
    if (prices) {
        fl_buf_puts(sql, " WHERE 1=1");
        categories_in(sql, a, q, "x");
    } else if (scan && q->n_categories) {
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
 * A UNION of branches (one for PLAN_RANGE and PLAN_PRICES), merged by the outer ORDER BY,
 * then a join back on the primary key for the page's rows only. UNION, not UNION ALL: two
 * spellings of a category ("fruits,FRUITS") are one to the column's collation, and a
 * product with two variants of a prefix ("tomato", "tomatoes") is one row.
 */
static void build_branches(struct fl_buf *sql, struct args *a, const struct fl_listing *q,
                           const struct plan *p)
{
    size_t n = p->kind == PLAN_TERMS ? p->w[0].n_variants
             : p->kind == PLAN_SCAN && q->n_categories ? q->n_categories
                                                       : 1;

    fl_buf_puts(sql, "SELECT ");
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

static enum fl_err estimate_categories(struct fl_db *db, const struct fl_listing *q,
                                       double *out)
{
    struct args a = {.n = 0};
    struct fl_buf sql;
    enum fl_err err;

    fl_buf_init(&sql, 1024);
    fl_buf_puts(&sql, "EXPLAIN SELECT 1 FROM products x FORCE INDEX (ix_products_cat_price)"
                      " WHERE 1=1");
    categories_in(&sql, &a, q, "x");
    err = fl_buf_err(&sql) ? fl_buf_err(&sql) : estimate(db, sql.p, a.a, a.n, out);
    fl_buf_free(&sql);
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
static void choose(struct plan *p, double total, double in_categories,
                   const struct fl_listing *q)
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

/* True when the listing filters by price but sorts by something else. */
static bool price_sorts_elsewhere(const struct fl_listing *q)
{
    return (q->min_cents > 0 || q->max_cents < FL_CATALOG_PRICE_MAX_CENTS) &&
           q->sort != FL_SORT_PRICE_ASC && q->sort != FL_SORT_PRICE_DESC;
}

/*
 * A price range under another sort: the scan reads (limit+1)/f entries of its index to find
 * a page; reading the f*N entries in the range and sorting them is cheaper when the range
 * is narrow. Measured on 1M products, per entry: 0.4 us scanned; 0.9 us read from the price
 * index with created_at and sorted; 2.9 us for the name sort, which reads each row.
 */
static enum fl_err narrow_prices(struct fl_db *db, struct args *a, const struct fl_listing *q,
                                 double total, bool *out)
{
    static const char sql[] = "EXPLAIN SELECT 1 FROM products FORCE INDEX (ix_products_price) "
                              "WHERE price BETWEEN ? AND ?";
    struct fl_db_arg b[2] = {FL_DB_ARG_STR(fl_str_c(a->prices[0])),
                             FL_DB_ARG_STR(fl_str_c(a->prices[1]))};
    double in_range = 0;
    enum fl_err err = estimate(db, sql, b, 2, &in_range);

    if (in_range < 1)
        in_range = 1;
    *out = in_range * (q->sort == FL_SORT_NAME_ASC ? 7 : 2) < (q->limit + 1.0) * total / in_range;
    return err;
}

/* Plans the page: p->kind, and the words in p->w rarest first. *none when nothing matches. */
static enum fl_err plan(struct fl_db *db, struct fl_arena *arena, const struct fl_listing *q,
                        struct args *a, struct plan *p, bool *none)
{
    static const char products[] = "EXPLAIN SELECT 1 FROM products";
    double total = 1, in_categories;
    bool narrow = false;
    enum fl_err err;

    *none = false;
    p->n_words = q->n_words;
    p->kind = PLAN_SCAN;
    if (q->n_words == 0 && !price_sorts_elsewhere(q))
        return FL_OK;
    if ((err = estimate(db, products, NULL, 0, &total)) != FL_OK)
        return err;
    if (total < 1)
        total = 1;
    if (q->n_words == 0) {
        if ((err = narrow_prices(db, a, q, total, &narrow)) == FL_OK && narrow)
            p->kind = PLAN_PRICES;
        return err;
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
    in_categories = total;
    if (q->n_categories && (err = estimate_categories(db, q, &in_categories)) != FL_OK)
        return err;
    choose(p, total, in_categories, q);
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

enum fl_err fl_catalog_list(struct fl_db *db, struct fl_arena *arena, const struct fl_listing *q,
                            struct fl_product **out, size_t *n_out, bool *has_more)
{
    struct word_plan w[FL_CATALOG_WORDS_MAX];
    struct plan p = {.w = w};
    struct rows rows = {.arena = arena, .cap = q->limit + 1};
    struct args *a = fl_arena_alloc(arena, sizeof(*a));
    struct fl_buf sql;
    bool none = false;
    enum fl_err err;

    rows.out = fl_arena_alloc(arena, sizeof(*rows.out) * rows.cap);
    if (a == NULL || rows.out == NULL)
        return FL_ENOMEM;
    a->n = 0;
    cents_text(a->prices[0], sizeof(a->prices[0]), q->min_cents);
    cents_text(a->prices[1], sizeof(a->prices[1]), q->max_cents);
    if ((err = plan(db, arena, q, a, &p, &none)) != FL_OK)
        return err;
    fl_buf_init(&sql, SQL_MAX);
    if (none)
        ; /* a word no product has: an empty page, no query */
    else
        build_branches(&sql, a, q, &p);
    if (fl_buf_err(&sql))
        err = fl_buf_err(&sql);
    else if (!none)
        err = fl_db_query(db, sql.p, a->a, a->n, read_product, &rows);
    fl_buf_free(&sql);
    if (err != FL_OK)
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
        err = fl_buf_err(&sql) ? fl_buf_err(&sql)
                               : fl_db_exec(db, sql.p, args, k + 1, NULL, NULL);
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
        FL_DB_ARG_STR(in->sku),   FL_DB_ARG_STR(in->name),
        FL_DB_ARG_STR(in->description.p ? in->description : FL_STR("")),
        FL_DB_ARG_STR(in->category), FL_DB_ARG_STR(in->price),
        FL_DB_ARG_STR(in->unit),  FL_DB_ARG_U64(in->has_stock ? in->stock : 0),
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
