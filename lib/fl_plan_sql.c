/* SPDX-License-Identifier: MIT */
/*
 * Listing statements. Every listing is a keyset seek on (sort key, id), written in the
 * split form MariaDB range-scans (`k < ? OR (k = ? AND id < ?)`; it does not range-scan
 * row constructors), with the index forced so a plan never depends on statistics, reading
 * (id, key) from covering branches (a UNION of `LIMIT n+1` branches, merged by the outer
 * ORDER BY), then joining back on the primary key for the page's rows only (a single walk
 * of products joins each row as the walk finds it, see walk_joined):
 *  - without words, one branch per category of products' (category, key, id) index;
 *  - with words, product_words holds (word, key, product_id) for every sort, so the rarest
 *    word's products come in listing order and LIMIT stops the read after a page; one
 *    branch per indexed word the prefix matches ("tomato" -> tomato, tomatoes), the other
 *    words as eq_ref probes of (product_id, word) or, when rare, a set read once (see
 *    word_joins).
 * The first page uses a sentinel key below or above every row, so first and later pages
 * share one statement shape.
 */
#include "fl_plan_sql.h"

#include <stdio.h>

#include "fl_cursor.h"

static void arg(struct fl_plan_sql_args *a, struct fl_db_arg v)
{
    if (a->n < FL_COUNTOF(a->a))
        a->a[a->n++] = v;
}

static void cents_text(char *out, size_t cap, int64_t cents)
{
    snprintf(out, cap, "%lld.%02lld", (long long)(cents / 100), (long long)(cents % 100));
}

void fl_plan_sql_args_init(struct fl_plan_sql_args *a, const struct fl_listing *q)
{
    a->n = 0;
    cents_text(a->prices[0], sizeof(a->prices[0]), q->min_cents);
    cents_text(a->prices[1], sizeof(a->prices[1]), q->max_cents);
}
/* Appends "AND (x.k < ? OR (x.k = ? AND x.<id> < ?))" for table alias x. */
static void keyset(struct fl_buf *sql, struct fl_plan_sql_args *a, const struct fl_listing *q,
                   const char *x, const char *id)
{
    const struct fl_sort_spec *s = fl_sort_spec(q->sort);
    const char *op = s->desc ? "<" : ">";
    struct fl_str key = q->has_cursor ? q->after.key : fl_str_c(s->first_key);
    uint64_t after = q->has_cursor ? q->after.id : s->first_id;
    /* A price key is a decimal's text (fl_cursor_decode checks it): bound as one. */
    struct fl_db_arg k = q->sort == FL_SORT_PRICE_ASC || q->sort == FL_SORT_PRICE_DESC
                             ? FL_DB_ARG_DECIMAL(key)
                             : FL_DB_ARG_STR(key);

    fl_buf_appendf(sql, " AND (%s.%s %s ? OR (%s.%s = ? AND %s.%s %s ?))", x, s->column, op, x,
                   s->column, x, id, op);
    arg(a, k);
    arg(a, k);
    arg(a, FL_DB_ARG_U64(after));
}

/*
 * The price filter, when the listing has one (every price is in 0..max). Bound as DECIMAL:
 * as strings, each row's price was compared as a double, converted through its text
 * (my_strtod, 5% of MariaDB's CPU in a listing miss).
 */
static void price_range(struct fl_buf *sql, struct fl_plan_sql_args *a, const struct fl_listing *q,
                        const char *x)
{
    if (q->min_cents == 0 && q->max_cents == FL_CATALOG_PRICE_MAX_CENTS)
        return;
    fl_buf_appendf(sql, " AND %s.price BETWEEN ? AND ?", x);
    arg(a, FL_DB_ARG_DECIMAL(fl_str_c(a->prices[0])));
    arg(a, FL_DB_ARG_DECIMAL(fl_str_c(a->prices[1])));
}

static void categories_in(struct fl_buf *sql, struct fl_plan_sql_args *a,
                          const struct fl_listing *q, const char *x)
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
 *  - FL_PLAN_PROBE_JOIN: a LEFT JOIN per variant, an eq_ref lookup of the unique (product_id,
 *    word) (~2 us a row read, where a dependent subquery costs ~7 us), and "one of them
 *    matched" in WHERE; a product has a word once, so a join never repeats a row;
 *  - FL_PLAN_PROBE_SET: the word's products, read once into a derived table (~0.2 us an entry)
 *    that each row looks up; for a word rare enough that reading it all costs less than
 *    probing the rows the driver is expected to read (two 1% words with no product in
 *    common: 23 ms of joins, 5 ms this way; see choose_probes);
 *  - FL_PLAN_PROBE_RANGE: a range subquery on (product_id, word), for a prefix with too many
 *    variants to list.
 */
static void word_joins(struct fl_buf *sql, struct fl_plan_sql_args *a, const struct fl_plan *p,
                       const char *id)
{
    for (size_t i = p->kind == FL_PLAN_SCAN ? 0 : 1; i < p->n_words; i++) {
        const struct fl_plan_word *w = &p->w[i];
        if (w->probe == FL_PLAN_PROBE_SET) {
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
        for (size_t v = 0; w->probe == FL_PLAN_PROBE_JOIN && v < w->n_variants; v++) {
            fl_buf_appendf(sql,
                           " LEFT JOIN product_words b%zu_%zu FORCE INDEX "
                           "(ix_product_words_product) ON b%zu_%zu.product_id = x.%s AND "
                           "b%zu_%zu.word = ?",
                           i, v, i, v, id, i, v);
            arg(a, FL_DB_ARG_STR(w->variants[v]));
        }
    }
}

static void word_conditions(struct fl_buf *sql, struct fl_plan_sql_args *a, const struct fl_plan *p,
                            const char *id)
{
    for (size_t i = p->kind == FL_PLAN_SCAN ? 0 : 1; i < p->n_words; i++) {
        const struct fl_plan_word *w = &p->w[i];
        if (w->probe == FL_PLAN_PROBE_RANGE) {
            fl_buf_appendf(sql,
                           " AND (SELECT 1 FROM product_words w FORCE INDEX "
                           "(ix_product_words_product) WHERE w.product_id = x.%s AND "
                           "w.word LIKE ? LIMIT 1) IS NOT NULL",
                           id);
            arg(a, FL_DB_ARG_STR(w->pattern));
        } else if (w->probe == FL_PLAN_PROBE_JOIN) {
            for (size_t v = 0; v < w->n_variants; v++)
                fl_buf_appendf(sql, "%sb%zu_%zu.product_id IS NOT NULL", v ? " OR " : " AND (", i,
                               v);
            fl_buf_putc(sql, ')');
        }
    }
}

/* " ORDER BY <k> <dir>, <id> <dir> LIMIT n+1": one page and the row that tells if more follow. */
static void order_limit(struct fl_buf *sql, struct fl_plan_sql_args *a, const struct fl_listing *q,
                        const char *k, const char *id)
{
    const char *dir = fl_sort_spec(q->sort)->desc ? "DESC" : "ASC";

    fl_buf_appendf(sql, " ORDER BY %s %s, %s %s LIMIT ?", k, dir, id, dir);
    arg(a, FL_DB_ARG_U64(q->limit + 1));
}

/*
 * The index branch b reads (see branch): of products (FL_PLAN_SCAN) or of product_words,
 * the sort index or (by_price) the filter's price index.
 */
static const char *branch_index(const struct fl_listing *q, const struct fl_plan *p, size_t b)
{
    const struct fl_sort_spec *s = fl_sort_spec(q->sort);
    bool scan = p->kind == FL_PLAN_SCAN;

    return scan && p->by_price[b]
               ? (q->n_categories ? "ix_products_cat_price" : "ix_products_price")
           : scan           ? (q->n_categories ? s->cat_index : s->index)
           : p->by_price[b] ? "ix_product_words_price"
                            : s->word_index;
}

/* Branch b's conditions on alias x, from " WHERE" on, and its " ORDER BY ... LIMIT ?". */
static void branch_where(struct fl_buf *sql, struct fl_plan_sql_args *a, const struct fl_listing *q,
                         const struct fl_plan *p, size_t b)
{
    bool scan = p->kind == FL_PLAN_SCAN;
    const char *id = scan ? "id" : "product_id";
    char k[32];

    if (scan && q->n_categories) {
        /* One category a branch: the (category, key, id) index is read in order. */
        fl_buf_puts(sql, " WHERE x.category = ?");
        arg(a, FL_DB_ARG_STR(q->categories[b]));
    } else if (scan) {
        fl_buf_puts(sql, " WHERE 1=1");
    } else {
        fl_buf_puts(sql, p->kind == FL_PLAN_TERMS ? " WHERE x.word = ?" : " WHERE x.word LIKE ?");
        arg(a, FL_DB_ARG_STR(p->kind == FL_PLAN_TERMS ? p->w[0].variants[b] : p->w[0].pattern));
        categories_in(sql, a, q, "x");
    }
    price_range(sql, a, q, "x");
    keyset(sql, a, q, "x", id);
    word_conditions(sql, a, p, id);
    snprintf(k, sizeof(k), "x.%s", fl_sort_spec(q->sort)->column);
    order_limit(sql, a, q, k, scan ? "x.id" : "x.product_id");
}

/*
 * One branch: (id, k) of up to limit+1 rows in listing order from x, an index of products
 * (FL_PLAN_SCAN: branch is a category, or 0 without one) or of product_words (branch is the
 * driver's variant; FL_PLAN_RANGE: its whole prefix): the sort index, walked in order, or
 * (by_price) the price range of the filter's index, read whole and sorted.
 */
static void branch(struct fl_buf *sql, struct fl_plan_sql_args *a, const struct fl_listing *q,
                   const struct fl_plan *p, size_t b)
{
    bool scan = p->kind == FL_PLAN_SCAN;

    /* A range holds a product once per word it has with the prefix: DISTINCT. */
    fl_buf_appendf(sql, "(SELECT STRAIGHT_JOIN%s x.%s AS id, x.%s AS k FROM %s x FORCE INDEX (%s)",
                   p->kind == FL_PLAN_RANGE ? " DISTINCT" : "", scan ? "id" : "product_id",
                   fl_sort_spec(q->sort)->column, scan ? "products" : "product_words",
                   branch_index(q, p, b));
    word_joins(sql, a, p, scan ? "id" : "product_id");
    branch_where(sql, a, q, p, b);
    fl_buf_putc(sql, ')');
}

/*
 * Whether the page is one walk of products' sort index without words: one category or
 * none, not a price range read whole. Its rows are then joined by primary key as the walk
 * finds them, and LIMIT stops both: no derived table to fill and read back, no second
 * sort (measured on 200,000 products, a page of 20: 0.27 ms of MariaDB CPU against 0.32 to
 * 0.33 with the derived table, with and without a price window; 0.60 against 0.65 for 100).
 * A range read whole keeps the derived table, where only (id, k) are sorted.
 */
static bool walk_joined(const struct fl_listing *q, const struct fl_plan *p)
{
    return p->kind == FL_PLAN_SCAN && q->n_words == 0 && q->n_categories <= 1 && !p->by_price[0];
}

/*
 * A UNION of branches (one for FL_PLAN_RANGE), merged by the outer ORDER BY,
 * then a join back on the primary key for the page's rows only. UNION, not UNION ALL: two
 * spellings of a category ("fruits,FRUITS") are one to the column's collation, and a
 * product with two variants of a prefix ("tomato", "tomatoes") is one row.
 */
void fl_plan_sql_build(struct fl_buf *sql, struct fl_plan_sql_args *a, const struct fl_listing *q,
                       const struct fl_plan *p)
{
    size_t n = p->kind == FL_PLAN_TERMS                     ? p->w[0].n_variants
               : p->kind == FL_PLAN_SCAN && q->n_categories ? q->n_categories
                                                            : 1;

    /* The page's ids first, then their rows: never a scan of products to find them. */
    fl_buf_puts(sql, "SELECT STRAIGHT_JOIN ");
    fl_buf_puts(sql, FL_PLAN_SQL_COLUMNS);
    fl_buf_puts(sql, fl_sort_spec(q->sort)->key_text);
    if (walk_joined(q, p)) {
        fl_buf_appendf(sql, " FROM products x FORCE INDEX (%s) JOIN products p ON p.id = x.id",
                       branch_index(q, p, 0));
        branch_where(sql, a, q, p, 0);
        return;
    }
    fl_buf_puts(sql, " FROM (");
    for (size_t i = 0; i < n; i++) {
        if (i)
            fl_buf_puts(sql, " UNION ");
        branch(sql, a, q, p, i);
    }
    fl_buf_puts(sql, ") k JOIN products p ON p.id = k.id");
    order_limit(sql, a, q, "k.k", "k.id");
}
