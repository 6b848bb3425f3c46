/* SPDX-License-Identifier: MIT */
/*
 * fl_catalog without MySQL: a listing (plain or a search) and a product read are FL_EDB,
 * never an empty page or "not found" that a cache could keep. Its row reading and the
 * guard need a server: tests/integration covers them.
 */
#include "fl_catalog.h"
#include "offline.h"
#include "test.h"

static void test_without_mysql(void)
{
    struct fl_db *db = offline_db();
    struct fl_arena *arena = fl_arena_new(1 << 20);
    struct fl_listing q = {.limit = 20, .max_cents = FL_CATALOG_PRICE_MAX_CENTS};
    struct fl_product *rows = NULL, one;
    size_t n = 99;
    bool more = true;

    ASSERT_EQ(fl_catalog_list(db, arena, &q, &rows, &n, &more), FL_EDB);
    q.categories[0] = FL_STR("fruits");
    q.n_categories = 1;
    q.min_cents = 100;
    ASSERT_EQ(fl_catalog_list(db, arena, &q, &rows, &n, &more), FL_EDB);
    q.words[0] = FL_STR("tomato");
    q.n_words = 1;
    ASSERT_EQ(fl_catalog_list(db, arena, &q, &rows, &n, &more), FL_EDB);
    /* Nothing was handed out as a page. */
    ASSERT_EQ(n, 99);
    ASSERT_TRUE(more);
    ASSERT_EQ(fl_catalog_get(db, arena, 7, &one), FL_EDB);
    fl_arena_free(arena);
    fl_db_free(db);
}

int main(void)
{
    test_without_mysql();
    return fl_test_done("test_catalog");
}
