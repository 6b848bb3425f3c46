/* SPDX-License-Identifier: MIT */
/*
 * One persistent Redis connection: opened lazily with connect and command timeouts,
 * dropped on any error and reopened on a later call, with reconnect attempts spaced out so
 * a Redis outage costs each request nothing but a check of the clock. Under Sentinel
 * (redis-sentinel://) each connect asks the sentinels for the primary, so a failover is
 * followed on the next reconnect. The only module that includes hiredis; callers see our
 * types.
 */
#ifndef FL_REDIS_H
#define FL_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "fl_arena.h"
#include "fl_config.h"
#include "fl_err.h"
#include "fl_str.h"

#define FL_REDIS_ARGS_MAX        16
#define FL_REDIS_VALUE_MAX_BYTES ((size_t)4 << 20)

enum fl_redis_type { FL_REDIS_NIL, FL_REDIS_INT, FL_REDIS_STR, FL_REDIS_STATUS, FL_REDIS_ERROR };

/* One reply; str lives in the arena given to the call. Arrays are not used by FarmLokal. */
struct fl_redis_reply {
    enum fl_redis_type type;
    long long integer;
    struct fl_str str; /* for STR, STATUS and ERROR */
};

/* One command: argc arguments, binary-safe. */
struct fl_redis_cmd {
    int argc;
    struct fl_str argv[FL_REDIS_ARGS_MAX];
};

/*
 * A command from its arguments (struct fl_str each), counted by the compiler:
 * FL_REDIS_CMD(FL_STR("GET"), key). More than FL_REDIS_ARGS_MAX does not compile.
 */
#define FL_REDIS_CMD(...)                                                                          \
    ((struct fl_redis_cmd){(int)FL_COUNTOF(((struct fl_str[]){__VA_ARGS__})), {__VA_ARGS__}})

struct fl_redis;

/*
 * Returns a handle for dsn (copied) that connects on first use, or NULL when out of memory.
 * timeout_ms bounds connecting and each command. Free with fl_redis_free().
 */
struct fl_redis *fl_redis_new(const struct fl_redis_dsn *dsn, unsigned timeout_ms);

/* Closes the connection and frees everything. Accepts NULL. */
void fl_redis_free(struct fl_redis *r);

/* Checks the server answers PING. Returns FL_OK or FL_ECACHE. */
enum fl_err fl_redis_ping(struct fl_redis *r);

/*
 * Sends n commands in one round trip and reads their n replies into out, strings copied
 * into arena. A reply of type FL_REDIS_ERROR is a command's own error, not a failure.
 * Returns FL_OK; FL_ECACHE when Redis is unreachable, the connection failed, or a command
 * was refused with -READONLY (the server is a replica now) (the connection is dropped and
 * retried later, no sooner than a second after); FL_ETOOBIG for a value over
 * FL_REDIS_VALUE_MAX_BYTES; FL_ENOMEM.
 */
enum fl_err fl_redis_pipeline(struct fl_redis *r, struct fl_arena *arena,
                              const struct fl_redis_cmd *cmds, size_t n,
                              struct fl_redis_reply *out);

/*
 * A short lock shared by every process on the Redis: SET key token NX PX ttl. The reply is
 * FL_REDIS_STATUS when it was taken, FL_REDIS_NIL when someone else holds it. ttl_ms is
 * text ("2000"); key, token and ttl_ms are borrowed while the command is used.
 */
struct fl_redis_cmd fl_redis_lock_cmd(struct fl_str key, struct fl_str token, struct fl_str ttl_ms);

/* Releases that lock only if it still holds token (compare-and-delete, one script call). */
struct fl_redis_cmd fl_redis_unlock_cmd(struct fl_str key, struct fl_str token);

/*
 * Under Sentinel, cmd is sent first whenever the sentinels name a primary other than the one
 * r used before (after a failover). The cache sets its generation bump here: the new primary
 * may lack the last writes made on the old one (replication is asynchronous), and a write
 * the demoted one refused is lost. cmd's arguments are borrowed for r's life (literals).
 * Without Sentinel it is never sent.
 */
void fl_redis_on_new_primary(struct fl_redis *r, struct fl_redis_cmd cmd);

/*
 * Asks r to watch the keys starting with prefix (borrowed for r's life: a literal) from
 * every connection on, with a second connection that Redis tells of their changes (CLIENT
 * TRACKING, broadcast mode: no memory per key on the server). Needs Redis 6 or later and
 * the CLIENT command; without them nothing is watched and fl_redis_tracked says 0.
 */
void fl_redis_track(struct fl_redis *r, const char *prefix);

/*
 * Reads, without waiting, what Redis told of the watched keys, and returns the epoch: a
 * number that stays the same only while no watched key changed (was written, expired,
 * evicted, flushed) since the epoch began, as far as a working watch can tell. It moves on
 * at any change, and whenever the watch breaks or is opened again. Returns 0 when nothing
 * is watched now (not asked, Redis down, or it cannot track) or the server has not answered
 * a command on r for 250 ms (a hung Redis tells nothing): then ask Redis itself.
 */
uint64_t fl_redis_tracked(struct fl_redis *r);

/* Microseconds spent in calls on r since it was created (for Server-Timing). */
int64_t fl_redis_busy_us(const struct fl_redis *r);

/* Errors seen since r was created. */
uint64_t fl_redis_errors(const struct fl_redis *r);

#endif
