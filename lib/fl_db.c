/* SPDX-License-Identifier: MIT */
/*
 * MySQL connection with lazy connect, transparent reconnect and a prepared statement cache.
 * MySQL error text is logged here, the only place that has it, and never returned to
 * callers, so it cannot reach a response. A bounded connection (fl_db_bound_statements) has
 * the server abort any statement that runs past its bound, waits for an answer a little
 * longer than that, and after a timeout or a failed connect stops sending anything until
 * a probe interval has passed (the breaker).
 */
#include "fl_db.h"

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_log.h"
#include "fl_time.h"

#define STMT_CACHE_MAX 160
#define COLS_MAX       64
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
#define CLIENT_GRACE_MS 200
/* A lost connection found out faster than this was stale: one fresh try is worth it. */
#define STALE_FAILURE_US 50000
#define INIT_MAX_BYTES   512

struct cached_stmt {
    char *sql; /* owned copy: the cache key */
    size_t len;
    uint64_t last_used; /* db->queries when last used, for eviction */
    MYSQL_STMT *stmt;
};

struct fl_db {
    MYSQL *conn;             /* NULL while disconnected */
    struct fl_mysql_dsn dsn; /* owned copy */
    unsigned timeout_s;
    unsigned statement_ms; /* the server's bound on one statement; 0: none */
    bool short_bound;      /* the session's bound is PROBE_STATEMENT_MS (probing) */
    int64_t open_until_us; /* the breaker: nothing is sent before this monotonic time */
    bool open;             /* the breaker has tripped and not yet been probed closed */
    bool down;             /* the last connect failed (logged once per outage) */
    bool in_tx;
    bool bulk_load; /* LOCAL INFILE allowed (farmlokal-ctl seed only) */
    bool stopped;   /* the last statement hit its LIMIT ROWS EXAMINED */
    struct cached_stmt stmts[STMT_CACHE_MAX];
    size_t n_stmts;
    char *rowbuf; /* result column buffers, reused across queries */
    size_t rowbuf_cap;
    MYSQL_BIND *binds; /* parameter bindings, reused across queries */
    unsigned long *lens;
    size_t binds_cap;
    int64_t busy_us;
    uint64_t queries, errors, skipped;
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

struct fl_db *fl_db_new(const struct fl_mysql_dsn *dsn, unsigned timeout_s)
{
    struct fl_db *db = calloc(1, sizeof(*db));

    if (db == NULL)
        return NULL;
    db->dsn.host = dup_or_null(dsn->host);
    db->dsn.user = dup_or_null(dsn->user);
    db->dsn.password = dup_or_null(dsn->password);
    db->dsn.database = dup_or_null(dsn->database);
    db->dsn.socket = dup_or_null(dsn->socket);
    db->dsn.port = dsn->port;
    db->timeout_s = timeout_s ? timeout_s : 1;
    if ((dsn->host && !db->dsn.host) || (dsn->user && !db->dsn.user) ||
        (dsn->password && !db->dsn.password) || (dsn->database && !db->dsn.database) ||
        (dsn->socket && !db->dsn.socket)) {
        fl_db_free(db);
        return NULL;
    }
    return db;
}

static void disconnect(struct fl_db *db)
{
    for (size_t i = 0; i < db->n_stmts; i++) {
        mysql_stmt_close(db->stmts[i].stmt);
        free(db->stmts[i].sql);
    }
    db->n_stmts = 0;
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
    free(db->dsn.host);
    free(db->dsn.user);
    free(db->dsn.password);
    free(db->dsn.database);
    free(db->dsn.socket);
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
static int wait_io(MYSQL *m, int status, int64_t deadline_us)
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

/*
 * Connects with a deadline in microseconds (the options' whole seconds are too coarse for
 * /health's one-second budget), using the client library's non-blocking API.
 */
static enum fl_err connect_now(struct fl_db *db, int64_t deadline_us)
{
    char init[INIT_MAX_BYTES];
    unsigned io_s =
        db->statement_ms ? (db->statement_ms + CLIENT_GRACE_MS + 999) / 1000 : db->timeout_s;
    my_bool off = 0;
    MYSQL *m, *ret = NULL;
    int status;

    m = mysql_init(NULL);
    if (m == NULL)
        return FL_ENOMEM;
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
    status = mysql_real_connect_start(&ret, m, db->dsn.host ? db->dsn.host : "localhost",
                                      db->dsn.user, db->dsn.password, db->dsn.database,
                                      db->dsn.port, db->dsn.socket, 0);
    while (status) {
        status = wait_io(m, status, deadline_us);
        if (status == 0)
            break;
        status = mysql_real_connect_cont(&ret, m, status);
    }
    if (ret == NULL) {
        if (!db->down)
            fl_log(FL_LOG_ERROR, "event=db_connect_failed errno=%u error=\"%s\"",
                   status ? 0 : mysql_errno(m), status ? "timed out" : mysql_error(m));
        db->down = true;
        db->errors++;
        trip(db, "connect_failed");
        mysql_close(m);
        return FL_EDB;
    }
    if (db->down)
        fl_log(FL_LOG_INFO, "event=db_reconnected");
    db->down = false;
    db->short_bound = false;
    db->conn = m;
    return FL_OK;
}

/*
 * Logs a failed call, drops the connection if it is gone, and trips the breaker when the
 * server ran out of time (its own statement or lock-wait bound). Returns FL_EDB.
 */
static enum fl_err failed(struct fl_db *db, unsigned e, const char *what, const char *error)
{
    db->errors++;
    if (conn_lost(e)) {
        fl_log(FL_LOG_WARN, "event=db_connection_lost op=%s errno=%u error=\"%s\"", what, e, error);
        disconnect(db);
    } else {
        fl_log(FL_LOG_ERROR, "event=db_error op=%s errno=%u error=\"%s\"", what, e, error);
    }
    if (e == ER_STATEMENT_TIMEOUT || e == ER_LOCK_WAIT_TIMEOUT)
        trip(db, "statement_timeout");
    return FL_EDB;
}

/* The client's deadline passed mid-call: the connection is unusable and the server slow. */
static enum fl_err timed_out(struct fl_db *db, const char *what)
{
    db->errors++;
    fl_log(FL_LOG_WARN, "event=db_timeout op=%s", what);
    disconnect(db);
    trip(db, "client_timeout");
    return FL_EDB;
}

/* Sets the session's statement bound. Returns FL_OK or FL_EDB. */
static enum fl_err set_bound(struct fl_db *db, unsigned ms)
{
    char sql[64];

    snprintf(sql, sizeof(sql), "SET SESSION max_statement_time=%u.%03u", ms / 1000, ms % 1000);
    if (mysql_real_query(db->conn, sql, strlen(sql)) != 0)
        return failed(db, mysql_errno(db->conn), "set_bound", mysql_error(db->conn));
    db->short_bound = ms != db->statement_ms;
    return FL_OK;
}

/*
 * Lets a call through the breaker, connecting if needed. While the breaker is open nothing
 * is sent; once the probe interval has passed, this call is the probe (see PROBE_*).
 * Returns FL_OK, or FL_EDB when the call must not or cannot reach the server.
 */
static enum fl_err admit(struct fl_db *db)
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
static void answered(struct fl_db *db)
{
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

    if (db->open && t0 < db->open_until_us) {
        db->skipped++;
        return FL_EDB; /* a ping is a probe too: one per probe interval */
    }

    for (int attempt = 0; attempt < 2; attempt++) {
        int64_t started = fl_time_mono_us();
        int ret = 1, status;
        bool abandoned = false;

        if (db->conn == NULL && (err = connect_now(db, deadline)) != FL_OK)
            break;
        status = mysql_ping_start(&ret, db->conn);
        while (status && !abandoned) {
            status = wait_io(db->conn, status, deadline);
            abandoned = status == 0;
            if (!abandoned)
                status = mysql_ping_cont(&ret, db->conn, status);
        }
        if (ret == 0 && !abandoned)
            break;
        /* Abandoned mid-call or failed: the connection is unusable either way. */
        if (abandoned) {
            err = timed_out(db, "ping");
            break;
        }
        err = failed(db, mysql_errno(db->conn), "ping", mysql_error(db->conn));
        disconnect(db);
        /* A stale connection fails at once and deserves one fresh try; a hung server does not. */
        if (fl_time_mono_us() - started > STALE_FAILURE_US)
            break;
    }
    /* The server answers again: the next call probes it at once instead of waiting out
     * the probe interval. */
    if (err == FL_OK && db->open)
        db->open_until_us = 0;
    db->busy_us += fl_time_mono_us() - t0;
    return err;
}

/*
 * Returns the cached statement for sql, preparing it on first use on this connection. The
 * application has a bounded set of statement shapes; when they exceed the cache, the least
 * recently used one is closed.
 */
static enum fl_err prepare(struct fl_db *db, const char *sql, MYSQL_STMT **out, unsigned *e)
{
    size_t len = strlen(sql), victim = 0;
    struct cached_stmt *c;
    my_bool on = 1;
    MYSQL_STMT *st;
    char *copy;

    for (size_t i = 0; i < db->n_stmts; i++) {
        c = &db->stmts[i];
        if (c->len == len && memcmp(c->sql, sql, len) == 0) {
            c->last_used = db->queries;
            *out = c->stmt;
            return FL_OK;
        }
        if (c->last_used < db->stmts[victim].last_used)
            victim = i;
    }
    copy = malloc(len + 1);
    st = copy ? mysql_stmt_init(db->conn) : NULL;
    if (st == NULL) {
        free(copy);
        return FL_ENOMEM;
    }
    memcpy(copy, sql, len + 1);
    if (mysql_stmt_prepare(st, sql, len) != 0) {
        *e = mysql_stmt_errno(st);
        failed(db, *e, "prepare", mysql_stmt_error(st));
        mysql_stmt_close(st);
        free(copy);
        return FL_EDB;
    }
    mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
    if (db->n_stmts == STMT_CACHE_MAX) {
        mysql_stmt_close(db->stmts[victim].stmt);
        free(db->stmts[victim].sql);
        c = &db->stmts[victim];
    } else {
        c = &db->stmts[db->n_stmts++];
    }
    c->sql = copy;
    c->len = len;
    c->last_used = db->queries;
    c->stmt = st;
    *out = st;
    return FL_OK;
}

static void bind_args(MYSQL_BIND *b, unsigned long *lens, const struct fl_db_arg *args, size_t n)
{
    memset(b, 0, sizeof(*b) * n);
    for (size_t i = 0; i < n; i++) {
        switch (args[i].type) {
        case FL_DB_I64:
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = (void *)&args[i].i64;
            break;
        case FL_DB_U64:
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = (void *)&args[i].u64;
            b[i].is_unsigned = 1;
            break;
        case FL_DB_STR:
            lens[i] = args[i].str.len;
            b[i].buffer_type = MYSQL_TYPE_STRING;
            b[i].buffer = (void *)(args[i].str.p ? args[i].str.p : "");
            b[i].buffer_length = lens[i];
            b[i].length = &lens[i];
            break;
        case FL_DB_NULL:
            b[i].buffer_type = MYSQL_TYPE_NULL;
            break;
        }
    }
}

/*
 * Bytes a column's text can take. Strings and blobs report their longest stored value
 * (STMT_ATTR_UPDATE_MAX_LENGTH); numbers and dates are converted to text by the client,
 * so their display width bounds them.
 */
static size_t col_width(const MYSQL_FIELD *f)
{
    if (f->type == MYSQL_TYPE_BLOB || f->type == MYSQL_TYPE_VAR_STRING ||
        f->type == MYSQL_TYPE_STRING || f->length <= f->max_length)
        return f->max_length;
    return f->length < 64 ? 64 : f->length;
}

/* Fetches every stored row of st into text columns and hands them to fn. */
static enum fl_err fetch_rows(struct fl_db *db, MYSQL_STMT *st, fl_db_row_fn fn, void *ud)
{
    MYSQL_RES *meta = mysql_stmt_result_metadata(st);
    MYSQL_BIND b[COLS_MAX];
    unsigned long lens[COLS_MAX];
    my_bool nulls[COLS_MAX];
    struct fl_str cols[COLS_MAX];
    size_t need = 0, off = 0;
    unsigned n;
    enum fl_err err = FL_OK;
    int rc;

    if (meta == NULL)
        return FL_OK;
    n = mysql_num_fields(meta);
    if (n > COLS_MAX) {
        mysql_free_result(meta);
        return FL_EINVAL;
    }
    MYSQL_FIELD *f = mysql_fetch_fields(meta);
    for (unsigned i = 0; i < n; i++)
        need += col_width(&f[i]) + 1;
    if (need > db->rowbuf_cap) {
        char *p = realloc(db->rowbuf, need);
        if (p == NULL) {
            mysql_free_result(meta);
            return FL_ENOMEM;
        }
        db->rowbuf = p;
        db->rowbuf_cap = need;
    }
    memset(b, 0, sizeof(b[0]) * n);
    for (unsigned i = 0; i < n; i++) {
        size_t w = col_width(&f[i]);
        b[i].buffer_type = MYSQL_TYPE_STRING;
        b[i].buffer = db->rowbuf + off;
        b[i].buffer_length = w + 1;
        b[i].length = &lens[i];
        b[i].is_null = &nulls[i];
        off += w + 1;
    }
    mysql_free_result(meta);
    if (mysql_stmt_bind_result(st, b) != 0)
        return failed(db, mysql_stmt_errno(st), "bind_result", mysql_stmt_error(st));
    while ((rc = mysql_stmt_fetch(st)) == 0) {
        for (unsigned i = 0; i < n; i++) {
            cols[i].p = nulls[i] ? NULL : (const char *)b[i].buffer;
            cols[i].len = nulls[i] ? 0 : lens[i];
        }
        if (err == FL_OK)
            err = fn(ud, cols, n);
    }
    if (rc == MYSQL_DATA_TRUNCATED) {
        fl_log(FL_LOG_ERROR, "event=db_error op=fetch error=\"column truncated\"");
        err = FL_EDB;
    } else if (rc != MYSQL_NO_DATA) {
        err = failed(db, mysql_stmt_errno(st), "fetch", mysql_stmt_error(st));
    }
    return err;
}

/* Room for n parameter bindings in db->binds and db->lens. */
static enum fl_err reserve_binds(struct fl_db *db, size_t n)
{
    MYSQL_BIND *b;
    unsigned long *l;

    if (n < 16)
        n = 16; /* never NULL, even for a statement without parameters */
    if (n <= db->binds_cap)
        return FL_OK;
    if (n > FL_DB_ARGS_MAX)
        return FL_EDB; /* a caller's bug: its statements are bounded below this */
    if ((b = realloc(db->binds, n * sizeof(*b))) != NULL)
        db->binds = b;
    if ((l = realloc(db->lens, n * sizeof(*l))) != NULL)
        db->lens = l;
    if (b == NULL || l == NULL)
        return FL_ENOMEM;
    db->binds_cap = n;
    return FL_OK;
}

typedef int (*stmt_cont_fn)(int *ret, MYSQL_STMT *st, int status);

/*
 * Finishes a non-blocking statement call begun with status, by deadline_us. Returns the
 * call's own result (0 for success), or -1 when the deadline passed first.
 */
static int finish(MYSQL *m, MYSQL_STMT *st, int status, int ret, stmt_cont_fn cont,
                  int64_t deadline_us)
{
    while (status) {
        status = wait_io(m, status, deadline_us);
        if (status == 0)
            return -1;
        status = cont(&ret, st, status);
    }
    return ret;
}

/* Executes st and stores its rows by deadline_us. Returns 0, 1 (failed) or -1 (timed out). */
static int execute(struct fl_db *db, MYSQL_STMT *st, bool rows, int64_t deadline_us)
{
    int ret = 0, status;

    if (mysql_stmt_bind_param(st, db->binds) != 0)
        return 1;
    status = mysql_stmt_execute_start(&ret, st);
    ret = finish(db->conn, st, status, ret, mysql_stmt_execute_cont, deadline_us);
    if (ret != 0 || !rows)
        return ret;
    status = mysql_stmt_store_result_start(&ret, st);
    return finish(db->conn, st, status, ret, mysql_stmt_store_result_cont, deadline_us);
}

/* When the client abandons a statement it sends now (monotonic microseconds). */
static int64_t statement_deadline_us(const struct fl_db *db)
{
    int64_t ms =
        db->statement_ms ? db->statement_ms + CLIENT_GRACE_MS : (int64_t)db->timeout_s * 1000;
    return fl_time_mono_us() + ms * 1000;
}

/*
 * Prepares (or reuses) and executes sql once. *stale is set when the connection turned out
 * to be gone at once, before the statement can have run (a fresh try is safe for a read,
 * and for a write when the server never took it).
 */
static enum fl_err run_once(struct fl_db *db, const char *sql, bool is_read, fl_db_row_fn fn,
                            void *ud, uint64_t *affected, uint64_t *insert_id, bool *stale)
{
    int64_t t0 = fl_time_mono_us();
    MYSQL_STMT *st;
    unsigned e = 0;
    enum fl_err err;
    int rc;

    *stale = false;
    db->stopped = false;
    if ((err = admit(db)) != FL_OK)
        return err;
    if ((err = prepare(db, sql, &st, &e)) != FL_OK) {
        *stale = db->conn == NULL && fl_time_mono_us() - t0 < STALE_FAILURE_US;
        return err;
    }
    db->queries++;
    rc = execute(db, st, fn != NULL, statement_deadline_us(db));
    if (rc < 0)
        return timed_out(db, "execute");
    if (rc > 0) {
        e = mysql_stmt_errno(st);
        if (e == ER_DUP_ENTRY)
            return FL_ECONFLICT;
        /* The statement's own LIMIT ROWS EXAMINED stopped a sort: its caller falls back. */
        db->stopped = e == ER_FILSORT_ABORT || e == ER_QUERY_RESULT_INCOMPLETE;
        if (db->stopped)
            return FL_EDB;
        err = failed(db, e, "execute", mysql_stmt_error(st));
        *stale = db->conn == NULL && fl_time_mono_us() - t0 < STALE_FAILURE_US &&
                 (is_read || e == CR_SERVER_GONE_ERROR);
        return err;
    }
    answered(db);
    if (affected)
        *affected = mysql_stmt_affected_rows(st);
    if (insert_id)
        *insert_id = mysql_stmt_insert_id(st);
    if (fn)
        err = fetch_rows(db, st, fn, ud);
    db->stopped = mysql_stmt_warning_count(st) > 0;
    if (db->conn)
        mysql_stmt_free_result(st);
    return err;
}

/*
 * Runs sql, once more on a fresh connection when the first try found the connection stale
 * (never in a transaction, and never after a timeout: a slow statement is not sent twice).
 */
static enum fl_err run(struct fl_db *db, const char *sql, const struct fl_db_arg *args,
                       size_t nargs, bool is_read, fl_db_row_fn fn, void *ud, uint64_t *affected,
                       uint64_t *insert_id)
{
    int64_t t0 = fl_time_mono_us();
    enum fl_err err = reserve_binds(db, nargs);
    bool stale = false;

    if (err != FL_OK)
        return err;
    bind_args(db->binds, db->lens, args, nargs);
    for (int attempt = 0; attempt < 2; attempt++) {
        err = run_once(db, sql, is_read, fn, ud, affected, insert_id, &stale);
        if (!stale || db->in_tx)
            break;
    }
    db->busy_us += fl_time_mono_us() - t0;
    return err;
}

enum fl_err fl_db_query(struct fl_db *db, const char *sql, const struct fl_db_arg *args,
                        size_t nargs, fl_db_row_fn fn, void *ud)
{
    return run(db, sql, args, nargs, true, fn, ud, NULL, NULL);
}

enum fl_err fl_db_exec(struct fl_db *db, const char *sql, const struct fl_db_arg *args,
                       size_t nargs, uint64_t *affected, uint64_t *insert_id)
{
    return run(db, sql, args, nargs, false, NULL, NULL, affected, insert_id);
}

enum fl_err fl_db_exec_script(struct fl_db *db, struct fl_str sql)
{
    int64_t t0 = fl_time_mono_us();
    enum fl_err err;
    int status;

    if ((err = admit(db)) != FL_OK)
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
        err = failed(db, mysql_errno(db->conn), "script", mysql_error(db->conn));
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
    if ((err = admit(db)) != FL_OK)
        return err;
    mysql_set_local_infile_handler(db->conn, source_init, source_read, source_end, source_error,
                                   &src);
    db->queries++;
    if (mysql_real_query(db->conn, sql, strlen(sql)) != 0)
        err = failed(db, mysql_errno(db->conn), "load_data", mysql_error(db->conn));
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
    int64_t t0 = fl_time_mono_us(), until = statement_deadline_us(db);
    enum fl_err err = admit(db);
    int ret = 0, status;

    if (err != FL_OK)
        return err;
    status = mysql_real_query_start(&ret, db->conn, sql, strlen(sql));
    while (status) {
        status = wait_io(db->conn, status, until);
        if (status == 0) {
            err = timed_out(db, sql);
            break;
        }
        status = mysql_real_query_cont(&ret, db->conn, status);
    }
    if (err == FL_OK && ret != 0)
        err = failed(db, mysql_errno(db->conn), sql, mysql_error(db->conn));
    if (err == FL_OK)
        answered(db);
    db->busy_us += fl_time_mono_us() - t0;
    return err;
}

enum fl_err fl_db_begin(struct fl_db *db)
{
    enum fl_err err = FL_OK;

    /* A stale connection is found out here, before anything of the transaction is sent:
     * one fresh try when it failed at once, none after a timeout. */
    for (int attempt = 0; attempt < 2; attempt++) {
        int64_t t0 = fl_time_mono_us();

        err = simple(db, "START TRANSACTION");
        if (err == FL_OK || db->conn != NULL || fl_time_mono_us() - t0 > STALE_FAILURE_US)
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

bool fl_db_stopped(const struct fl_db *db)
{
    return db && db->stopped;
}
