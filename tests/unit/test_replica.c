/* SPDX-License-Identifier: MIT */
/*
 * fl_replica without servers: no replica set reads on the primary; each replica's address
 * is shown without its credentials; with the primary gone a read goes to a replica and is
 * marked as maybe behind (so it is not cached); reads take the replicas in turn.
 */
#include "fl_replica.h"
#include "offline.h"
#include "test.h"

static void test_without_replicas(void)
{
    struct fl_db *primary = offline_db();
    enum fl_read_from from = FL_READ_REPLICA;

    ASSERT_TRUE(fl_replica_reader(NULL, primary, &from) == primary);
    ASSERT_EQ(from, FL_READ_PRIMARY);
    ASSERT_NULL(fl_replica_any(NULL));
    ASSERT_EQ(fl_replica_count(NULL), 0);
    fl_replica_free(NULL);
    fl_db_free(primary);
}

static void test_primary_down(void)
{
    struct fl_mysql_dsn *dsns = NULL;
    struct fl_replica *set;
    struct fl_db *primary = offline_db(), *db, *seen[3];
    enum fl_read_from from = FL_READ_PRIMARY;
    size_t n = 0;

    /* Never connected to: the primary's failure is all this test reaches. */
    ASSERT_EQ(fl_dsn_parse_mysql_list("mysql://app:s3cret@127.0.0.1:1/db,"
                                      "mysql://app:s3cret@localhost/db?socket=" OFFLINE_SOCKET ","
                                      "mysql://app@[::1]:2/db",
                                      &dsns, &n),
              FL_OK);
    set = fl_replica_new(dsns, n, 1);
    fl_dsn_mysql_list_free(dsns, n);
    ASSERT_NOT_NULL(set);
    if (set == NULL)
        return;
    ASSERT_EQ(fl_replica_count(set), 3);
    ASSERT_STREQ(fl_replica_address(set, 0), "127.0.0.1:1");
    ASSERT_STREQ(fl_replica_address(set, 1), OFFLINE_SOCKET);
    ASSERT_STREQ(fl_replica_address(set, 2), "::1:2");

    db = fl_replica_reader(set, primary, &from);
    ASSERT_EQ(from, FL_READ_REPLICA_BEHIND);
    ASSERT_TRUE(db != primary);
    ASSERT_TRUE(db == fl_replica_db(set, 0) || db == fl_replica_db(set, 1) ||
                db == fl_replica_db(set, 2));
    /* In turn: each replica once, then the first again. */
    for (size_t i = 0; i < 3; i++)
        seen[i] = fl_replica_any(set);
    ASSERT_TRUE(seen[0] != seen[1] && seen[1] != seen[2] && seen[0] != seen[2]);
    ASSERT_TRUE(seen[0] != db); /* the reader's choice was the turn before */
    ASSERT_TRUE(fl_replica_any(set) == seen[0]);
    fl_replica_free(set);
    fl_db_free(primary);
}

int main(void)
{
    test_without_replicas();
    test_primary_down();
    return fl_test_done("test_replica");
}
