/* SPDX-License-Identifier: MIT */
/*
 * The response cache in Redis (listings and product pages). An entry is the exact response
 * body with its ETag, so a hit writes stored bytes and parses nothing. Entries carry the
 * products generation they were built at; every product write INCRs the generation, and
 * an entry of another generation is not fresh: one O(1) command invalidates every entry. An
 * entry is fresh for its TTL and kept stale for a while longer, so that it can still be
 * served when MySQL fails (stale if error) or while another worker rebuilds it. A lookup
 * is one round trip (generation and entry in one pipeline). It knows nothing of MySQL.
 */
#ifndef FL_CACHE_H
#define FL_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "fl_arena.h"
#include "fl_err.h"
#include "fl_flight.h"
#include "fl_memo.h"
#include "fl_redis.h"
#include "fl_str.h"

enum fl_cache_state {
    FL_CACHE_HIT,    /* a fresh entry of the current generation */
    FL_CACHE_MISS,   /* build it (and store it, if we hold the build lock) */
    FL_CACHE_BUSY,   /* another worker holds the build lock */
    FL_CACHE_BYPASS, /* Redis is down or failed */
};

/* One key's state across lookup, claim, wait and store. */
struct fl_cache_lookup {
    char key[80];            /* fl:gz:<hash> */
    char lock_key[80];       /* fl:lock:<hash> */
    long long gen;           /* generation seen at lookup; -1 when unknown */
    struct fl_flight flight; /* on lock_key: whether we build it */
};

struct fl_cache_entry {
    struct fl_str body;     /* borrowed from the arena; p is NULL when there is no entry */
    struct fl_str etag;     /* quoted, e.g. "\"3f2a...\"" */
    struct fl_str meta;     /* what the builder stored alongside (no spaces or newlines) */
    int64_t fresh_until_ms; /* wall clock */
    long long gen;          /* the generation it was built at */
};

/*
 * Asks r to watch the generation (fl_redis_track), so that fl_cache_lookup can serve near
 * copies. Call once, before r's first command.
 */
void fl_cache_watch(struct fl_redis *r);

/*
 * Looks up the entry for canonical (the normalised request). Returns HIT with fresh filled;
 * MISS, with stale filled when an entry of an older generation or past its fresh life is
 * kept (stale->body.p is NULL otherwise); or BYPASS when Redis is down. extra, when not
 * NULL, is one more command sent in the lookup's round trip (the rate limit's); its reply
 * goes to extra_reply (left untouched when Redis is down, type NIL when only extra was sent
 * and failed). near, when not NULL, is the worker's memo of near copies: a fresh copy read
 * while r's watch has seen no change (fl_cache_watch) is a HIT without asking Redis for
 * the entry (extra alone is sent), and a fresh entry read from Redis is kept there.
 */
enum fl_cache_state fl_cache_lookup(struct fl_redis *r, struct fl_memo *near,
                                    struct fl_arena *arena, struct fl_str canonical,
                                    const struct fl_redis_cmd *extra,
                                    struct fl_redis_reply *extra_reply, struct fl_cache_lookup *lk,
                                    struct fl_cache_entry *fresh, struct fl_cache_entry *stale);

/*
 * After a MISS: tries to take lk's build lock. Returns MISS when this worker builds (with
 * the lock, or without when Redis refused it: nobody else will build), HIT when the entry
 * was stored meanwhile (fresh filled), BUSY when another worker builds it, BYPASS when
 * Redis failed.
 */
enum fl_cache_state fl_cache_claim(struct fl_redis *r, struct fl_arena *arena,
                                   struct fl_cache_lookup *lk, struct fl_cache_entry *fresh);

/*
 * After BUSY: waits up to wait_ms for the builder's entry. Returns HIT, MISS (time ran out,
 * or the builder released its lock without storing: its build failed) or BYPASS.
 */
enum fl_cache_state fl_cache_wait(struct fl_redis *r, struct fl_arena *arena,
                                  struct fl_cache_lookup *lk, unsigned wait_ms,
                                  struct fl_cache_entry *fresh);

/*
 * Stores body with etag and meta (no spaces or newlines; may be empty) under lk's
 * generation, fresh for ttl_s and kept stale_s longer, and releases lk's lock if held.
 */
void fl_cache_store(struct fl_redis *r, struct fl_arena *arena, struct fl_cache_lookup *lk,
                    struct fl_str body, struct fl_str etag, struct fl_str meta, unsigned ttl_s,
                    unsigned stale_s);

/* Releases lk's build lock, if held, without storing anything (the build failed). */
void fl_cache_release(struct fl_redis *r, struct fl_arena *arena, struct fl_cache_lookup *lk);

/* The command that invalidates every entry, to send in another module's pipeline. */
struct fl_redis_cmd fl_cache_invalidate_cmd(void);

/* Invalidates every entry (INCR of the generation). Returns FL_OK or FL_ECACHE. */
enum fl_err fl_cache_invalidate(struct fl_redis *r, struct fl_arena *arena);

/* Writes the strong ETag of body ("\"<32 hex>\"") into out (at least 35 bytes). */
void fl_cache_etag(struct fl_str body, char out[35]);

#endif
