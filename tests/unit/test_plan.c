/* SPDX-License-Identifier: MIT */
/*
 * fl_plan: the guard's bound on rows examined, which listings have a choice of index, the
 * turns the guard asks for after a wrong estimate, and what the planner does when MySQL is
 * not there (a plain listing still gets a plan; a search cannot).
 */
#include "fl_plan.h"
#include "offline.h"
#include "test.h"

static struct fl_listing listing(enum fl_sort sort, int64_t min_cents, int64_t max_cents)
{
    return (struct fl_listing){
        .limit = 20, .sort = sort, .min_cents = min_cents, .max_cents = max_cents};
}

static void test_index_choice(void)
{
    struct fl_listing all = listing(FL_SORT_NEWEST, 0, FL_CATALOG_PRICE_MAX_CENTS);
    struct fl_listing window = listing(FL_SORT_NAME_ASC, 100, FL_CATALOG_PRICE_MAX_CENTS);
    struct fl_listing below = listing(FL_SORT_OLDEST, 0, 5000);
    struct fl_listing by_price = listing(FL_SORT_PRICE_DESC, 100, 5000);

    ASSERT_TRUE(!fl_plan_has_index_choice(&all));
    ASSERT_TRUE(fl_plan_has_index_choice(&window));
    ASSERT_TRUE(fl_plan_has_index_choice(&below));
    /* Sorted by price, the price index is the sort index: nothing to choose. */
    ASSERT_TRUE(!fl_plan_has_index_choice(&by_price));
    by_price.sort = FL_SORT_PRICE_ASC;
    ASSERT_TRUE(!fl_plan_has_index_choice(&by_price));
}

static void test_rows_floor(void)
{
    struct fl_listing q = listing(FL_SORT_NEWEST, 0, FL_CATALOG_PRICE_MAX_CENTS);
    struct fl_plan p = {.kind = FL_PLAN_SCAN};

    ASSERT_EQ(fl_plan_rows_floor(&q, &p), 1800);
    q.limit = FL_CATALOG_LIMIT_MAX;
    ASSERT_EQ(fl_plan_rows_floor(&q, &p), 1800);
    /* A price window read whole and sorted in every branch is counted twice over. */
    q.min_cents = 100;
    q.categories[0] = FL_STR("fruits");
    q.categories[1] = FL_STR("dairy");
    q.n_categories = 2;
    p.by_price[0] = p.by_price[1] = true;
    ASSERT_EQ(fl_plan_rows_floor(&q, &p), 3600);
    p.by_price[1] = false; /* one branch walks: it stops where a walk stops */
    ASSERT_EQ(fl_plan_rows_floor(&q, &p), 1800);
    p.by_price[1] = true;
    q.sort = FL_SORT_PRICE_ASC; /* no choice, so no sorted range */
    ASSERT_EQ(fl_plan_rows_floor(&q, &p), 1800);
    q.sort = FL_SORT_NEWEST;
    q.words[0] = FL_STR("tomato");
    q.n_words = 1;
    ASSERT_EQ(fl_plan_rows_floor(&q, &p), 1800);
}

static void test_flip_indexes(void)
{
    struct fl_plan p = {.kind = FL_PLAN_SCAN};

    p.by_price[0] = true;
    fl_plan_flip_indexes(&p);
    ASSERT_TRUE(!p.by_price[0]);
    ASSERT_TRUE(p.by_price[1]);
    ASSERT_TRUE(p.by_price[FL_PLAN_BRANCHES_MAX - 1]);
    fl_plan_flip_indexes(&p);
    ASSERT_TRUE(p.by_price[0]);
    ASSERT_TRUE(!p.by_price[1]);
}

static void test_turn_probes(void)
{
    struct fl_plan_word w[FL_CATALOG_WORDS_MAX] = {
        {.n_variants = 2, .probe = FL_PLAN_PROBE_JOIN}, /* the driver: never turned */
        {.n_variants = 2, .probe = FL_PLAN_PROBE_JOIN},
        {.n_variants = 3, .probe = FL_PLAN_PROBE_SET},
        {.n_variants = FL_PLAN_VARIANTS_MAX + 1, .probe = FL_PLAN_PROBE_RANGE},
    };
    struct fl_plan p = {.kind = FL_PLAN_TERMS, .w = w, .n_words = 4};

    ASSERT_TRUE(fl_plan_turn_probes(&p, false));
    ASSERT_EQ(w[1].probe, FL_PLAN_PROBE_JOIN);
    ASSERT_EQ(w[2].probe, FL_PLAN_PROBE_JOIN);
    ASSERT_EQ(w[3].probe, FL_PLAN_PROBE_RANGE);
    ASSERT_TRUE(fl_plan_turn_probes(&p, true));
    ASSERT_EQ(w[0].probe, FL_PLAN_PROBE_JOIN);
    ASSERT_EQ(w[1].probe, FL_PLAN_PROBE_SET);
    ASSERT_EQ(w[2].probe, FL_PLAN_PROBE_SET);
    ASSERT_EQ(w[3].probe, FL_PLAN_PROBE_RANGE);

    /* Joins are bounded: a second word of 16 variants stays a set. */
    w[1].n_variants = w[2].n_variants = FL_PLAN_VARIANTS_MAX;
    ASSERT_TRUE(fl_plan_turn_probes(&p, false));
    ASSERT_EQ(w[1].probe, FL_PLAN_PROBE_JOIN);
    ASSERT_EQ(w[2].probe, FL_PLAN_PROBE_SET);

    /* A scan probes its first word too; a range probe has nowhere to turn. */
    p.kind = FL_PLAN_SCAN;
    p.n_words = 1;
    w[0].probe = FL_PLAN_PROBE_RANGE;
    ASSERT_TRUE(!fl_plan_turn_probes(&p, true));
    w[0].probe = FL_PLAN_PROBE_JOIN;
    ASSERT_TRUE(fl_plan_turn_probes(&p, true));
    ASSERT_EQ(w[0].probe, FL_PLAN_PROBE_SET);
}

static void test_choose_without_mysql(void)
{
    struct fl_db *db = offline_db();
    struct fl_arena *arena = fl_arena_new(1 << 16);
    struct fl_plan_word w[FL_CATALOG_WORDS_MAX];
    struct fl_plan p = {.w = w};
    struct fl_listing q = listing(FL_SORT_NEWEST, 100, 5000);
    bool none = true;

    /* No sample: every branch walks its sort index, and the guard bounds it. */
    memset(p.by_price, 1, sizeof(p.by_price));
    ASSERT_EQ(fl_plan_choose(db, arena, &q, &p, &none), FL_OK);
    ASSERT_TRUE(!none);
    ASSERT_EQ(p.kind, FL_PLAN_SCAN);
    ASSERT_TRUE(!p.by_price[0]);
    ASSERT_EQ(p.n_words, 0);
    /* A search needs the words' estimates from MySQL. */
    q.words[0] = FL_STR("tomato");
    q.n_words = 1;
    ASSERT_EQ(fl_plan_choose(db, arena, &q, &p, &none), FL_EDB);
    ASSERT_TRUE(!none);
    fl_arena_free(arena);
    fl_db_free(db);
}

int main(void)
{
    test_index_choice();
    test_rows_floor();
    test_flip_indexes();
    test_turn_probes();
    test_choose_without_mysql();
    return fl_test_done("test_plan");
}
