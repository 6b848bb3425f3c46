/* SPDX-License-Identifier: MIT */
/*
 * One persistent Redis connection: opened lazily with connect and command timeouts,
 * dropped on any error and reopened on a later call, with reconnect attempts spaced out so
 * a Redis outage costs each request nothing but a check of the clock. The only module that
 * includes hiredis; callers see our types.
 */
#ifndef FL_REDIS_H
#define FL_REDIS_H

#include <stdint.h>

#include "fl_config.h"
#include "fl_err.h"

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

/* Microseconds spent in calls on r since it was created (for Server-Timing). */
int64_t fl_redis_busy_us(const struct fl_redis *r);

/* Errors seen since r was created. */
uint64_t fl_redis_errors(const struct fl_redis *r);

#endif
