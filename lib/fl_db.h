/* SPDX-License-Identifier: MIT */
/*
 * One persistent MySQL/MariaDB connection: opened lazily to the first host of its URL that
 * answers (several hosts: a Galera cluster's nodes, kept while the one reached works, the
 * next one in turn after it failed), with connect, read and write
 * timeouts, reopened transparently after the server went away (a statement found a stale
 * connection is tried once more on a fresh one: a read always, a write only when it cannot
 * have reached the server; nothing is retried after a timeout), a per-connection breaker
 * that stops sending anything for a probe interval after a timeout (with several hosts:
 * after each of them in a row timed out, the next host being tried meanwhile) or when no
 * host accepts a connection,
 * and prepared statements prepared once per connection and reused. The only module that includes
 * <mysql.h>: callers pass arguments as struct fl_db_arg and read rows as fl_str columns. It knows
 * no SQL of its own beyond transactions; the catalog and webhook services own theirs.
 */
#ifndef FL_DB_H
#define FL_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl_buf.h"
#include "fl_config.h"
#include "fl_err.h"
#include "fl_str.h"

struct fl_db;

enum fl_db_type { FL_DB_NULL, FL_DB_I64, FL_DB_U64, FL_DB_STR, FL_DB_DECIMAL };

/*
 * One statement argument; str is borrowed and must stay valid during the call. A
 * FL_DB_DECIMAL is a number's text ("12.50") sent as a DECIMAL, so a DECIMAL column
 * compares with it as decimals: sent as a string it compares as doubles, each row's value
 * converted through text.
 */
struct fl_db_arg {
    enum fl_db_type type;
    int64_t i64;
    uint64_t u64;
    struct fl_str str;
};

#define FL_DB_ARG_I64(v)     ((struct fl_db_arg){.type = FL_DB_I64, .i64 = (v)})
#define FL_DB_ARG_U64(v)     ((struct fl_db_arg){.type = FL_DB_U64, .u64 = (v)})
#define FL_DB_ARG_STR(s)     ((struct fl_db_arg){.type = FL_DB_STR, .str = (s)})
#define FL_DB_ARG_DECIMAL(s) ((struct fl_db_arg){.type = FL_DB_DECIMAL, .str = (s)})
#define FL_DB_ARG_NULL       ((struct fl_db_arg){.type = FL_DB_NULL})

/*
 * Called once per result row. cols[i].p is NULL for SQL NULL; every column arrives as text
 * (DECIMAL "64.50", DATETIME(6) "2026-11-24 14:42:29.123456"), borrowed until the call
 * returns. Return FL_OK to go on; any other value stops the query and is returned.
 */
typedef enum fl_err (*fl_db_row_fn)(void *ud, const struct fl_str *cols, size_t ncols);

/*
 * Returns a handle for dsn (copied) that connects on first use, or NULL when out of memory.
 * timeout_s bounds connecting, and each read and write on the connection. Free with
 * fl_db_free().
 */
struct fl_db *fl_db_new(const struct fl_mysql_dsn *dsn, unsigned timeout_s);

/* Closes the connection and frees everything. Accepts NULL. */
void fl_db_free(struct fl_db *db);

/*
 * Bounds every statement on db (the worker's connections; not migrations or the seeder):
 * the server aborts a statement, and gives up a table or row lock wait, after statement_ms
 * (max_statement_time, lock_wait_timeout, innodb_lock_wait_timeout, whole seconds for the
 * lock waits), and the client stops waiting 200 ms later. Call before db's first use.
 */
void fl_db_bound_statements(struct fl_db *db, unsigned statement_ms);

/*
 * Checks the server answers within budget_ms, connecting if needed; a connection found
 * stale is replaced once. While the breaker is open it waits 50 ms at most (a probe's
 * ping), and an answer lets the next call probe at once. Returns FL_OK or FL_EDB.
 */
enum fl_err fl_db_ping(struct fl_db *db, unsigned budget_ms);

/* The most parameters one statement may bind. */
#define FL_DB_ARGS_MAX 4096

/*
 * Runs a prepared statement that returns rows, calling fn for each. The statement is
 * prepared once per connection and found again by its text.
 * Returns FL_OK, fn's error, FL_EINVAL when the statement returns more columns than a row
 * may have, or FL_EDB (also at once, without a round trip, while the breaker is open).
 */
enum fl_err fl_db_query(struct fl_db *db, const char *sql, const struct fl_db_arg *args,
                        size_t nargs, fl_db_row_fn fn, void *ud);

/*
 * Runs a prepared statement that returns no rows. affected and insert_id may be NULL.
 * Returns FL_OK, FL_ECONFLICT on a duplicate key, or FL_EDB.
 */
enum fl_err fl_db_exec(struct fl_db *db, const char *sql, const struct fl_db_arg *args,
                       size_t nargs, uint64_t *affected, uint64_t *insert_id);

/* Runs one or more ';'-separated statements as text (migrations only: no arguments). */
enum fl_err fl_db_exec_script(struct fl_db *db, struct fl_str sql);

/*
 * Fills buf with up to cap bytes of LOAD DATA input; returns the count, 0 at the end, or -1
 * to abort the load.
 */
typedef long (*fl_db_source_fn)(void *ud, char *buf, size_t cap);

/*
 * Allows fl_db_load_data on db; call before db's first use (it is a connect option, off by
 * default so a worker's connection can never be asked to read local files).
 */
void fl_db_enable_bulk_load(struct fl_db *db);

/*
 * Runs sql, a "LOAD DATA LOCAL INFILE 'stream' ..." statement, feeding it the bytes fn
 * produces instead of a file. Returns FL_OK with the rows loaded in rows (may be NULL),
 * FL_EINVAL when db was not allowed bulk loads (fl_db_enable_bulk_load), or FL_EDB.
 */
enum fl_err fl_db_load_data(struct fl_db *db, const char *sql, fl_db_source_fn fn, void *ud,
                            uint64_t *rows);

/* Transactions. Nothing is retried inside one; a lost connection rolls it back. */
enum fl_err fl_db_begin(struct fl_db *db);
enum fl_err fl_db_commit(struct fl_db *db);
void fl_db_rollback(struct fl_db *db);

/* The body of a transaction: its statements on db, with ud its caller's state. */
typedef enum fl_err (*fl_db_tx_fn)(struct fl_db *db, void *ud);

/* How many times fl_db_transact runs a transaction at most. */
#define FL_DB_TX_TRIES 4

/*
 * Runs fn inside a transaction and commits when it returns FL_OK, or rolls back. A try that
 * failed on a deadlock or Galera certification conflict (MySQL error 1213), a node out of
 * its cluster's primary component (1047) or a lost connection (2006, 2013: the next try
 * connects to the URL's next host) is run again from the start, FL_DB_TX_TRIES times in
 * all; nothing is run again after a timeout or while the breaker is open. So fn must set
 * its results anew on each run, and a commit whose answer was lost may have landed: a run
 * after it must find that out (a unique key: FL_ECONFLICT). Returns FL_OK, fn's error,
 * or FL_EDB.
 */
enum fl_err fl_db_transact(struct fl_db *db, fl_db_tx_fn fn, void *ud);

/*
 * Drops db's connection, so that the next call connects to the URL's next host (a node
 * found out of its cluster's primary component). With one host: it reconnects to it.
 */
void fl_db_move_on(struct fl_db *db);

/* True while db's breaker is open: tripped, and not yet closed by an answered probe. */
bool fl_db_breaker_open(const struct fl_db *db);

/* How many hosts db's URL names (several: a Galera cluster's nodes). */
size_t fl_db_hosts(const struct fl_db *db);

/* Appends the address, without credentials, of the host db is connected to or tries next. */
void fl_db_address(const struct fl_db *db, struct fl_buf *out);

/* Microseconds spent in calls on db since it was created (for Server-Timing); NULL: 0. */
int64_t fl_db_busy_us(const struct fl_db *db);

/*
 * Statements executed, errors seen, and calls refused by the open breaker since db was
 * created (for metrics); NULL: 0.
 */
uint64_t fl_db_queries(const struct fl_db *db);
uint64_t fl_db_errors(const struct fl_db *db);
uint64_t fl_db_skipped(const struct fl_db *db);

/* Transactions fl_db_transact ran again since db was created (for metrics); NULL: 0. */
uint64_t fl_db_tx_retries(const struct fl_db *db);

/*
 * True when the last statement on db was cut short by its own LIMIT ROWS EXAMINED: it
 * returned FL_EDB (the bound stopped a sort; nothing is logged) or FL_OK with a warning
 * (the rows so far, maybe not all of them). Either way its rows must not be used. Any
 * warning counts, so only a statement with such a bound, and none that can warn
 * otherwise, should ask.
 */
bool fl_db_stopped(const struct fl_db *db);

#endif
