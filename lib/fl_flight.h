/* SPDX-License-Identifier: MIT */
/*
 * Single flight across every process that shares a Redis: of all the processes that find
 * a value missing (a listing page, the OAuth token), one takes a short lock and makes it;
 * the others wait for it to appear instead of making it again. The lock is SET NX PX with
 * a random token and is released only with that token. What the value is, is the
 * caller's: it gives the commands that read it and the judge of their replies. Nothing
 * here knows of pages or tokens, and nothing here includes hiredis (fl_redis owns it).
 */
#ifndef FL_FLIGHT_H
#define FL_FLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl_arena.h"
#include "fl_err.h"
#include "fl_redis.h"
#include "fl_str.h"

/* The most commands a check may send to read its value. */
#define FL_FLIGHT_CHECK_CMDS_MAX 3

/*
 * How the awaited value is read: cmds (1 to FL_FLIGHT_CHECK_CMDS_MAX, borrowed) are sent in
 * one round trip, and there() is given their replies, one per command, in the same order. It
 * returns true when the value is there, keeping whatever it needs of it through ud (the
 * replies live in the arena of the call).
 */
struct fl_flight_check {
    const struct fl_redis_cmd *cmds;
    size_t n;
    bool (*there)(void *ud, const struct fl_redis_reply *replies);
    void *ud;
};

enum fl_flight_state {
    FL_FLIGHT_THERE, /* the value is there: the check's there() said so, and kept it */
    FL_FLIGHT_OURS,  /* we hold the lock: make the value, then fl_flight_land */
    FL_FLIGHT_ALONE, /* Redis refused the lock (maxmemory, say): make it, nobody else will */
    FL_FLIGHT_BUSY,  /* another process holds the lock: fl_flight_wait, or serve another */
    FL_FLIGHT_GONE,  /* its lock went without the value: that process failed to make it */
};

/* One process's part in one flight: set by fl_flight_take, ended by fl_flight_land. */
struct fl_flight {
    struct fl_str lock_key; /* borrowed for the flight's life */
    char token[33];         /* our lock's random value, when held */
    bool held;              /* we hold the lock */
};

/* A flight that holds nothing: fl_flight_land then only publishes. */
#define FL_FLIGHT_NONE ((struct fl_flight){{NULL, 0}, {0}, false})

/*
 * Reads the value once, with check (one round trip). Returns FL_OK with *there set;
 * FL_ECACHE when Redis failed; FL_ENOMEM when arena is full (*there false then).
 */
enum fl_err fl_flight_look(struct fl_redis *r, struct fl_arena *arena,
                           const struct fl_flight_check *check, bool *there);

/*
 * Tries to take the lock lock_key (borrowed until fl_flight_land) for lock_ms: the longest
 * a maker that died holds the others back. Once it is ours, reads the value once more (the
 * last maker may have stored it and let go since the caller looked) and, when it is there,
 * lets go again. Without a random token (fl_crypto failed) the lock is not taken: a guessable
 * one could release another process's lock. Returns FL_OK with *out THERE, OURS, ALONE or
 * BUSY; FL_ECACHE when Redis failed, FL_ENOMEM when arena is full (make the value alone;
 * the flight holds nothing).
 */
enum fl_err fl_flight_take(struct fl_flight *f, struct fl_redis *r, struct fl_arena *arena,
                           struct fl_str lock_key, unsigned lock_ms,
                           const struct fl_flight_check *check, enum fl_flight_state *out);

/*
 * After BUSY: reads the value every poll_us until it is there or the holder's lock is gone,
 * never sleeping past deadline_us (monotonic). Each read is one round trip that asks for
 * the lock before the value, so a maker that stores the value and then lets go is never
 * taken for one that failed. Returns FL_OK with *out THERE or GONE; FL_ETIMEOUT when the
 * deadline came first; FL_ECACHE when Redis failed; FL_ENOMEM when arena is full.
 */
enum fl_err fl_flight_wait(struct fl_flight *f, struct fl_redis *r, struct fl_arena *arena,
                           int64_t deadline_us, unsigned poll_us,
                           const struct fl_flight_check *check, enum fl_flight_state *out);

/*
 * Ends f: sends publish (the command that stores the value; NULL when there is nothing to
 * store) and, when f holds the lock, its release with our token, in one round trip, so the
 * value is stored before the lock goes. f holds nothing afterwards, whatever Redis answered
 * (a lock not released expires after its lock_ms). Returns FL_OK (also when there was
 * nothing to send); FL_ECACHE when Redis failed; FL_ENOMEM when arena is full.
 */
enum fl_err fl_flight_land(struct fl_flight *f, struct fl_redis *r, struct fl_arena *arena,
                           const struct fl_redis_cmd *publish);

#endif
