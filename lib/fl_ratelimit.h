/* SPDX-License-Identifier: MIT */
/*
 * Per-client rate limiting with GCRA (the generic cell rate algorithm) in Redis: one atomic
 * script call per request, using Redis's clock, so every worker on every host shares one
 * limit per client. The command can ride in another module's pipeline (the listing cache
 * lookup) so a cached page still costs one round trip. It fails open: with Redis down the
 * request is served.
 */
#ifndef FL_RATELIMIT_H
#define FL_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "fl_arena.h"
#include "fl_config.h"
#include "fl_err.h"
#include "fl_redis.h"

struct fl_ratelimit {
    char key[80];     /* fl:rl:<client address> */
    char args[3][24]; /* interval_us, burst, and room for the command's arguments */
    bool decided;     /* a verdict was read (false: Redis was unreachable, fail open) */
    bool allowed;
    long long remaining;     /* requests left in the burst */
    long long reset_s;       /* seconds until the burst is full again */
    long long retry_after_s; /* when refused: seconds until one request is allowed, >= 1 */
};

/* Prepares rl for the client at address client. Returns false when limiting is off. */
bool fl_ratelimit_prepare(const struct fl_config *cfg, struct fl_str client,
                          struct fl_ratelimit *rl);

/* The command that decides rl (borrows rl's buffers: keep rl alive while it is used). */
struct fl_redis_cmd fl_ratelimit_cmd(const struct fl_ratelimit *rl);

/* Reads the command's reply into rl. */
void fl_ratelimit_read(struct fl_ratelimit *rl, const struct fl_redis_reply *reply);

/* Sends the command on its own and reads the verdict (a failure leaves rl undecided). */
void fl_ratelimit_check(struct fl_redis *r, struct fl_arena *arena, struct fl_ratelimit *rl);

#endif
