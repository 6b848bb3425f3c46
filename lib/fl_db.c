/* SPDX-License-Identifier: MIT */
/*
 * The MySQL connection: lazy connect, transparent reconnect, transactions, scripts and bulk
 * loads (its prepared statements are lib/fl_db_stmt.c's). MySQL error text is logged in
 * this module, the only place that has it, and never returned to callers, so it cannot
 * reach a response. A bounded connection (fl_db_bound_statements) has
 * the server abort any statement that runs past its bound, waits for an answer a little
 * longer than that, and after a timeout or a failed connect stops sending anything until
 * a probe interval has passed (the breaker).
 */
#include "fl_db.h"

#include <errmsg.h>
#include <mysqld_error.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_buf.h"
#include "fl_db_int.h"
#include "fl_log.h"
#include "fl_time.h"

/*
 * The breaker. After a timeout or a failed connect nothing is sent for PROBE_INTERVAL_US.
 * Then one call probes (a /health ping is one too): a ping that must answer within
 * PROBE_PING_MS (a loopback connect takes 1-3 ms here), then its statement
 * with the server's bound cut to PROBE_STATEMENT_MS, so that a server that is still hung
 * or locked costs the probing request 50 ms, not the full bound. A listing statement
 * takes 0.3-2 ms on 1M rows here, a search at most 20 ms (tests/bench): inside the bound.
 */
#define PROBE_INTERVAL_US  1000000
#define PROBE_PING_MS      50
#define PROBE_STATEMENT_MS 50
/* How much longer than the server's bound the client waits for the server's own error. */
#define CLIENT_GRACE_MS   200
#define INIT_MAX_BYTES    512
#define ADDRESS_MAX_BYTES 256

struct fl_db *fl_db_new(const struct fl_mysql_dsn *dsn, unsigned timeout_s)
{
    struct fl_db *db = calloc(1, sizeof(*db));

    if (db == NULL)
        return NULL;
    db->timeout_s = timeout_s ? timeout_s : 1;
    if (fl_dsn_mysql_copy(&db->dsn, dsn) != FL_OK) {
        fl_db_free(db);
        return NULL;
    }
    return db;
}

static void disconnect(struct fl_db *db)
{
    fl_db_stmts_close(db);
    if (db->conn)
        mysql_close(db->conn);
    db->conn = NULL;
    db->in_tx = false;
}

void fl_db_free(struct fl_db *db)
{
    if (db == NULL)
        return;
    disconnect(db);
    fl_dsn_mysql_free(&db->dsn);
    free(db->rowbuf);
    free(db->binds);
    free(db->lens);
    free(db);
}

/* True for errors after which the connection is unusable. */
static bool conn_lost(unsigned e)
{
    return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONNECTION_ERROR ||
           e == CR_CONN_HOST_ERROR || e == CR_SERVER_LOST_EXTENDED || e == ER_CONNECTION_KILLED ||
           e == 4031 /* ER_CLIENT_INTERACTION_TIMEOUT */ || e == CR_COMMANDS_OUT_OF_SYNC;
}

/*
 * Waits for what a non-blocking MySQL call asked for (status) until deadline_us. Returns
 * the status to continue the call with, or 0 when the deadline passed first.
 */
int fl_db_wait_io(MYSQL *m, int status, int64_t deadline_us)
{
    struct pollfd p = {.fd = mysql_get_socket(m)};
    int64_t left_ms = (deadline_us - fl_time_mono_us()) / 1000;
    int lib_ms = -1, r;

    if (status & MYSQL_WAIT_TIMEOUT)
        lib_ms = (int)mysql_get_timeout_value_ms(m);
    if (left_ms <= 0)
        return 0;
    if (status & MYSQL_WAIT_READ)
        p.events |= POLLIN;
    if (status & MYSQL_WAIT_WRITE)
        p.events |= POLLOUT;
    if (status & MYSQL_WAIT_EXCEPT)
        p.events |= POLLPRI;
    do {
        r = poll(&p, 1, lib_ms >= 0 && lib_ms < left_ms ? lib_ms : (int)left_ms);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return lib_ms >= 0 && lib_ms < left_ms ? MYSQL_WAIT_TIMEOUT : 0;
    status = 0;
    if (p.revents & (POLLIN | POLLERR | POLLHUP))
        status |= MYSQL_WAIT_READ;
    if (p.revents & POLLOUT)
        status |= MYSQL_WAIT_WRITE;
    if (p.revents & POLLPRI)
        status |= MYSQL_WAIT_EXCEPT;
    return status;
}

/* Trips the breaker: nothing is sent before a probe interval has passed. */
static void trip(struct fl_db *db, const char *why)
{
    if (!db->open)
        fl_log(FL_LOG_WARN, "event=db_breaker_open reason=%s for_ms=%d", why,
               PROBE_INTERVAL_US / 1000);
    db->open = true;
    db->open_until_us = fl_time_mono_us() + PROBE_INTERVAL_US;
}

/*
 * The session settings: UTC, strict modes and, on a bounded connection, the server's own
 * bound on every statement and on every lock wait (a table or row lock must not hold a
 * worker longer than a statement may run).
 */
static void init_command(const struct fl_db *db, char *out, size_t cap)
{
    unsigned lock_s = (db->statement_ms + 999) / 1000;

    snprintf(out, cap,
             "SET time_zone='+00:00', sql_mode='STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
             "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'");
    if (db->statement_ms)
        snprintf(out + strlen(out), cap - strlen(out),
                 ", max_statement_time=%u.%03u, lock_wait_timeout=%u, innodb_lock_wait_timeout=%u",
                 db->statement_ms / 1000, db->statement_ms % 1000, lock_s, lock_s);
}

/* Where db connects now, for the log: "host:port" or the socket path (truncated to cap). */
static void address(const struct fl_db *db, char *out, size_t cap)
{
    struct fl_buf b;

    fl_buf_init(&b, 0);
    fl_db_address(db, &b);
    snprintf(out, cap, "%s", fl_buf_err(&b) || b.p == NULL ? "?" : b.p);
    fl_buf_free(&b);
}

/*
 * Connects to the dsn's host db->host by deadline_us, using the client library's
 * non-blocking API (the options' whole seconds are too coarse for /health's one-second
 * budget). Returns the connection, or NULL (logged unless the server was known to be down).
 */
static MYSQL *connect_host(struct fl_db *db, int64_t deadline_us)
{
    char init[INIT_MAX_BYTES];
    unsigned io_s =
        db->statement_ms ? (db->statement_ms + CLIENT_GRACE_MS + 999) / 1000 : db->timeout_s;
    struct fl_dsn_host h = fl_dsn_mysql_host(&db->dsn, db->host);
    my_bool off = 0;
    MYSQL *m = mysql_init(NULL), *ret = NULL;
    int status;

    if (m == NULL)
        return NULL;
    init_command(db, init, sizeof(init));
    mysql_options(m, MYSQL_OPT_NONBLOCK, 0);
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &db->timeout_s);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io_s);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io_s);
    mysql_options(m, MYSQL_OPT_RECONNECT, &off);
    if (db->bulk_load) {
        unsigned on = 1;
        mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &on);
    }
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_INIT_COMMAND, init);
    status =
        mysql_real_connect_start(&ret, m, h.host ? h.host : "localhost", db->dsn.user,
                                 db->dsn.password, db->dsn.database, h.port, db->dsn.socket, 0);
    while (status) {
        status = fl_db_wait_io(m, status, deadline_us);
        if (status == 0)
            break;
        status = mysql_real_connect_cont(&ret, m, status);
    }
    if (ret != NULL)
        return m;
    if (!db->down) {
        char addr[ADDRESS_MAX_BYTES];
        address(db, addr, sizeof(addr));
        fl_log(FL_LOG_ERROR, "event=db_connect_failed address=%s errno=%u error=\"%s\"", addr,
               status ? 0 : mysql_errno(m), status ? "timed out" : mysql_error(m));
    }
    mysql_close(m);
    return NULL;
}

/* The next connect starts with the dsn's next host (a no-op with one host). */
static void move_on(struct fl_db *db)
{
    size_t n = fl_dsn_mysql_hosts(&db->dsn);

    db->host = (db->host + 1) % n;
    db->moved |= n > 1;
}

/*
 * Connects by deadline_us to the host tried last or, when it fails, to the next ones in the
 * URL's order (each given an even share of the time left); a host that answers is kept
 * until it fails. Trips the breaker when none answers.
 */
static enum fl_err connect_now(struct fl_db *db, int64_t deadline_us)
{
    size_t n = fl_dsn_mysql_hosts(&db->dsn);

    for (size_t tried = 0; tried < n; tried++) {
        int64_t now = fl_time_mono_us();
        MYSQL *m = connect_host(db, now + (deadline_us - now) / (int64_t)(n - tried));

        if (m == NULL) {
            move_on(db);
            continue;
        }
        if (db->down || db->moved) {
            char addr[ADDRESS_MAX_BYTES];
            address(db, addr, sizeof(addr));
            fl_log(FL_LOG_INFO, "event=db_connected address=%s", addr);
        }
        db->down = db->moved = false;
        db->short_bound = false;
        db->conn = m;
        return FL_OK;
    }
    db->down = true;
    db->errors++;
    trip(db, "connect_failed");
    return FL_EDB;
}

/*
 * The server ran out of time. With one host the breaker trips at once. With several (a
 * Galera cluster's nodes, which all stall their commits for a moment while a lost node is
 * evicted) the next call goes to the next host, and the breaker trips only once every host
 * in a row has run out of time.
 */
static void slow(struct fl_db *db, const char *why)
{
    if (++db->slow_in_row < fl_dsn_mysql_hosts(&db->dsn)) {
        disconnect(db);
        move_on(db);
        return;
    }
    db->slow_in_row = 0;
    trip(db, why);
}

/*
 * Logs a failed call, drops the connection if it is gone, and trips the breaker when the
 * server ran out of time (its own statement or lock-wait bound; see slow). Returns FL_EDB.
 */
enum fl_err fl_db_failed(struct fl_db *db, unsigned e, const char *what, const char *error)
{
    db->errors++;
    db->last_errno = e;
    if (conn_lost(e) || e == ER_UNKNOWN_COM_ERROR) {
        /* Gone, or a Galera node that left its cluster's primary component ("WSREP has not
         * yet prepared node for application use"): the next connect tries the next host. */
        fl_log(FL_LOG_WARN, "event=db_connection_lost op=%s errno=%u error=\"%s\"", what, e, error);
        disconnect(db);
        move_on(db);
    } else {
        fl_log(FL_LOG_ERROR, "event=db_error op=%s errno=%u error=\"%s\"", what, e, error);
    }
    if (e == ER_STATEMENT_TIMEOUT || e == ER_LOCK_WAIT_TIMEOUT)
        slow(db, "statement_timeout");
    return FL_EDB;
}

/* The client's deadline passed mid-call: the connection is unusable and the server slow. */
enum fl_err fl_db_timed_out(struct fl_db *db, const char *what)
{
    db->errors++;
    db->last_errno = 0;
    fl_log(FL_LOG_WARN, "event=db_timeout op=%s", what);
    disconnect(db);
    slow(db, "client_timeout");
    return FL_EDB;
}

/* Sets the session's statement bound. Returns FL_OK or FL_EDB. */
static enum fl_err set_bound(struct fl_db *db, unsigned ms)
{
    char sql[64];

    snprintf(sql, sizeof(sql), "SET SESSION max_statement_time=%u.%03u", ms / 1000, ms % 1000);
    if (mysql_real_query(db->conn, sql, strlen(sql)) != 0)
        return fl_db_failed(db, mysql_errno(db->conn), "set_bound", mysql_error(db->conn));
    db->short_bound = ms != db->statement_ms;
    return FL_OK;
}

/*
 * Lets a call through the breaker, connecting if needed. While the breaker is open nothing
 * is sent; once the probe interval has passed, this call is the probe (see PROBE_*).
 * Returns FL_OK, or FL_EDB when the call must not or cannot reach the server.
 */
enum fl_err fl_db_admit(struct fl_db *db)
{
    if (!db->open)
        return db->conn ? FL_OK
                        : connect_now(db, fl_time_mono_us() + (int64_t)db->timeout_s * 1000000);
    if (fl_time_mono_us() < db->open_until_us) {
        db->skipped++;
        return FL_EDB;
    }
    if (fl_db_ping(db, PROBE_PING_MS) != FL_OK ||
        (db->statement_ms && set_bound(db, PROBE_STATEMENT_MS) != FL_OK)) {
        trip(db, "probe_failed");
        return FL_EDB;
    }
    return FL_OK;
}

/* A call went through: a probe closes the breaker and restores the full bound. */
void fl_db_answered(struct fl_db *db)
{
    db->slow_in_row = 0;
    if (!db->open || db->conn == NULL)
        return;
    if (db->short_bound && set_bound(db, db->statement_ms) != FL_OK)
        return;
    db->open = false;
    fl_log(FL_LOG_INFO, "event=db_breaker_closed");
}

enum fl_err fl_db_ping(struct fl_db *db, unsigned budget_ms)
{
    int64_t t0 = fl_time_mono_us(), deadline = t0 + (int64_t)budget_ms * 1000;
    enum fl_err err = FL_OK;

    /* The breaker is open: a ping still asks (telling whether the server answers is what
     * /health is for), but waits no longer than a probe does. */
    if (db->open && t0 < db->open_until_us && budget_ms > PROBE_PING_MS)
        deadline = t0 + (int64_t)PROBE_PING_MS * 1000;

    for (int attempt = 0; attempt < 2; attempt++) {
        int64_t started = fl_time_mono_us();
        int ret = 1, status;
        bool abandoned = false;

        if (db->conn == NULL && (err = connect_now(db, deadline)) != FL_OK)
            break;
        status = mysql_ping_start(&ret, db->conn);
        while (status && !abandoned) {
            status = fl_db_wait_io(db->conn, status, deadline);
            abandoned = status == 0;
            if (!abandoned)
                status = mysql_ping_cont(&ret, db->conn, status);
        }
        if (ret == 0 && !abandoned)
            break;
        /* Abandoned mid-call or failed: the connection is unusable either way. */
        if (abandoned) {
            err = fl_db_timed_out(db, "ping");
            break;
        }
        err = fl_db_failed(db, mysql_errno(db->conn), "ping", mysql_error(db->conn));
        disconnect(db);
        /* A stale connection fails at once and deserves one fresh try; a hung server does not. */
        if (fl_time_mono_us() - started > FL_DB_STALE_FAILURE_US)
            break;
    }
    /* The server answers again: the next call probes it at once instead of waiting out
     * the probe interval. */
    if (err == FL_OK && db->open)
        db->open_until_us = 0;
    db->busy_us += fl_time_mono_us() - t0;
    return err;
}

/* When the client abandons a statement it sends now (monotonic microseconds). */
int64_t fl_db_deadline_us(const struct fl_db *db)
{
    int64_t ms =
        db->statement_ms ? db->statement_ms + CLIENT_GRACE_MS : (int64_t)db->timeout_s * 1000;
    return fl_time_mono_us() + ms * 1000;
}

enum fl_err fl_db_exec_script(struct fl_db *db, struct fl_str sql)
{
    int64_t t0 = fl_time_mono_us();
    enum fl_err err;
    int status;

    if ((err = fl_db_admit(db)) != FL_OK)
        return err;
    mysql_set_server_option(db->conn, MYSQL_OPTION_MULTI_STATEMENTS_ON);
    db->queries++;
    status = mysql_real_query(db->conn, sql.p, sql.len);
    while (status == 0) {
        MYSQL_RES *res = mysql_store_result(db->conn);
        mysql_free_result(res);
        status = mysql_next_result(db->conn);
    }
    if (status > 0)
        err = fl_db_failed(db, mysql_errno(db->conn), "script", mysql_error(db->conn));
    if (db->conn)
        mysql_set_server_option(db->conn, MYSQL_OPTION_MULTI_STATEMENTS_OFF);
    db->busy_us += fl_time_mono_us() - t0;
    return err;
}

void fl_db_bound_statements(struct fl_db *db, unsigned statement_ms)
{
    db->statement_ms = statement_ms;
}

void fl_db_enable_bulk_load(struct fl_db *db)
{
    db->bulk_load = true;
}

struct source {
    fl_db_source_fn fn;
    void *ud;
};

static int source_init(void **ptr, const char *name, void *ud)
{
    (void)name;
    *ptr = ud;
    return 0;
}

static int source_read(void *ptr, char *buf, unsigned int cap)
{
    struct source *src = ptr;
    long n = src->fn(src->ud, buf, cap);

    return n < 0 ? -1 : (int)n;
}

static void source_end(void *ptr)
{
    (void)ptr;
}

static int source_error(void *ptr, char *msg, unsigned int cap)
{
    (void)ptr;
    snprintf(msg, cap, "the data source failed");
    return CR_UNKNOWN_ERROR;
}

enum fl_err fl_db_load_data(struct fl_db *db, const char *sql, fl_db_source_fn fn, void *ud,
                            uint64_t *rows)
{
    struct source src = {fn, ud};
    int64_t t0 = fl_time_mono_us();
    enum fl_err err;

    if (!db->bulk_load)
        return FL_EINVAL;
    if ((err = fl_db_admit(db)) != FL_OK)
        return err;
    mysql_set_local_infile_handler(db->conn, source_init, source_read, source_end, source_error,
                                   &src);
    db->queries++;
    if (mysql_real_query(db->conn, sql, strlen(sql)) != 0)
        err = fl_db_failed(db, mysql_errno(db->conn), "load_data", mysql_error(db->conn));
    else if (rows)
        *rows = mysql_affected_rows(db->conn);
    if (db->conn)
        mysql_set_local_infile_default(db->conn);
    db->busy_us += fl_time_mono_us() - t0;
    return err;
}

/* Runs a statement without arguments or rows (transactions), within the statement bound. */
static enum fl_err simple(struct fl_db *db, const char *sql)
{
    int64_t t0 = fl_time_mono_us(), until = fl_db_deadline_us(db);
    enum fl_err err = fl_db_admit(db);
    int ret = 0, status;

    if (err != FL_OK)
        return err;
    status = mysql_real_query_start(&ret, db->conn, sql, strlen(sql));
    while (status) {
        status = fl_db_wait_io(db->conn, status, until);
        if (status == 0) {
            err = fl_db_timed_out(db, sql);
            break;
        }
        status = mysql_real_query_cont(&ret, db->conn, status);
    }
    if (err == FL_OK && ret != 0)
        err = fl_db_failed(db, mysql_errno(db->conn), sql, mysql_error(db->conn));
    if (err == FL_OK)
        fl_db_answered(db);
    db->busy_us += fl_time_mono_us() - t0;
    return err;
}

enum fl_err fl_db_begin(struct fl_db *db)
{
    enum fl_err err = FL_OK;

    /* A stale connection is found out here, before anything of the transaction is sent:
     * one fresh try when a connection we had failed at once; none after a timeout, nor
     * when there was no connection (the breaker refused, or the connect failed). */
    for (int attempt = 0; attempt < 2; attempt++) {
        int64_t t0 = fl_time_mono_us();
        bool had = db->conn != NULL;

        err = simple(db, "START TRANSACTION");
        if (err == FL_OK || !had || db->conn != NULL ||
            fl_time_mono_us() - t0 > FL_DB_STALE_FAILURE_US)
            break;
    }
    db->in_tx = err == FL_OK;
    return err;
}

/*
 * Ends the transaction with sql. When that cannot be sent (the breaker opened inside the
 * transaction), the connection is closed: the server rolls back what it leaves open.
 */
static enum fl_err end_tx(struct fl_db *db, const char *sql)
{
    enum fl_err err = db->conn ? simple(db, sql) : FL_EDB;

    if (err != FL_OK && db->conn)
        disconnect(db);
    db->in_tx = false;
    return err;
}

enum fl_err fl_db_commit(struct fl_db *db)
{
    return end_tx(db, "COMMIT");
}

void fl_db_rollback(struct fl_db *db)
{
    end_tx(db, "ROLLBACK");
}

/*
 * True for a transaction that failed in a way worth running it again: a deadlock or, on
 * Galera, a certification conflict (the server rolled it back: error 1213), a node that
 * left its cluster's primary component (1047), or a lost connection (2006, 2013, ...: the
 * next try connects to the next host).
 */
static bool tx_retryable(unsigned e)
{
    return e == ER_LOCK_DEADLOCK || e == ER_UNKNOWN_COM_ERROR || conn_lost(e);
}

/* One try of fl_db_transact. *e is the server's error when it failed, else 0. */
static enum fl_err transact_once(struct fl_db *db, fl_db_tx_fn fn, void *ud, unsigned *e)
{
    enum fl_err err;

    db->last_errno = 0;
    if ((err = fl_db_begin(db)) == FL_OK && (err = fn(db, ud)) != FL_OK) {
        *e = db->last_errno; /* before the rollback can change it */
        fl_db_rollback(db);
        return err;
    }
    if (err == FL_OK)
        err = fl_db_commit(db);
    *e = err == FL_OK ? 0 : db->last_errno;
    return err;
}

enum fl_err fl_db_transact(struct fl_db *db, fl_db_tx_fn fn, void *ud)
{
    enum fl_err err = FL_EDB;
    unsigned e = 0;

    for (int attempt = 0; attempt < FL_DB_TX_TRIES; attempt++) {
        if (attempt) {
            db->tx_retries++;
            fl_log(FL_LOG_WARN, "event=db_tx_retry errno=%u try=%d", e, attempt + 1);
        }
        err = transact_once(db, fn, ud, &e);
        if (err != FL_EDB || !tx_retryable(e))
            break;
    }
    return err;
}

void fl_db_move_on(struct fl_db *db)
{
    disconnect(db);
    move_on(db);
}

bool fl_db_breaker_open(const struct fl_db *db)
{
    return db->open;
}

size_t fl_db_hosts(const struct fl_db *db)
{
    return fl_dsn_mysql_hosts(&db->dsn);
}

void fl_db_address(const struct fl_db *db, struct fl_buf *out)
{
    fl_dsn_mysql_host_address(&db->dsn, db->host, out);
}

int64_t fl_db_busy_us(const struct fl_db *db)
{
    return db ? db->busy_us : 0;
}

uint64_t fl_db_queries(const struct fl_db *db)
{
    return db ? db->queries : 0;
}

uint64_t fl_db_errors(const struct fl_db *db)
{
    return db ? db->errors : 0;
}

uint64_t fl_db_skipped(const struct fl_db *db)
{
    return db ? db->skipped : 0;
}

uint64_t fl_db_tx_retries(const struct fl_db *db)
{
    return db ? db->tx_retries : 0;
}

bool fl_db_stopped(const struct fl_db *db)
{
    return db && db->stopped;
}
