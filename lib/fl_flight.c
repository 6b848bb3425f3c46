/* SPDX-License-Identifier: MIT */
/*
 * Single flight over fl_redis. A look is one pipeline: the lock's EXISTS first when waiting,
 * then the check's commands. Redis runs a pipeline's commands in order, so a lock seen gone
 * before the value was read means the maker stored nothing before it let go (fl_flight_land
 * stores, then releases, in that order).
 */
#include "fl_flight.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fl_crypto.h"
#include "fl_time.h"

/* One round trip: first, when not NULL (its reply to *first_reply), then check's commands. */
static enum fl_err look(struct fl_redis *r, struct fl_arena *arena,
                        const struct fl_redis_cmd *first, struct fl_redis_reply *first_reply,
                        const struct fl_flight_check *check, bool *there)
{
    struct fl_redis_cmd cmds[1 + FL_FLIGHT_CHECK_CMDS_MAX];
    struct fl_redis_reply rep[1 + FL_FLIGHT_CHECK_CMDS_MAX];
    size_t k = first ? 1 : 0;
    enum fl_err err;

    assert(check->n >= 1 && check->n <= FL_FLIGHT_CHECK_CMDS_MAX);
    if (first)
        cmds[0] = *first;
    memcpy(cmds + k, check->cmds, check->n * sizeof(*cmds));
    *there = false;
    err = fl_redis_pipeline(r, arena, cmds, k + check->n, rep);
    if (err != FL_OK)
        return err;
    if (first)
        *first_reply = rep[0];
    *there = check->there(check->ud, rep + k);
    return FL_OK;
}

enum fl_err fl_flight_look(struct fl_redis *r, struct fl_arena *arena,
                           const struct fl_flight_check *check, bool *there)
{
    return look(r, arena, NULL, NULL, check, there);
}

enum fl_err fl_flight_take(struct fl_flight *f, struct fl_redis *r, struct fl_arena *arena,
                           struct fl_str lock_key, unsigned lock_ms,
                           const struct fl_flight_check *check, enum fl_flight_state *out)
{
    struct fl_redis_reply rep;
    struct fl_redis_cmd lock;
    enum fl_err err;
    char ms[16];
    bool there;

    *f = FL_FLIGHT_NONE;
    f->lock_key = lock_key;
    *out = FL_FLIGHT_ALONE;
    if (fl_crypto_random_hex(16, f->token) != FL_OK)
        return FL_OK;
    snprintf(ms, sizeof(ms), "%u", lock_ms);
    lock = fl_redis_lock_cmd(lock_key, fl_str_c(f->token), fl_str_c(ms));
    if ((err = fl_redis_pipeline(r, arena, &lock, 1, &rep)) != FL_OK)
        return err;
    if (rep.type == FL_REDIS_NIL)
        *out = FL_FLIGHT_BUSY; /* another holds it */
    if (rep.type != FL_REDIS_STATUS)
        return FL_OK; /* BUSY, or ALONE when refused (an error reply: maxmemory, say) */
    f->held = true;
    *out = FL_FLIGHT_OURS;
    if (look(r, arena, NULL, NULL, check, &there) == FL_OK && there) {
        fl_flight_land(f, r, arena, NULL);
        *out = FL_FLIGHT_THERE;
    }
    return FL_OK;
}

enum fl_err fl_flight_wait(struct fl_flight *f, struct fl_redis *r, struct fl_arena *arena,
                           int64_t deadline_us, unsigned poll_us,
                           const struct fl_flight_check *check, enum fl_flight_state *out)
{
    struct fl_redis_cmd held = FL_REDIS_CMD(FL_STR("EXISTS"), f->lock_key);
    struct timespec pause = {(time_t)(poll_us / 1000000), (long)(poll_us % 1000000) * 1000};
    struct fl_redis_reply rep;
    enum fl_err err;
    bool there;

    *out = FL_FLIGHT_BUSY;
    while (fl_time_mono_us() + poll_us <= deadline_us) {
        nanosleep(&pause, NULL);
        if ((err = look(r, arena, &held, &rep, check, &there)) != FL_OK)
            return err;
        if (there) {
            *out = FL_FLIGHT_THERE;
            return FL_OK;
        }
        if (rep.type == FL_REDIS_INT && rep.integer == 0) {
            *out = FL_FLIGHT_GONE;
            return FL_OK;
        }
    }
    return FL_ETIMEOUT;
}

enum fl_err fl_flight_land(struct fl_flight *f, struct fl_redis *r, struct fl_arena *arena,
                           const struct fl_redis_cmd *publish)
{
    struct fl_redis_cmd cmds[2];
    struct fl_redis_reply rep[2];
    size_t n = 0;

    if (publish)
        cmds[n++] = *publish;
    if (f->held)
        cmds[n++] = fl_redis_unlock_cmd(f->lock_key, fl_str_c(f->token));
    f->held = false;
    return n ? fl_redis_pipeline(r, arena, cmds, n, rep) : FL_OK;
}
