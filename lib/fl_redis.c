/* SPDX-License-Identifier: MIT */
/*
 * Redis connection over hiredis. hiredis marks a context unusable after any I/O or protocol
 * error (c->err), so on error the context is freed and a later call reconnects, no sooner
 * than RECONNECT_SPACING_US after the last failed attempt, twice that after two failures
 * in a row: a hung Redis (it accepts, then never answers) costs each try the whole command
 * timeout, a quarter of every second at one-second spacing.
 */
#include "fl_redis.h"

#include <hiredis/hiredis.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_log.h"
#include "fl_time.h"

#define RECONNECT_SPACING_US 1000000

struct fl_redis {
    redisContext *ctx; /* NULL while disconnected */
    char *host;        /* owned, or NULL for a unix socket */
    char *socket;      /* owned, or NULL for TCP */
    char *password;    /* owned or NULL; never logged */
    unsigned port, db;
    struct timeval timeout;
    int64_t retry_at_us; /* no connect attempt before this monotonic time */
    bool down;           /* the last attempt failed (logged once per outage) */
    unsigned failures;   /* in a row, without an answer in between */
    int64_t busy_us;
    uint64_t errors;
};

struct fl_redis *fl_redis_new(const struct fl_redis_dsn *dsn, unsigned timeout_ms)
{
    struct fl_redis *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->host = dsn->host ? strdup(dsn->host) : NULL;
    r->socket = dsn->socket ? strdup(dsn->socket) : NULL;
    r->password = dsn->password ? strdup(dsn->password) : NULL;
    r->port = dsn->port;
    r->db = dsn->db;
    r->timeout.tv_sec = timeout_ms / 1000;
    r->timeout.tv_usec = (timeout_ms % 1000) * 1000;
    if ((dsn->host && !r->host) || (dsn->socket && !r->socket) || (dsn->password && !r->password)) {
        fl_redis_free(r);
        return NULL;
    }
    return r;
}

static void disconnect(struct fl_redis *r)
{
    if (r->ctx)
        redisFree(r->ctx);
    r->ctx = NULL;
}

void fl_redis_free(struct fl_redis *r)
{
    if (r == NULL)
        return;
    disconnect(r);
    free(r->host);
    free(r->socket);
    free(r->password);
    free(r);
}

/* Marks the connection failed: logs once per outage, drops it, spaces out the next try. */
static enum fl_err failed(struct fl_redis *r, const char *what, const char *error)
{
    if (!r->down)
        fl_log(FL_LOG_ERROR, "event=redis_error op=%s error=\"%s\"", what, error);
    r->down = true;
    r->errors++;
    r->failures++;
    r->retry_at_us = fl_time_mono_us() + RECONNECT_SPACING_US * (r->failures > 1 ? 2 : 1);
    disconnect(r);
    return FL_ECACHE;
}

/* Runs one command on a connected context; the reply must be of type want or an error. */
static enum fl_err command_ok(struct fl_redis *r, int argc, const char **argv, int want)
{
    redisReply *reply = redisCommandArgv(r->ctx, argc, argv, NULL);
    enum fl_err err = FL_OK;

    if (reply == NULL)
        return failed(r, argv[0], r->ctx->errstr);
    if (reply->type != want)
        err = failed(r, argv[0], reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
    freeReplyObject(reply);
    return err;
}

static enum fl_err ensure(struct fl_redis *r)
{
    char dbnum[16];

    if (r->ctx)
        return FL_OK;
    if (fl_time_mono_us() < r->retry_at_us)
        return FL_ECACHE;
    /* hiredis 0.14 (Debian 12): connect with a timeout, then the same bound per command. */
    if (r->socket)
        r->ctx = redisConnectUnixWithTimeout(r->socket, r->timeout);
    else
        r->ctx = redisConnectWithTimeout(r->host, (int)r->port, r->timeout);
    if (r->ctx == NULL)
        return failed(r, "connect", "out of memory");
    if (r->ctx->err)
        return failed(r, "connect", r->ctx->errstr);
    if (redisSetTimeout(r->ctx, r->timeout) != REDIS_OK)
        return failed(r, "connect", "cannot set timeout");
    if (r->password) {
        const char *argv[] = {"AUTH", r->password};
        if (command_ok(r, 2, argv, REDIS_REPLY_STATUS) != FL_OK)
            return FL_ECACHE;
    }
    if (r->db) {
        const char *argv[] = {"SELECT", dbnum};
        snprintf(dbnum, sizeof(dbnum), "%u", r->db);
        if (command_ok(r, 2, argv, REDIS_REPLY_STATUS) != FL_OK)
            return FL_ECACHE;
    }
    if (r->down)
        fl_log(FL_LOG_INFO, "event=redis_reconnected");
    r->down = false;
    return FL_OK;
}

enum fl_err fl_redis_ping(struct fl_redis *r)
{
    const char *argv[] = {"PING"};
    int64_t t0 = fl_time_mono_us();
    enum fl_err err = ensure(r);

    if (err == FL_OK)
        err = command_ok(r, 1, argv, REDIS_REPLY_STATUS);
    if (err == FL_OK)
        r->failures = 0;
    r->busy_us += fl_time_mono_us() - t0;
    return err;
}

/* Copies a hiredis reply into ours; arrays and oversized values are refused. */
static enum fl_err convert(struct fl_arena *arena, const redisReply *in, struct fl_redis_reply *out)
{
    memset(out, 0, sizeof(*out));
    switch (in->type) {
    case REDIS_REPLY_NIL:
        out->type = FL_REDIS_NIL;
        return FL_OK;
    case REDIS_REPLY_INTEGER:
        out->type = FL_REDIS_INT;
        out->integer = in->integer;
        return FL_OK;
    case REDIS_REPLY_STRING:
        out->type = FL_REDIS_STR;
        break;
    case REDIS_REPLY_STATUS:
        out->type = FL_REDIS_STATUS;
        break;
    case REDIS_REPLY_ERROR:
        out->type = FL_REDIS_ERROR;
        break;
    default:
        return FL_ECACHE;
    }
    if (in->len > FL_REDIS_VALUE_MAX_BYTES)
        return FL_ETOOBIG;
    out->str = fl_arena_strdup(arena, (struct fl_str){in->str, in->len});
    return out->str.p ? FL_OK : FL_ENOMEM;
}

enum fl_err fl_redis_pipeline(struct fl_redis *r, struct fl_arena *arena,
                              const struct fl_redis_cmd *cmds, size_t n, struct fl_redis_reply *out)
{
    int64_t t0 = fl_time_mono_us();
    enum fl_err err = ensure(r);

    for (size_t i = 0; err == FL_OK && i < n; i++) {
        const char *argv[FL_REDIS_ARGS_MAX];
        size_t lens[FL_REDIS_ARGS_MAX];
        for (int k = 0; k < cmds[i].argc && k < FL_REDIS_ARGS_MAX; k++) {
            argv[k] = cmds[i].argv[k].p ? cmds[i].argv[k].p : "";
            lens[k] = cmds[i].argv[k].len;
        }
        if (redisAppendCommandArgv(r->ctx, cmds[i].argc, argv, lens) != REDIS_OK)
            err = failed(r, "append", r->ctx->errstr);
    }
    for (size_t i = 0; err == FL_OK && i < n; i++) {
        void *raw = NULL;
        if (redisGetReply(r->ctx, &raw) != REDIS_OK || raw == NULL) {
            err = failed(r, "reply", r->ctx->errstr);
            break;
        }
        err = convert(arena, raw, &out[i]);
        freeReplyObject(raw);
        if (err != FL_OK && err != FL_ENOMEM)
            err = failed(r, "reply", "unexpected or oversized reply");
    }
    if (err == FL_OK)
        r->failures = 0; /* it answers: the next outage starts with the short spacing */
    r->busy_us += fl_time_mono_us() - t0;
    return err;
}

struct fl_redis_cmd fl_redis_lock_cmd(struct fl_str key, struct fl_str token, struct fl_str ttl_ms)
{
    return FL_REDIS_CMD(FL_STR("SET"), key, token, FL_STR("NX"), FL_STR("PX"), ttl_ms);
}

struct fl_redis_cmd fl_redis_unlock_cmd(struct fl_str key, struct fl_str token)
{
    /* A lock that expired and was taken by another process is not ours to delete. */
    static const char script[] =
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end "
        "return 0";

    return FL_REDIS_CMD(FL_STR("EVAL"), FL_STR(script), FL_STR("1"), key, token);
}

int64_t fl_redis_busy_us(const struct fl_redis *r)
{
    return r->busy_us;
}

uint64_t fl_redis_errors(const struct fl_redis *r)
{
    return r->errors;
}
