/* SPDX-License-Identifier: MIT */
/*
 * Catalogue queries. Every listing is a keyset seek on (sort key, id), written in the split
 * form MariaDB range-scans (`k < ? OR (k = ? AND id < ?)`; it does not range-scan row
 * constructors), with the index forced so a plan never depends on statistics:
 *  - one covering-index branch per category (a UNION of `LIMIT n+1` branches, merged by
 *    the outer ORDER BY), then a join back on the primary key for the page's rows only;
 *  - with search words, the planner asks the optimizer how many index entries each word
 *    prefix has and compares two costs: a rare word drives the query from product_words
 *    and sorts its few matches; common words ride along the listing scan as probes of
 *    (product_id, word), rarest first, which find a match every few rows.
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

struct sort_spec {
    const char *name;
    char code;                /* the sort's letter inside a cursor */
    const char *column;       /* sort key column */
    bool desc;
    const char *index;        /* covering index without / with a category */
    const char *cat_index;
    const char *key_text;     /* the key as cursor text, from alias p */
    const char *first_key;    /* sentinel before the first row */
    uint64_t first_id;
};

static const struct sort_spec sorts[FL_SORT__MAX] = {
    [FL_SORT_NEWEST] = {"newest", 'n', "created_at", true, "ix_products_created",
                        "ix_products_cat_created",
                        "DATE_FORMAT(p.created_at, '%Y-%m-%d %H:%i:%s.%f')",
                        "9999-12-31 23:59:59.999999", UINT64_MAX},
    [FL_SORT_OLDEST] = {"oldest", 'o', "created_at", false, "ix_products_created",
                        "ix_products_cat_created",
                        "DATE_FORMAT(p.created_at, '%Y-%m-%d %H:%i:%s.%f')",
                        "1000-01-01 00:00:00.000000", 0},
    [FL_SORT_PRICE_ASC] = {"price_asc", 'p', "price", false, "ix_products_price",
                           "ix_products_cat_price", "p.price", "-1", 0},
    [FL_SORT_PRICE_DESC] = {"price_desc", 'q', "price", true, "ix_products_price",
                            "ix_products_cat_price", "p.price", "100000000", UINT64_MAX},
    [FL_SORT_NAME_ASC] = {"name_asc", 'a', "name", false, "ix_products_name",
                          "ix_products_cat_name", "p.name", "", 0},
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

/* True when key is "YYYY-MM-DD HH:MM:SS.ffffff" with plausible field values. */
static bool valid_datetime(struct fl_str k)
{
    static const char shape[] = "dddd-dd-dd dd:dd:dd.dddddd";

    if (k.len != sizeof(shape) - 1)
        return false;
    for (size_t i = 0; i < k.len; i++) {
        bool digit = k.p[i] >= '0' && k.p[i] <= '9';
        if (shape[i] == 'd' ? !digit : k.p[i] != shape[i])
            return false;
    }
    return !(k.p[5] > '1' || (k.p[5] == '1' && k.p[6] > '2') || k.p[8] > '3' ||
             k.p[11] > '2' || k.p[14] > '5' || k.p[17] > '5');
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
        if (key.len == 0 || key.len > 200 * 4 || memchr(key.p, '\0', key.len))
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

struct args {
    struct fl_db_arg a[512];
    size_t n;
    char prices[2][24];
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

/* Appends "AND (k < ? OR (k = ? AND id < ?))" for column prefix pfx ("" or "p."). */
static void keyset(struct fl_buf *sql, struct args *a, const struct fl_listing *q,
                   const char *pfx)
{
    const struct sort_spec *s = &sorts[q->sort];
    const char *op = s->desc ? "<" : ">";
    struct fl_str key = q->has_cursor ? q->after.key : fl_str_c(s->first_key);
    uint64_t id = q->has_cursor ? q->after.id : s->first_id;

    fl_buf_appendf(sql, " AND (%s%s %s ? OR (%s%s = ? AND %sid %s ?))", pfx, s->column, op, pfx,
                   s->column, pfx, op);
    arg(a, FL_DB_ARG_STR(key));
    arg(a, FL_DB_ARG_STR(key));
    arg(a, FL_DB_ARG_U64(id));
}

static void price_range(struct fl_buf *sql, struct args *a, const char *pfx)
{
    fl_buf_appendf(sql, " AND %sprice BETWEEN ? AND ?", pfx);
    arg(a, FL_DB_ARG_STR(fl_str_c(a->prices[0])));
    arg(a, FL_DB_ARG_STR(fl_str_c(a->prices[1])));
}

/* A word condition for each word but skip (SIZE_MAX: none skipped). */
static void word_probes(struct fl_buf *sql, struct args *a, const struct fl_listing *q,
                        size_t skip, const char *id_expr, struct fl_str *patterns)
{
    for (size_t i = 0; i < q->n_words; i++) {
        if (i == skip)
            continue;
        /* A scalar subquery, not EXISTS: MariaDB turns EXISTS into a semi-join that
         * materialises every product with the word, which is what a common word must not
         * cost. This form probes (product_id, word) once per row scanned. */
        fl_buf_appendf(sql,
                       " AND (SELECT 1 FROM product_words w FORCE INDEX "
                       "(ix_product_words_product) WHERE w.product_id = %s AND w.word LIKE ? "
                       "LIMIT 1) IS NOT NULL",
                       id_expr);
        arg(a, FL_DB_ARG_STR(patterns[i]));
    }
}

/* " ORDER BY <key> <dir>, id <dir> LIMIT n+1": one page and the row that tells if more follow. */
static void order_limit(struct fl_buf *sql, struct args *a, const struct fl_listing *q,
                        const char *pfx, const char *key)
{
    const char *dir = sorts[q->sort].desc ? "DESC" : "ASC";

    fl_buf_appendf(sql, " ORDER BY %s%s %s, %sid %s LIMIT ?", pfx, key, dir, pfx, dir);
    arg(a, FL_DB_ARG_U64(q->limit + 1));
}

/* The listing scan: covering-index branches, then a join back for the page's rows. */
static void build_scan(struct fl_buf *sql, struct args *a, const struct fl_listing *q,
                       struct fl_str *patterns)
{
    const struct sort_spec *s = &sorts[q->sort];
    size_t branches = q->n_categories ? q->n_categories : 1;

    fl_buf_puts(sql, "SELECT ");
    fl_buf_puts(sql, columns);
    fl_buf_puts(sql, s->key_text);
    fl_buf_puts(sql, " FROM (");
    for (size_t i = 0; i < branches; i++) {
        /* UNION, not UNION ALL: two spellings of one category ("fruits,FRUITS") are one
         * category to the column's collation, and their rows must not come twice. */
        if (i)
            fl_buf_puts(sql, " UNION ");
        fl_buf_appendf(sql, "(SELECT id, %s AS k FROM products FORCE INDEX (%s) WHERE 1=1",
                       s->column, q->n_categories ? s->cat_index : s->index);
        if (q->n_categories) {
            fl_buf_puts(sql, " AND category = ?");
            arg(a, FL_DB_ARG_STR(q->categories[i]));
        }
        price_range(sql, a, "");
        keyset(sql, a, q, "");
        word_probes(sql, a, q, SIZE_MAX, "products.id", patterns);
        order_limit(sql, a, q, "", s->column);
        fl_buf_putc(sql, ')');
    }
    fl_buf_puts(sql, ") k JOIN products p ON p.id = k.id");
    order_limit(sql, a, q, "k.", "k");
}

/*
 * The narrow plans: a small candidate set, filtered, sorted, cut. The candidates are the
 * rarest word's products (driver < n_words), or, without words, the products in a narrow
 * price range read through the price index (driver == SIZE_MAX).
 */
static void build_narrow(struct fl_buf *sql, struct args *a, const struct fl_listing *q,
                         struct fl_str *patterns, size_t driver)
{
    const struct sort_spec *s = &sorts[q->sort];

    fl_buf_puts(sql, "SELECT ");
    fl_buf_puts(sql, columns);
    fl_buf_puts(sql, s->key_text);
    if (driver == SIZE_MAX) {
        fl_buf_puts(sql, " FROM products p FORCE INDEX (ix_products_price) WHERE 1=1");
    } else {
        fl_buf_puts(sql, " FROM (SELECT DISTINCT product_id FROM product_words WHERE word LIKE ?)"
                         " d JOIN products p ON p.id = d.product_id WHERE 1=1");
        arg(a, FL_DB_ARG_STR(patterns[driver]));
    }
    for (size_t i = 0; i < q->n_categories; i++) {
        fl_buf_puts(sql, i ? ", ?" : " AND p.category IN (?");
        arg(a, FL_DB_ARG_STR(q->categories[i]));
    }
    if (q->n_categories)
        fl_buf_putc(sql, ')');
    price_range(sql, a, "p.");
    keyset(sql, a, q, "p.");
    word_probes(sql, a, q, driver, "p.id", patterns);
    order_limit(sql, a, q, "p.", s->column);
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
 * Estimates rows cheaply (about 0.1 ms, no scan): products in the table, and index entries
 * whose word starts with a pattern's prefix. Estimates run up to twice the truth for large
 * ranges and are exact for small ones, which is all a choice between two plans needs.
 */
static enum fl_err estimate(struct fl_db *db, const struct fl_str *pattern, double *out)
{
    static const char words[] = "EXPLAIN SELECT 1 FROM product_words WHERE word LIKE ?";
    static const char products[] = "EXPLAIN SELECT 1 FROM products";
    struct fl_db_arg a = FL_DB_ARG_STR(pattern ? *pattern : FL_STR(""));
    uint64_t n = 0;
    enum fl_err err = fl_db_query(db, pattern ? words : products, &a, pattern ? 1 : 0,
                                  read_estimate, &n);

    *out = (double)n;
    return err;
}

/* True when the listing filters by price but sorts by something else. */
static bool price_sorts_elsewhere(const struct fl_listing *q)
{
    return (q->min_cents > 0 || q->max_cents < FL_CATALOG_PRICE_MAX_CENTS) &&
           q->sort != FL_SORT_PRICE_ASC && q->sort != FL_SORT_PRICE_DESC;
}

/* Estimated products in the listing's price range (a->prices holds its bounds). */
static enum fl_err estimate_prices(struct fl_db *db, struct args *a, double *out)
{
    static const char sql[] = "EXPLAIN SELECT 1 FROM products FORCE INDEX (ix_products_price) "
                              "WHERE price BETWEEN ? AND ?";
    struct fl_db_arg b[2] = {FL_DB_ARG_STR(fl_str_c(a->prices[0])),
                             FL_DB_ARG_STR(fl_str_c(a->prices[1]))};
    uint64_t n = 0;
    enum fl_err err = fl_db_query(db, sql, b, 2, read_estimate, &n);

    *out = (double)n;
    return err;
}

struct word_plan {
    struct fl_str pattern;
    double rows;
};

static int by_rows(const void *a, const void *b)
{
    const struct word_plan *x = a, *y = b;

    return (x->rows > y->rows) - (x->rows < y->rows);
}

/* Probe cost per candidate, with probes in order of selectivity (each runs only if the
 * previous ones matched): 1 + f1 + f1 f2 + ... probes from word `from` on. */
static double probes(const struct word_plan *w, size_t from, size_t n, double total)
{
    double expected = 0, pass = 1;

    for (size_t i = from; i < n; i++) {
        expected += pass;
        pass *= w[i].rows / total < 1 ? w[i].rows / total : 1;
    }
    return expected;
}

/*
 * Chooses between the two search plans by estimated cost, in microseconds as measured
 * here: the scan reads (limit+1) / (f1 f2 ...) covering-index entries (~1 us each) and
 * probes each; the rare plan fetches every product of the rarest word (~3 us each) and
 * probes the others. True for the rare plan.
 */
static bool rare_is_cheaper(const struct word_plan *w, size_t n, double total, unsigned limit)
{
    double scanned = limit + 1.0, pass = 1;

    for (size_t i = 0; i < n; i++)
        pass *= w[i].rows / total < 1 ? (w[i].rows > 0 ? w[i].rows / total : 1e-9) : 1;
    scanned /= pass;
    if (scanned > total)
        scanned = total;
    return w[0].rows * (3 + 4 * probes(w, 1, n, total)) < scanned * (1 + 4 * probes(w, 0, n, total));
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
    struct fl_str patterns[FL_CATALOG_WORDS_MAX];
    struct rows rows = {.arena = arena, .cap = q->limit + 1};
    struct args *a = fl_arena_alloc(arena, sizeof(*a));
    struct fl_buf sql;
    double total = 0;
    bool narrow_prices = false;
    enum fl_err err = FL_OK;

    rows.out = fl_arena_alloc(arena, sizeof(*rows.out) * rows.cap);
    if (a == NULL || rows.out == NULL)
        return FL_ENOMEM;
    a->n = 0;
    cents_text(a->prices[0], sizeof(a->prices[0]), q->min_cents);
    cents_text(a->prices[1], sizeof(a->prices[1]), q->max_cents);
    for (size_t i = 0; i < q->n_words; i++) {
        char *p = fl_arena_alloc(arena, q->words[i].len + 2);
        if (p == NULL)
            return FL_ENOMEM;
        memcpy(p, q->words[i].p, q->words[i].len);
        memcpy(p + q->words[i].len, "%", 2);
        w[i].pattern = (struct fl_str){p, q->words[i].len + 1};
        if ((err = estimate(db, &w[i].pattern, &w[i].rows)) != FL_OK)
            return err;
    }
    if ((q->n_words || price_sorts_elsewhere(q)) && (err = estimate(db, NULL, &total)) != FL_OK)
        return err;
    if (!q->n_words && price_sorts_elsewhere(q)) {
        /* A price range under another sort: the scan reads (limit+1)/f entries of its
         * index to find a page; reading the f*N products in the range and sorting them is
         * cheaper when the range is narrow (measured: ~5 us a row against ~0.8 us an
         * entry). */
        double in_range = 0;
        if ((err = estimate_prices(db, a, &in_range)) != FL_OK)
            return err;
        narrow_prices = in_range * 6 < (q->limit + 1.0) * (total > 1 ? total : 1) /
                                           (in_range > 1 ? in_range : 1);
    }
    /* Rarest first: the rare plan's driver, and the cheapest order for probes. */
    qsort(w, q->n_words, sizeof(w[0]), by_rows);
    for (size_t i = 0; i < q->n_words; i++)
        patterns[i] = w[i].pattern;
    fl_buf_init(&sql, 64 << 10);
    if (q->n_words && rare_is_cheaper(w, q->n_words, total > 1 ? total : 1, q->limit))
        build_narrow(&sql, a, q, patterns, 0);
    else if (narrow_prices)
        build_narrow(&sql, a, q, patterns, SIZE_MAX);
    else
        build_scan(&sql, a, q, patterns);
    if (fl_buf_err(&sql))
        err = fl_buf_err(&sql);
    else
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
    struct fl_db_arg args[2 * WORDS_PER_INSERT];
    struct word_set *set = malloc(sizeof(*set));
    struct fl_buf sql;
    enum fl_err err;

    if (set == NULL)
        return FL_ENOMEM;
    set->n = set->used = 0;
    fl_search_words(name, add_word, set);
    fl_search_words(description, add_word, set);
    args[0] = FL_DB_ARG_U64(id);
    err = fl_db_exec(db, del, args, 1, NULL, NULL);
    fl_buf_init(&sql, 4096);
    for (size_t at = 0; err == FL_OK && at < set->n; at += WORDS_PER_INSERT) {
        size_t k = set->n - at < WORDS_PER_INSERT ? set->n - at : WORDS_PER_INSERT;
        fl_buf_reset(&sql);
        fl_buf_puts(&sql, "INSERT INTO product_words (word, product_id) VALUES ");
        for (size_t i = 0; i < k; i++) {
            fl_buf_puts(&sql, i ? ",(?,?)" : "(?,?)");
            args[2 * i] = FL_DB_ARG_STR(set->w[at + i]);
            args[2 * i + 1] = FL_DB_ARG_U64(id);
        }
        err = fl_buf_err(&sql) ? fl_buf_err(&sql)
                               : fl_db_exec(db, sql.p, args, 2 * k, NULL, NULL);
    }
    fl_buf_free(&sql);
    free(set);
    return err;
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
