/* SPDX-License-Identifier: MIT */
/*
 * The db module's statements: each prepared once per connection and found again by its
 * text (least recently used closed past FL_DB_STMT_CACHE_MAX), bound from struct
 * fl_db_arg, run with the client library's non-blocking calls against a deadline a little
 * past the server's own bound, and read back as text columns. A statement found the
 * connection stale is sent once more on a fresh one when that is safe; nothing is sent
 * twice after a timeout. The connection and its breaker are fl_db.c's.
 */
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "fl_db_int.h"
#include "fl_log.h"
#include "fl_time.h"

#define COLS_MAX 64 /* columns a statement may return */

void fl_db_stmts_close(struct fl_db *db)
{
    for (size_t i = 0; i < db->n_stmts; i++) {
        mysql_stmt_close(db->stmts[i].stmt);
        free(db->stmts[i].sql);
    }
    db->n_stmts = 0;
}

/*
 * Returns the cached statement for sql, preparing it on first use on this connection. The
 * application has a bounded set of statement shapes; when they exceed the cache, the least
 * recently used one is closed.
 */
static enum fl_err prepare(struct fl_db *db, const char *sql, MYSQL_STMT **out, unsigned *e)
{
    size_t len = strlen(sql), victim = 0;
    struct fl_db_stmt *c;
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
        fl_db_failed(db, *e, "prepare", mysql_stmt_error(st));
        mysql_stmt_close(st);
        free(copy);
        return FL_EDB;
    }
    mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
    if (db->n_stmts == FL_DB_STMT_CACHE_MAX) {
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
        case FL_DB_DECIMAL:
            lens[i] = args[i].str.len;
            b[i].buffer_type =
                args[i].type == FL_DB_STR ? MYSQL_TYPE_STRING : MYSQL_TYPE_NEWDECIMAL;
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
        return fl_db_failed(db, mysql_stmt_errno(st), "bind_result", mysql_stmt_error(st));
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
        err = fl_db_failed(db, mysql_stmt_errno(st), "fetch", mysql_stmt_error(st));
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
        status = fl_db_wait_io(m, status, deadline_us);
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
    if ((err = fl_db_admit(db)) != FL_OK)
        return err;
    if ((err = prepare(db, sql, &st, &e)) != FL_OK) {
        *stale = db->conn == NULL && fl_time_mono_us() - t0 < FL_DB_STALE_FAILURE_US;
        return err;
    }
    db->queries++;
    rc = execute(db, st, fn != NULL, fl_db_deadline_us(db));
    if (rc < 0)
        return fl_db_timed_out(db, "execute");
    if (rc > 0) {
        e = mysql_stmt_errno(st);
        if (e == ER_DUP_ENTRY)
            return FL_ECONFLICT;
        /* The statement's own LIMIT ROWS EXAMINED stopped a sort: its caller falls back. */
        db->stopped = e == ER_FILSORT_ABORT || e == ER_QUERY_RESULT_INCOMPLETE;
        if (db->stopped)
            return FL_EDB;
        err = fl_db_failed(db, e, "execute", mysql_stmt_error(st));
        /* Gone, not out of time: a read, or a write never sent, is tried once more; on a
         * cluster the next host takes it, however long this one took to fail. */
        *stale = db->conn == NULL && e != ER_STATEMENT_TIMEOUT && e != ER_LOCK_WAIT_TIMEOUT &&
                 (is_read || e == CR_SERVER_GONE_ERROR) &&
                 (fl_time_mono_us() - t0 < FL_DB_STALE_FAILURE_US || fl_db_hosts(db) > 1);
        return err;
    }
    fl_db_answered(db);
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
