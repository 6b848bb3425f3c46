/* SPDX-License-Identifier: MIT */
/*
 * The bulkhead of a worker pool: at most a few of the pool's workers wait on one upstream
 * at once, however the pool is run (our master, spawn-fcgi, multiwatch, systemd, lighttpd).
 * The workers share a table in a small mmap'd file named for the listening socket they
 * share; each registers itself in it, so the pool's size is known without a setting. It
 * must not block: a worker that finds every seat taken is told so at once.
 */
#ifndef FL_BULKHEAD_H
#define FL_BULKHEAD_H

#include <stdbool.h>

#include "fl_buf.h"

/* Most workers one table counts (a pool of 256 and as many replacements while it rolls). */
#define FL_BULKHEAD_SLOTS 512

/* Where the tables live when FL_METRICS_DIR is unset. */
#define FL_BULKHEAD_FALLBACK_DIR "/dev/shm"

struct fl_bulkhead;

/*
 * Joins the pool listening on listen_fd: maps its table in dir (FL_BULKHEAD_FALLBACK_DIR
 * when dir is NULL) and registers this process. max_inflight is the number of seats; 0
 * means half the pool's registered workers, at least 1. Returns the handle (owned: free
 * with fl_bulkhead_close), or NULL when listen_fd is not a socket (CGI) or the table cannot
 * be mapped; NULL is a valid handle that never refuses.
 */
struct fl_bulkhead *fl_bulkhead_open(const char *dir, int listen_fd, unsigned max_inflight);

/* Leaves the pool (and a seat still held). Accepts NULL. */
void fl_bulkhead_close(struct fl_bulkhead *b);

/*
 * Takes a seat without waiting. Returns true when one was free (or b is NULL): call
 * fl_bulkhead_leave once the upstream call is over; false when all are taken. A seat
 * whose holder's process is gone counts as free.
 */
bool fl_bulkhead_enter(struct fl_bulkhead *b);

/* Gives the seat taken by fl_bulkhead_enter back. Accepts NULL and a handle holding none. */
void fl_bulkhead_leave(struct fl_bulkhead *b);

/* The workers of b's pool with a live process, this one included. */
unsigned fl_bulkhead_members(const struct fl_bulkhead *b);

/* The seats of b's pool now: max_inflight, or half its live workers (at least 1). */
unsigned fl_bulkhead_seats(const struct fl_bulkhead *b);

/*
 * Appends the path of the table of the pool listening on listen_fd to out. Returns false
 * when listen_fd is not a socket. For the master, which removes its pool's table at exit.
 */
bool fl_bulkhead_path(const char *dir, int listen_fd, struct fl_buf *out);

#endif
