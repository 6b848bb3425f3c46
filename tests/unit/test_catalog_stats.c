/* SPDX-License-Identifier: MIT */
/*
 * fl_catalog_stats without MySQL: no sample means no estimate (0, so the planner walks),
 * a failed read is not retried on every request, and forgetting the sample reads again.
 */
#include "fl_catalog.h" /* FL_CATALOG_PRICE_MAX_CENTS */
#include "fl_catalog_stats.h"
#include "offline.h"
#include "test.h"

static void test_refresh_without_mysql(void)
{
    struct fl_db *db = offline_db();
    uint64_t tries;

    fl_catalog_stats_refresh(db);
    tries = fl_db_errors(db) + fl_db_skipped(db);
    ASSERT_GE(tries, 1);
    ASSERT_EQ(fl_catalog_stats_rows(), 0);
    ASSERT_EQ(fl_catalog_stats_count(FL_STR(""), 0, FL_CATALOG_PRICE_MAX_CENTS), 0);
    ASSERT_EQ(fl_catalog_stats_count(FL_STR("fruits"), 0, 500), 0);
    /* Within the retry interval a refresh sends nothing. */
    for (int i = 0; i < 3; i++)
        fl_catalog_stats_refresh(db);
    ASSERT_EQ(fl_db_errors(db) + fl_db_skipped(db), tries);
    fl_catalog_stats_forget();
    fl_catalog_stats_refresh(db);
    ASSERT_GT(fl_db_errors(db) + fl_db_skipped(db), tries);
    ASSERT_EQ(fl_catalog_stats_rows(), 0);
    fl_db_free(db);
}

int main(void)
{
    test_refresh_without_mysql();
    return fl_test_done("test_catalog_stats");
}
