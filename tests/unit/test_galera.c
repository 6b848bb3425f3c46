/* SPDX-License-Identifier: MIT */
/*
 * fl_galera without servers: a URL of one host is never asked (a plain server's /health
 * sends nothing more than before); a cluster URL whose nodes are all down is FL_EDB; and
 * while the breaker is open the question is not asked, so it can never be the probe.
 */
#include <stdio.h>

#include "fl_buf.h"
#include "fl_dsn.h"
#include "fl_galera.h"
#include "offline.h"
#include "test.h"

static void test_one_host_is_not_asked(void)
{
    struct fl_db *db = offline_db();
    enum fl_galera_node node = FL_GALERA_READY;

    ASSERT_NOT_NULL(db);
    ASSERT_EQ(fl_db_hosts(db), 1);
    ASSERT_EQ(fl_galera_node(db, &node), FL_OK);
    ASSERT_EQ(node, FL_GALERA_NONE);
    ASSERT_EQ(fl_db_errors(db), 0); /* nothing was tried */
    fl_db_free(db);
}

static void test_cluster_down(void)
{
    struct fl_mysql_dsn dsn;
    struct fl_db *db;
    enum fl_galera_node node = FL_GALERA_READY;
    char url[128];
    uint64_t skipped;

    snprintf(url, sizeof(url), "mysql://farmlokal:pw@127.0.0.1:%u,127.0.0.1:%u/farmlokal",
             offline_port(), offline_port());
    ASSERT_EQ(fl_dsn_parse_mysql(url, &dsn), FL_OK);
    db = fl_db_new(&dsn, 1);
    ASSERT_NOT_NULL(db);
    ASSERT_EQ(fl_db_hosts(db), 2);
    ASSERT_EQ(fl_galera_node(db, &node), FL_EDB);
    ASSERT_EQ(node, FL_GALERA_NONE);
    /* No node answered: the breaker is open, and the question waits for its probe. */
    ASSERT_TRUE(fl_db_breaker_open(db));
    skipped = fl_db_skipped(db);
    node = FL_GALERA_READY;
    ASSERT_EQ(fl_galera_node(db, &node), FL_OK);
    ASSERT_EQ(node, FL_GALERA_NONE);
    ASSERT_EQ(fl_db_skipped(db), skipped); /* not even refused: not asked */
    fl_db_free(db);
    fl_dsn_mysql_free(&dsn);
}

int main(void)
{
    test_one_host_is_not_asked();
    test_cluster_down();
    return fl_test_done("test_galera");
}
