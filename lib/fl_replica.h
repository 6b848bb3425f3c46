/* SPDX-License-Identifier: MIT */
/*
 * Reads on the replicas that have caught up (FL_MYSQL_READ_URL, a comma list). A read must
 * see every write committed before it began: an admin PATCH shows in the very next
 * listing, and a listing cached under the new generation must never be built from older
 * rows. So before each read the primary is asked for its binary-log position
 * (@@gtid_binlog_pos, a round trip that reads no table), and a replica waits at most a few
 * milliseconds until it has applied that position (MASTER_GTID_WAIT). Only then does the
 * read run on that replica. Reads take the replicas in turn, so they spread over all that
 * are current.
 *
 * Each replica has its own breaker: one that is behind, or down, is passed over for a
 * second, then one read tries it again; the next replica in turn is asked meanwhile. With
 * every replica out the primary serves. With the primary down, a replica serves what it
 * has, and the caller is told the rows may be behind, so that it does not cache them. The
 * SQL of both steps lives here.
 */
#ifndef FL_REPLICA_H
#define FL_REPLICA_H

#include <stddef.h>

#include "fl_config.h"
#include "fl_db.h"
#include "fl_err.h"

struct fl_replica;

/* Where a read runs, and how current it is. */
enum fl_read_from {
    FL_READ_PRIMARY,        /* no replica configured */
    FL_READ_REPLICA,        /* a replica that had applied every write committed so far */
    FL_READ_PASSED_OVER,    /* every replica was behind or down: the primary */
    FL_READ_REPLICA_BEHIND, /* the primary did not answer: a replica, maybe behind */
};

/*
 * Returns a handle for the n replicas at dsns (copied; each connects on first use), or
 * NULL when out of memory. n is 1..FL_DSN_LIST_MAX. timeout_s bounds connecting, reads
 * and writes, as for fl_db_new. Free with fl_replica_free().
 */
struct fl_replica *fl_replica_new(const struct fl_mysql_dsn *dsns, size_t n, unsigned timeout_s);

/* Closes the connections and frees everything. Accepts NULL. */
void fl_replica_free(struct fl_replica *set);

/*
 * Chooses the connection for one read: the next current replica in turn (see above),
 * otherwise primary. set may be NULL (no replica configured). *from says which, and why.
 */
struct fl_db *fl_replica_reader(struct fl_replica *set, struct fl_db *primary,
                                enum fl_read_from *from);

/*
 * A replica to read from when the primary failed mid-read: the next one in turn that is
 * not being passed over, else the next one. NULL when set is NULL.
 */
struct fl_db *fl_replica_any(struct fl_replica *set);

/* How many replicas set holds; 0 when set is NULL. */
size_t fl_replica_count(const struct fl_replica *set);

/* Replica i's own connection (for pings, timings and counters); i < fl_replica_count. */
struct fl_db *fl_replica_db(const struct fl_replica *set, size_t i);

/* Replica i's address without credentials ("host:port" or the socket path); borrowed. */
const char *fl_replica_address(const struct fl_replica *set, size_t i);

#endif
