/* SPDX-License-Identifier: MIT */
/*
 * fl_db without a server: every call is FL_EDB and never crashes; after a failed connect
 * the breaker refuses calls without a round trip (counted as skipped) until its probe
 * interval has passed, then one call tries again; bulk loads are refused unless enabled.
 */
#include <time.h>

#include "offline.h"
#include "test.h"

static enum fl_err no_rows(void *ud, const struct fl_str *cols, size_t ncols)
{
    (void)cols, (void)ncols;
    ++*(int *)ud;
    return FL_OK;
}

static long no_source(void *ud, char *buf, size_t cap)
{
    (void)ud, (void)buf, (void)cap;
    return 0;
}

static void test_breaker(void)
{
    struct fl_db *db = offline_db();
    struct fl_db_arg arg = FL_DB_ARG_U64(7);
    struct timespec probe_interval = {1, 100 * 1000 * 1000};
    int rows = 0;

    ASSERT_NOT_NULL(db);
    ASSERT_EQ(fl_db_query(db, "SELECT id FROM products WHERE id = ?", &arg, 1, no_rows, &rows),
              FL_EDB);
    ASSERT_EQ(rows, 0);
    ASSERT_EQ(fl_db_errors(db), 1);
    ASSERT_EQ(fl_db_skipped(db), 0);
    /* The breaker is open: refused at once, nothing sent. */
    ASSERT_EQ(fl_db_query(db, "SELECT 1", NULL, 0, no_rows, &rows), FL_EDB);
    ASSERT_EQ(fl_db_exec(db, "DELETE FROM products WHERE id = ?", &arg, 1, NULL, NULL), FL_EDB);
    ASSERT_EQ(fl_db_skipped(db), 2);
    ASSERT_EQ(fl_db_begin(db), FL_EDB);
    ASSERT_EQ(fl_db_skipped(db), 3); /* one call refused, one counted */
    ASSERT_EQ(fl_db_errors(db), 1);
    fl_db_rollback(db);
    ASSERT_EQ(fl_db_exec_script(db, FL_STR("SELECT 1; SELECT 2")), FL_EDB);
    ASSERT_TRUE(!fl_db_stopped(db));
    ASSERT_GE(fl_db_busy_us(db), 0);
    /* After the probe interval one call tries the server again. */
    nanosleep(&probe_interval, NULL);
    ASSERT_EQ(fl_db_query(db, "SELECT 1", NULL, 0, no_rows, &rows), FL_EDB);
    ASSERT_EQ(fl_db_errors(db), 2);
    /* A ping asks even while the breaker is open: /health tells whether the server answers. */
    ASSERT_EQ(fl_db_ping(db, 1000), FL_EDB);
    ASSERT_EQ(fl_db_errors(db), 3);
    fl_db_free(db);
}

static void test_bulk_load_needs_enabling(void)
{
    struct fl_db *db = offline_db();
    uint64_t rows = 99;

    ASSERT_EQ(fl_db_load_data(db, "LOAD DATA LOCAL INFILE 'stream' INTO TABLE products", no_source,
                              NULL, &rows),
              FL_EINVAL);
    ASSERT_EQ(fl_db_errors(db), 0); /* refused before connecting */
    fl_db_enable_bulk_load(db);
    ASSERT_EQ(fl_db_load_data(db, "LOAD DATA LOCAL INFILE 'stream' INTO TABLE products", no_source,
                              NULL, &rows),
              FL_EDB);
    ASSERT_EQ(rows, 99);
    fl_db_free(db);
}

static void test_closed_port(void)
{
    static char host[] = "127.0.0.1";
    struct fl_mysql_dsn dsn = offline_mysql_dsn();
    struct fl_db *db;

    dsn.socket = NULL;
    dsn.host = host;
    dsn.port = offline_port();
    ASSERT_GT(dsn.port, 0);
    db = fl_db_new(&dsn, 1);
    ASSERT_EQ(fl_db_ping(db, 1000), FL_EDB);
    ASSERT_EQ(fl_db_errors(db), 1);
    fl_db_free(db);
}

static void test_null_handles(void)
{
    ASSERT_EQ(fl_db_busy_us(NULL), 0);
    ASSERT_EQ(fl_db_queries(NULL), 0);
    ASSERT_EQ(fl_db_errors(NULL), 0);
    ASSERT_EQ(fl_db_skipped(NULL), 0);
    fl_db_free(NULL);
}

int main(void)
{
    test_breaker();
    test_bulk_load_needs_enabling();
    test_closed_port();
    test_null_handles();
    return fl_test_done("test_db");
}
