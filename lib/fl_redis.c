/* SPDX-License-Identifier: MIT */
/*
 * Redis connection over hiredis. hiredis marks a context unusable after any I/O or protocol
 * error (c->err), so on error the context is freed and a later call reconnects, no sooner
 * than RECONNECT_SPACING_US after the last failed attempt, twice that after two failures
 * in a row: a hung Redis (it accepts, then never answers) costs each try the whole command
 * timeout, a quarter of every second at one-second spacing.
 *
 * Under Sentinel every connect first asks a sentinel which server is the primary
 * (SENTINEL get-master-addr-by-name), starting with the one that answered last, then checks
 * with ROLE that the server it reached is one. A failover is followed because every way the
 * old primary can fail us drops the connection: the connection breaks (it died), or a write
 * is refused with -READONLY (it was demoted); the next connect asks again. A connection
 * to a new primary first sends what the owner set with fl_redis_on_new_primary.
 *
 * Tracking (fl_redis_track) is a second connection to the same server, opened right after
 * the first: CLIENT TRACKING in broadcast mode for one key prefix, redirected to itself, then
 * SUBSCRIBE to __redis__:invalidate (RESP2, as hiredis 0.14 speaks). Redis then writes to it
 * whenever a key with the prefix changes, expires or is evicted, or the keyspace is
 * flushed. We never parse what comes: any byte means "changed". Reading it takes one recv
 * that does not wait, and the epoch moves on when it finds anything, when the connection
 * breaks, and whenever either connection is opened again, so an epoch names a stretch of
 * time in which no tracked key changed while we watched. The watch is trusted only while
 * the server answers (TRACK_TRUST_US).
 */
#include "fl_redis.h"

#include <hiredis/hiredis.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fl_log.h"
#include "fl_time.h"

#define RECONNECT_SPACING_US 1000000
/* No further sentinel is asked once this has passed, so hung sentinels cost a connect
 * about what a hung Redis costs a command or two (each ask is bounded by the timeout). */
#define SENTINELS_BUDGET_US 100000
/* A watch is trusted only this long after the server last answered a command: a hung
 * Redis keeps the tracking connection open while telling nothing, so a worker serving its
 * own copies would never notice. Past this, the next request asks Redis again and a hang
 * costs it the command timeout, after which the connection and the watch are dropped. */
#define TRACK_TRUST_US 250000

struct fl_redis {
    redisContext *ctx;       /* NULL while disconnected */
    struct fl_redis_dsn dsn; /* owned copy; under Sentinel dsn.host is the primary last
                                named (NULL before) */
    size_t sentinel_next;    /* the sentinel asked first: the one that answered last */
    bool new_primary;        /* the sentinels named another primary than the one used before */
    struct fl_redis_cmd on_new_primary; /* sent first to a new primary; argc 0: nothing */
    struct timeval timeout;
    int64_t retry_at_us; /* no connect attempt before this monotonic time */
    bool down;           /* the last attempt failed (logged once per outage) */
    unsigned failures;   /* in a row, without an answer in between */
    int64_t busy_us;
    uint64_t errors;
    const char *track_prefix; /* fl_redis_track; NULL: not asked */
    redisContext *track;      /* subscribed to the prefix's invalidations; NULL while none */
    int64_t track_retry_at_us;
    bool track_down;     /* the last try failed (logged once until one succeeds) */
    uint64_t epoch;      /* see fl_redis_tracked */
    int64_t answered_us; /* when a command last succeeded (monotonic) */
};

struct fl_redis *fl_redis_new(const struct fl_redis_dsn *dsn, unsigned timeout_ms)
{
    struct fl_redis *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->timeout.tv_sec = timeout_ms / 1000;
    r->timeout.tv_usec = (timeout_ms % 1000) * 1000;
    if (fl_dsn_redis_copy(&r->dsn, dsn) != FL_OK) {
        free(r);
        return NULL;
    }
    return r;
}

/* Stops tracking: whatever changes from now on goes unseen, so the epoch ends. */
static void untrack(struct fl_redis *r)
{
    if (r->track)
        redisFree(r->track);
    r->track = NULL;
    r->epoch++;
}

static void disconnect(struct fl_redis *r)
{
    if (r->ctx)
        redisFree(r->ctx);
    r->ctx = NULL;
    untrack(r);
}

void fl_redis_free(struct fl_redis *r)
{
    if (r == NULL)
        return;
    disconnect(r);
    fl_dsn_redis_free(&r->dsn);
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

/* Makes host:port (a sentinel's answer) the server to connect to. */
static enum fl_err take_primary(struct fl_redis *r, const redisReply *host, const redisReply *port)
{
    uint64_t u;
    char *copy;

    if (host->type != REDIS_REPLY_STRING || port->type != REDIS_REPLY_STRING ||
        fl_str_to_u64((struct fl_str){port->str, port->len}, 1, 65535, &u) != FL_OK)
        return FL_ECACHE;
    if (r->dsn.host && strcmp(r->dsn.host, host->str) == 0 && r->dsn.port == (unsigned)u)
        return FL_OK;
    if ((copy = strdup(host->str)) == NULL)
        return FL_ENOMEM;
    fl_log(FL_LOG_INFO, "event=redis_primary master=%s host=%s port=%u", r->dsn.master_name, copy,
           (unsigned)u);
    r->new_primary = r->dsn.host != NULL; /* the first one named is not a change */
    free(r->dsn.host);
    r->dsn.host = copy;
    r->dsn.port = (unsigned)u;
    return FL_OK;
}

/* Asks one sentinel for the primary of r->dsn.master_name. */
static enum fl_err ask_sentinel(struct fl_redis *r, const struct fl_dsn_host *sentinel)
{
    const char *argv[] = {"SENTINEL", "get-master-addr-by-name", r->dsn.master_name};
    redisContext *c = redisConnectWithTimeout(sentinel->host, (int)sentinel->port, r->timeout);
    redisReply *reply = NULL;
    enum fl_err err = FL_ECACHE;

    if (c && !c->err && redisSetTimeout(c, r->timeout) == REDIS_OK)
        reply = redisCommandArgv(c, 3, argv, NULL);
    /* An unknown master name is a nil reply: this sentinel cannot tell. */
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2)
        err = take_primary(r, reply->element[0], reply->element[1]);
    if (reply)
        freeReplyObject(reply);
    if (c)
        redisFree(c);
    return err;
}

/*
 * Asks the sentinels in turn, from the one that answered last, for the primary. One that
 * fails is asked last next time, so a hung sentinel cannot use up every attempt's budget.
 */
static enum fl_err find_primary(struct fl_redis *r)
{
    int64_t deadline = fl_time_mono_us() + SENTINELS_BUDGET_US;
    size_t first = r->sentinel_next;
    enum fl_err err = FL_ECACHE;

    for (size_t k = 0; k < r->dsn.n_sentinels && fl_time_mono_us() < deadline; k++) {
        size_t i = (first + k) % r->dsn.n_sentinels;
        if ((err = ask_sentinel(r, &r->dsn.sentinels[i])) == FL_OK) {
            r->sentinel_next = i;
            return FL_OK;
        }
        r->sentinel_next = (i + 1) % r->dsn.n_sentinels;
    }
    return failed(r, "sentinel",
                  err == FL_ENOMEM ? "out of memory" : "no sentinel named the primary");
}

/* Points argv and lens at cmd's arguments, for hiredis. */
static void to_argv(const struct fl_redis_cmd *cmd, const char **argv, size_t *lens)
{
    for (int k = 0; k < cmd->argc && k < FL_REDIS_ARGS_MAX; k++) {
        argv[k] = cmd->argv[k].p ? cmd->argv[k].p : "";
        lens[k] = cmd->argv[k].len;
    }
}

/*
 * Under Sentinel: the server reached must be the primary (the sentinels' answer may be a
 * failover late), and a new primary first gets r->on_new_primary.
 */
static enum fl_err settle_primary(struct fl_redis *r)
{
    const char *argv[FL_REDIS_ARGS_MAX] = {"ROLE"};
    size_t lens[FL_REDIS_ARGS_MAX];
    redisReply *reply = redisCommandArgv(r->ctx, 1, argv, NULL);
    bool primary, refused;

    if (reply == NULL)
        return failed(r, "ROLE", r->ctx->errstr);
    primary = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
              reply->element[0]->type == REDIS_REPLY_STRING &&
              strcmp(reply->element[0]->str, "master") == 0;
    freeReplyObject(reply);
    if (!primary)
        return failed(r, "ROLE", "the server the sentinels named is not a primary");
    if (!r->new_primary || r->on_new_primary.argc == 0)
        return FL_OK;
    to_argv(&r->on_new_primary, argv, lens);
    reply = redisCommandArgv(r->ctx, r->on_new_primary.argc, argv, lens);
    if (reply == NULL)
        return failed(r, argv[0], r->ctx->errstr);
    refused = reply->type == REDIS_REPLY_ERROR;
    freeReplyObject(reply);
    if (refused)
        return failed(r, argv[0], "refused by the new primary");
    r->new_primary = false;
    return FL_OK;
}

/*
 * Opens a connection to the server r uses (its primary under Sentinel), authenticated, with
 * r's timeout on every command. Returns the context (NULL only when out of memory) and sets
 * *error to NULL when it is ready, else to what failed; the caller frees it either way.
 */
static redisContext *dial(const struct fl_redis *r, const char **error)
{
    const char *argv[] = {"AUTH", r->dsn.password};
    redisContext *c;
    redisReply *reply;

    /* hiredis 0.14 (Debian 12): connect with a timeout, then the same bound per command. */
    if (r->dsn.socket)
        c = redisConnectUnixWithTimeout(r->dsn.socket, r->timeout);
    else
        c = redisConnectWithTimeout(r->dsn.host, (int)r->dsn.port, r->timeout);
    *error = c == NULL ? "out of memory" : c->err ? c->errstr : NULL;
    if (*error == NULL && redisSetTimeout(c, r->timeout) != REDIS_OK)
        *error = "cannot set timeout";
    if (*error == NULL && r->dsn.password) {
        reply = redisCommandArgv(c, 2, argv, NULL);
        if (reply == NULL || reply->type != REDIS_REPLY_STATUS)
            *error = reply == NULL ? c->errstr : "AUTH refused";
        if (reply)
            freeReplyObject(reply);
    }
    return c;
}

/* Runs a command that must answer type want on the tracking connection being set up. */
static bool track_step(redisContext *c, int argc, const char **argv, int want)
{
    redisReply *reply = redisCommandArgv(c, argc, argv, NULL);
    bool ok = reply && reply->type == want;

    if (reply)
        freeReplyObject(reply);
    return ok;
}

/*
 * Opens the tracking connection (see the top of this file). A Redis that cannot track (older
 * than 6, or CLIENT refused by its ACL) costs a try each RECONNECT_SPACING_US.
 */
static void track(struct fl_redis *r)
{
    const char *error, *argv[] = {"CLIENT", "ID"};
    redisContext *c = dial(r, &error);
    redisReply *reply;
    char id[24];

    r->track_retry_at_us = fl_time_mono_us() + RECONNECT_SPACING_US;
    if (error == NULL) {
        reply = redisCommandArgv(c, 2, argv, NULL);
        if (reply && reply->type == REDIS_REPLY_INTEGER)
            snprintf(id, sizeof(id), "%lld", reply->integer);
        else
            error = "CLIENT ID";
        if (reply)
            freeReplyObject(reply);
    }
    if (error == NULL && !track_step(c, 8,
                                     (const char *[]){"CLIENT", "TRACKING", "ON", "REDIRECT", id,
                                                      "BCAST", "PREFIX", r->track_prefix},
                                     REDIS_REPLY_STATUS))
        error = "CLIENT TRACKING";
    if (error == NULL &&
        !track_step(c, 2, (const char *[]){"SUBSCRIBE", "__redis__:invalidate"}, REDIS_REPLY_ARRAY))
        error = "SUBSCRIBE";
    if (error) {
        if (!r->track_down)
            fl_log(FL_LOG_WARN, "event=redis_tracking_unavailable step=\"%s\"", error);
        r->track_down = true;
        if (c)
            redisFree(c);
        return;
    }
    /* Anything hiredis read past the SUBSCRIBE reply is a change before this new epoch. */
    untrack(r);
    r->track = c;
    r->track_down = false;
}

static enum fl_err ensure(struct fl_redis *r)
{
    const char *error;
    char dbnum[16];

    if (r->ctx)
        return FL_OK;
    if (fl_time_mono_us() < r->retry_at_us)
        return FL_ECACHE;
    if (r->dsn.master_name && find_primary(r) != FL_OK)
        return FL_ECACHE;
    r->ctx = dial(r, &error);
    if (error)
        return failed(r, "connect", error);
    if (r->dsn.db) {
        const char *argv[] = {"SELECT", dbnum};
        snprintf(dbnum, sizeof(dbnum), "%u", r->dsn.db);
        if (command_ok(r, 2, argv, REDIS_REPLY_STATUS) != FL_OK)
            return FL_ECACHE;
    }
    if (r->dsn.master_name && settle_primary(r) != FL_OK)
        return FL_ECACHE;
    if (r->track_prefix)
        track(r);
    if (r->down)
        fl_log(FL_LOG_INFO, "event=redis_reconnected");
    r->down = false;
    return FL_OK;
}

/* The server answered: the next outage starts with the short spacing; the watch holds. */
static void answered(struct fl_redis *r)
{
    r->failures = 0;
    r->answered_us = fl_time_mono_us();
}

enum fl_err fl_redis_ping(struct fl_redis *r)
{
    const char *argv[] = {"PING"};
    int64_t t0 = fl_time_mono_us();
    enum fl_err err = ensure(r);

    if (err == FL_OK)
        err = command_ok(r, 1, argv, REDIS_REPLY_STATUS);
    if (err == FL_OK)
        answered(r);
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

/*
 * A reply we cannot keep (over the cap, or no room in the arena): Redis is fine, so the
 * next call may reconnect at once, but the pipeline's later replies are unread and must
 * never be taken for the next call's answers, so the connection goes.
 */
static void cut_short(struct fl_redis *r, enum fl_err err)
{
    if (err == FL_ETOOBIG) {
        fl_log(FL_LOG_WARN, "event=redis_value_too_big max_bytes=%zu", FL_REDIS_VALUE_MAX_BYTES);
        r->errors++;
    }
    disconnect(r);
}

enum fl_err fl_redis_pipeline(struct fl_redis *r, struct fl_arena *arena,
                              const struct fl_redis_cmd *cmds, size_t n, struct fl_redis_reply *out)
{
    int64_t t0 = fl_time_mono_us();
    enum fl_err err = ensure(r);

    for (size_t i = 0; err == FL_OK && i < n; i++) {
        const char *argv[FL_REDIS_ARGS_MAX];
        size_t lens[FL_REDIS_ARGS_MAX];
        to_argv(&cmds[i], argv, lens);
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
        if (err == FL_ETOOBIG || err == FL_ENOMEM)
            cut_short(r, err);
        else if (err != FL_OK)
            err = failed(r, "reply", "unexpected reply");
        else if (out[i].type == FL_REDIS_ERROR && fl_str_has_prefix(out[i].str, FL_STR("READONLY")))
            err = failed(r, "reply", "READONLY: the server is a replica now");
    }
    if (err == FL_OK)
        answered(r);
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

void fl_redis_on_new_primary(struct fl_redis *r, struct fl_redis_cmd cmd)
{
    r->on_new_primary = cmd;
}

void fl_redis_track(struct fl_redis *r, const char *prefix)
{
    r->track_prefix = prefix;
}

uint64_t fl_redis_tracked(struct fl_redis *r)
{
    char buf[512];
    ssize_t n;
    bool changed = false;

    if (r->track == NULL && r->ctx && r->track_prefix && fl_time_mono_us() >= r->track_retry_at_us)
        track(r);
    if (r->track == NULL || fl_time_mono_us() - r->answered_us > TRACK_TRUST_US)
        return 0;
    while ((n = recv(r->track->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        changed = true;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        untrack(r); /* broken: nothing is seen until it is opened again */
        return 0;
    }
    if (changed)
        r->epoch++;
    return r->epoch;
}

int64_t fl_redis_busy_us(const struct fl_redis *r)
{
    return r->busy_us;
}

uint64_t fl_redis_errors(const struct fl_redis *r)
{
    return r->errors;
}
