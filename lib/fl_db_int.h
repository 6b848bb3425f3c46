/* SPDX-License-Identifier: MIT */
/*
 * Inside the db module only (lib/fl_db.c: the connection, its breaker and transactions;
 * lib/fl_db_stmt.c: prepared statements run against a deadline): the connection's state
 * and the steps both halves take. Nothing outside lib/fl_db*.c includes this header, so
 * <mysql.h> stays the db module's.
 */
#ifndef FL_DB_INT_H
#define FL_DB_INT_H

#include <mysql.h>

#include <stdbool.h>
#include <stdint.h>

#include "fl_db.h"

/* Prepared statements kept per connection: above the app's statement shapes. */
#define FL_DB_STMT_CACHE_MAX 160
/* A lost connection found out faster than this was stale: one fresh try is worth it. */
#define FL_DB_STALE_FAILURE_US 50000

struct fl_db_stmt {
    char *sql; /* owned copy: the cache key */
    size_t len;
    uint64_t last_used; /* db->queries when last used, for eviction */
    MYSQL_STMT *stmt;
};

struct fl_db {
    MYSQL *conn;             /* NULL while disconnected */
    struct fl_mysql_dsn dsn; /* owned copy */
    size_t host;             /* the dsn's host connected to, or to try first */
    bool moved;              /* host changed since the last connect (logged on the next) */
    unsigned last_errno;     /* the server's error of the last failed call; 0: none given */
    size_t slow_in_row;      /* calls that ran out of time since one was answered */
    unsigned timeout_s;
    unsigned statement_ms; /* the server's bound on one statement; 0: none */
    bool short_bound;      /* the session's bound is the probe's (see fl_db.c) */
    int64_t open_until_us; /* the breaker: nothing is sent before this monotonic time */
    bool open;             /* the breaker has tripped and not yet been probed closed */
    bool down;             /* the last connect failed (logged once per outage) */
    bool in_tx;
    bool bulk_load; /* LOCAL INFILE allowed (farmlokal-ctl seed only) */
    bool stopped;   /* the last statement hit its LIMIT ROWS EXAMINED */
    struct fl_db_stmt stmts[FL_DB_STMT_CACHE_MAX];
    size_t n_stmts;
    char *rowbuf; /* result column buffers, reused across queries */
    size_t rowbuf_cap;
    MYSQL_BIND *binds; /* parameter bindings, reused across queries */
    unsigned long *lens;
    size_t binds_cap;
    int64_t busy_us;
    uint64_t queries, errors, skipped, tx_retries;
};

/*
 * Lets a call through the breaker, connecting if needed. Returns FL_OK, or FL_EDB when the
 * call must not or cannot reach the server.
 */
enum fl_err fl_db_admit(struct fl_db *db);

/* A call went through: a probe closes the breaker and restores the full bound. */
void fl_db_answered(struct fl_db *db);

/*
 * Logs a failed call, drops the connection if it is gone, and trips the breaker when the
 * server ran out of time. Returns FL_EDB.
 */
enum fl_err fl_db_failed(struct fl_db *db, unsigned e, const char *what, const char *error);

/* The client's deadline passed mid-call: drops the connection, trips. Returns FL_EDB. */
enum fl_err fl_db_timed_out(struct fl_db *db, const char *what);

/*
 * Waits for what a non-blocking MySQL call asked for (status) until deadline_us. Returns
 * the status to continue the call with, or 0 when the deadline passed first.
 */
int fl_db_wait_io(MYSQL *m, int status, int64_t deadline_us);

/* When the client abandons a statement it sends now (monotonic microseconds). */
int64_t fl_db_deadline_us(const struct fl_db *db);

/* Closes every prepared statement of the connection (before it is closed). */
void fl_db_stmts_close(struct fl_db *db);

#endif
