/* SPDX-License-Identifier: MIT */
/*
 * fl_plan_sql: the listing statement a plan reads a page with. Its text holds only names
 * from the sort table and the plan's shape; every value a client sent is an argument, in
 * the order of its placeholder.
 */
#include "fl_plan_sql.h"
#include "test.h"

static struct fl_listing q;
static struct fl_plan plan;
static struct fl_plan_word words[FL_CATALOG_WORDS_MAX];
static struct fl_plan_sql_args args;
static struct fl_buf sql;

/* A fresh listing of limit rows by sort, every filter off, and a scan plan for it. */
static void listing(enum fl_sort sort, unsigned limit)
{
    memset(&q, 0, sizeof(q));
    memset(&plan, 0, sizeof(plan));
    memset(words, 0, sizeof(words));
    q.sort = sort;
    q.limit = limit;
    q.max_cents = FL_CATALOG_PRICE_MAX_CENTS;
    plan.kind = FL_PLAN_SCAN;
    plan.w = words;
}

static void build(void)
{
    fl_buf_reset(&sql);
    fl_plan_sql_args_init(&args, &q);
    fl_plan_sql_build(&sql, &args, &q, &plan);
    ASSERT_EQ(fl_buf_err(&sql), FL_OK);
}

/* The number of placeholders in the text, which must be the number of arguments. */
static size_t placeholders(void)
{
    size_t n = 0;

    for (size_t i = 0; i < sql.len; i++)
        n += sql.p[i] == '?';
    return n;
}

#define ASSERT_ARG_STR(i, s)                                                                       \
    do {                                                                                           \
        ASSERT_EQ(args.a[i].type, FL_DB_STR);                                                      \
        ASSERT_TRUE(fl_str_eq(args.a[i].str, FL_STR(s)));                                          \
    } while (0)
#define ASSERT_ARG_DECIMAL(i, s)                                                                   \
    do {                                                                                           \
        ASSERT_EQ(args.a[i].type, FL_DB_DECIMAL);                                                  \
        ASSERT_TRUE(fl_str_eq(args.a[i].str, FL_STR(s)));                                          \
    } while (0)
#define ASSERT_ARG_U64(i, v)                                                                       \
    do {                                                                                           \
        ASSERT_EQ(args.a[i].type, FL_DB_U64);                                                      \
        ASSERT_EQ(args.a[i].u64, (uint64_t)(v));                                                   \
    } while (0)

static void test_first_page(void)
{
    listing(FL_SORT_NEWEST, 20);
    build();
    /* One walk: each row is joined as the walk finds it, and LIMIT stops both. */
    ASSERT_STREQ(sql.p, "SELECT STRAIGHT_JOIN " FL_PLAN_SQL_COLUMNS "p.created_at FROM products x "
                        "FORCE INDEX (ix_products_created) JOIN products p ON p.id = x.id WHERE "
                        "1=1 AND (x.created_at < ? OR (x.created_at = ? AND x.id < ?)) ORDER BY "
                        "x.created_at DESC, x.id DESC LIMIT ?");
    ASSERT_EQ(args.n, 4);
    ASSERT_EQ(placeholders(), args.n);
    /* The first page seeks from a sentinel above every row. */
    ASSERT_ARG_STR(0, "9999-12-31 23:59:59.999999");
    ASSERT_ARG_STR(1, "9999-12-31 23:59:59.999999");
    ASSERT_ARG_U64(2, UINT64_MAX);
    ASSERT_ARG_U64(3, 21); /* a row more than the page: is there another? */

    /* A range read whole and sorted: the (id, k) it sorts come first, then their rows. */
    q.min_cents = 100;
    plan.by_price[0] = true;
    build();
    ASSERT_STREQ(sql.p,
                 "SELECT STRAIGHT_JOIN " FL_PLAN_SQL_COLUMNS "p.created_at FROM ((SELECT "
                 "STRAIGHT_JOIN x.id AS id, x.created_at AS k FROM products x FORCE INDEX "
                 "(ix_products_price) WHERE 1=1 AND x.price BETWEEN ? AND ? AND (x.created_at < ? "
                 "OR (x.created_at = ? AND x.id < ?)) ORDER BY x.created_at DESC, x.id DESC LIMIT "
                 "?)) k JOIN products p ON p.id = k.id ORDER BY k.k DESC, k.id DESC LIMIT ?");
    ASSERT_EQ(args.n, 7);
    ASSERT_EQ(placeholders(), args.n);
    ASSERT_ARG_DECIMAL(0, "1.00");
    ASSERT_ARG_U64(5, 21);
    ASSERT_ARG_U64(6, 21);

    listing(FL_SORT_PRICE_ASC, 1);
    build();
    ASSERT_CONTAINS(sql.p, "FORCE INDEX (ix_products_price) JOIN products p ON p.id = x.id WHERE "
                           "1=1 AND (x.price > ? OR (x.price = ? AND x.id > ?)) ORDER BY x.price "
                           "ASC, x.id ASC LIMIT ?");
    ASSERT_ARG_DECIMAL(0, "-1");
    ASSERT_ARG_U64(2, 0);
    ASSERT_ARG_U64(3, 2);
}

/* One branch a category, each with its own index; the price window and cursor in each. */
static void test_categories_price_cursor(void)
{
    listing(FL_SORT_NAME_ASC, 10);
    q.categories[0] = FL_STR("fruits");
    q.categories[1] = FL_STR("dairy");
    q.n_categories = 2;
    q.min_cents = 150;
    q.max_cents = 2000;
    q.has_cursor = true;
    q.after = (struct fl_cursor){FL_SORT_NAME_ASC, 42, FL_STR("Goat cheese")};
    plan.by_price[1] = true;
    build();
    ASSERT_STREQ(args.prices[0], "1.50");
    ASSERT_STREQ(args.prices[1], "20.00");
    ASSERT_CONTAINS(sql.p, "FROM products x FORCE INDEX (ix_products_cat_name) WHERE "
                           "x.category = ? AND x.price BETWEEN ? AND ? AND (x.name > ? OR "
                           "(x.name = ? AND x.id > ?)) ORDER BY x.name ASC, x.id ASC LIMIT ?) "
                           "UNION (SELECT");
    ASSERT_CONTAINS(sql.p, "FROM products x FORCE INDEX (ix_products_cat_price) WHERE "
                           "x.category = ?");
    ASSERT_EQ(args.n, 2 * 7 + 1);
    ASSERT_EQ(placeholders(), args.n);
    ASSERT_ARG_STR(0, "fruits");
    ASSERT_ARG_DECIMAL(1, "1.50");
    ASSERT_ARG_DECIMAL(2, "20.00");
    ASSERT_ARG_STR(3, "Goat cheese");
    ASSERT_ARG_STR(4, "Goat cheese");
    ASSERT_ARG_U64(5, 42);
    ASSERT_ARG_U64(6, 11);
    ASSERT_ARG_STR(7, "dairy");

    /* Without categories the price index has none in front. */
    q.n_categories = 0;
    plan.by_price[0] = true;
    build();
    ASSERT_CONTAINS(sql.p, "FROM products x FORCE INDEX (ix_products_price) WHERE 1=1 AND "
                           "x.price BETWEEN ? AND ?");
}

static void word(size_t i, const char *pattern, double rows, enum fl_plan_probe probe)
{
    words[i].pattern = fl_str_c(pattern);
    words[i].rows = rows;
    words[i].probe = probe;
    plan.n_words = i + 1;
    q.n_words = i + 1;
}

/* The rarest word drives, one branch a variant; the others are probed or read as sets. */
static void test_terms(void)
{
    listing(FL_SORT_NEWEST, 5);
    plan.kind = FL_PLAN_TERMS;
    word(0, "tom%", 40, FL_PLAN_PROBE_JOIN);
    words[0].variants[0] = FL_STR("tomato");
    words[0].variants[1] = FL_STR("tomatoes");
    words[0].n_variants = 2;
    word(1, "red%", 900, FL_PLAN_PROBE_JOIN);
    words[1].variants[0] = FL_STR("red");
    words[1].variants[1] = FL_STR("redcurrant");
    words[1].n_variants = 2;
    word(2, "ripe%", 300, FL_PLAN_PROBE_SET);
    q.categories[0] = FL_STR("vegetables");
    q.n_categories = 1;
    build();
    ASSERT_CONTAINS(sql.p,
                    "(SELECT STRAIGHT_JOIN x.product_id AS id, x.created_at AS k FROM "
                    "product_words x FORCE INDEX (PRIMARY) LEFT JOIN product_words b1_0 FORCE "
                    "INDEX (ix_product_words_product) ON b1_0.product_id = x.product_id AND "
                    "b1_0.word = ? LEFT JOIN product_words b1_1 FORCE INDEX "
                    "(ix_product_words_product) ON b1_1.product_id = x.product_id AND b1_1.word "
                    "= ? JOIN (SELECT DISTINCT product_id FROM product_words FORCE INDEX "
                    "(PRIMARY) WHERE word LIKE ?) m2 ON m2.product_id = x.product_id WHERE x.word "
                    "= ? AND x.category IN (?) AND (x.created_at < ? OR (x.created_at = ? AND "
                    "x.product_id < ?)) AND (b1_0.product_id IS NOT NULL OR b1_1.product_id IS "
                    "NOT NULL) ORDER BY x.created_at DESC, x.product_id DESC LIMIT ?) UNION (");
    ASSERT_EQ(args.n, 2 * 9 + 1);
    ASSERT_EQ(placeholders(), args.n);
    ASSERT_ARG_STR(0, "red");
    ASSERT_ARG_STR(1, "redcurrant");
    ASSERT_ARG_STR(2, "ripe%");
    ASSERT_ARG_STR(3, "tomato");
    ASSERT_ARG_STR(4, "vegetables");
    ASSERT_ARG_STR(9 + 3, "tomatoes"); /* the second branch, the second variant */
    ASSERT_ARG_U64(18, 6);
}

/* A broad prefix is read as one range (DISTINCT: a product may have two of its words). */
static void test_range_and_scan(void)
{
    listing(FL_SORT_PRICE_DESC, 5);
    plan.kind = FL_PLAN_RANGE;
    word(0, "to%", 5000, FL_PLAN_PROBE_JOIN);
    words[0].n_variants = FL_PLAN_VARIANTS_MAX + 1;
    word(1, "s%", 90000, FL_PLAN_PROBE_RANGE);
    words[1].n_variants = FL_PLAN_VARIANTS_MAX + 1;
    build();
    ASSERT_CONTAINS(sql.p, "FROM ((SELECT STRAIGHT_JOIN DISTINCT x.product_id AS id, x.price AS "
                           "k FROM product_words x FORCE INDEX (ix_product_words_price) WHERE "
                           "x.word LIKE ? AND (x.price < ?");
    ASSERT_CONTAINS(sql.p, " AND (SELECT 1 FROM product_words w FORCE INDEX "
                           "(ix_product_words_product) WHERE w.product_id = x.product_id AND "
                           "w.word LIKE ? LIMIT 1) IS NOT NULL ORDER BY x.price DESC");
    ASSERT_TRUE(strstr(sql.p, "UNION") == NULL);
    ASSERT_EQ(args.n, 1 + 3 + 1 + 1 + 1);
    ASSERT_EQ(placeholders(), args.n);
    ASSERT_ARG_STR(0, "to%");
    ASSERT_ARG_DECIMAL(1, "100000000");
    ASSERT_ARG_STR(4, "s%");

    /* A scan reads products and probes every word, the first too. */
    plan.kind = FL_PLAN_SCAN;
    words[1].probe = FL_PLAN_PROBE_SET;
    words[0].probe = FL_PLAN_PROBE_RANGE;
    build();
    ASSERT_CONTAINS(sql.p, "FROM products x FORCE INDEX (ix_products_price) JOIN (SELECT "
                           "DISTINCT product_id FROM product_words FORCE INDEX (PRIMARY) WHERE "
                           "word LIKE ?) m1 ON m1.product_id = x.id WHERE 1=1");
    ASSERT_EQ(placeholders(), args.n);
    ASSERT_ARG_STR(0, "s%");
    ASSERT_ARG_STR(4, "to%");
}

int main(void)
{
    fl_buf_init(&sql, FL_PLAN_SQL_MAX_BYTES);
    test_first_page();
    test_categories_price_cursor();
    test_terms();
    test_range_and_scan();
    fl_buf_free(&sql);
    return fl_test_done("test_plan_sql");
}
