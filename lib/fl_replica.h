/* SPDX-License-Identifier: MIT */
/*
 * Reads on a replica that has caught up (FL_MYSQL_READ_URL). A read must see every write
 * committed before it began: an admin PATCH shows in the very next listing, and a listing
 * cached under the new generation must never be built from older rows. So before each
 * read the primary is asked for its binary-log position (@@gtid_binlog_pos, a round trip
 * that reads no table), and the replica waits at most a few milliseconds until it has
 * applied that position (MASTER_GTID_WAIT). Only then does the read run on the replica.
 *
 * A replica that is further behind, or down, is passed over for a second and the primary
 * serves. With the primary down, the replica serves what it has, and the caller is told the
 * rows may be behind, so that it does not cache them. The SQL of both steps lives here.
 */
#ifndef FL_REPLICA_H
#define FL_REPLICA_H

#include "fl_config.h"
#include "fl_db.h"
#include "fl_err.h"

struct fl_replica;

/* Where a read runs, and how current it is. */
enum fl_read_from {
    FL_READ_PRIMARY,        /* no replica configured */
    FL_READ_REPLICA,        /* the replica had applied every write committed so far */
    FL_READ_PASSED_OVER,    /* the replica was behind or down: the primary */
    FL_READ_REPLICA_BEHIND, /* the primary did not answer: the replica, maybe behind */
};

/*
 * Returns a handle for the replica at dsn (copied; connects on first use), or NULL when out
 * of memory. timeout_s bounds connecting, reads and writes, as for fl_db_new.
 */
struct fl_replica *fl_replica_new(const struct fl_mysql_dsn *dsn, unsigned timeout_s);

/* Closes the connection and frees everything. Accepts NULL. */
void fl_replica_free(struct fl_replica *rep);

/*
 * Chooses the connection for one read: rep's when it is current (see above), otherwise
 * primary. rep may be NULL (no replica configured). *from says which, and why.
 */
struct fl_db *fl_replica_reader(struct fl_replica *rep, struct fl_db *primary,
                                enum fl_read_from *from);

/* The replica's own connection (for pings, timings and counters); NULL when rep is NULL. */
struct fl_db *fl_replica_db(const struct fl_replica *rep);

#endif
