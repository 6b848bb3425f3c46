/* SPDX-License-Identifier: MIT */
/*
 * The listing cache in Redis. An entry is the exact response body with its ETag, so a hit
 * writes stored bytes and parses nothing. Entries carry the products generation they were
 * built at; every product write INCRs the generation, and an entry of another generation is
 * a miss: one O(1) command invalidates every listing, stale entries expire by TTL. A hit is
 * one round trip (generation and entry in one pipeline). On a miss, one worker takes a
 * short lock and builds the entry while the others wait briefly for it.
 */
#ifndef FL_CACHE_H
#define FL_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "fl_arena.h"
#include "fl_err.h"
#include "fl_redis.h"
#include "fl_str.h"

enum fl_cache_state { FL_CACHE_HIT, FL_CACHE_MISS, FL_CACHE_BYPASS };

/* What a lookup learned, to store the entry built after a miss. */
struct fl_cache_lookup {
    char key[80];       /* fl:list:<hash> */
    char lock_key[80];  /* fl:lock:<hash> */
    char token[33];     /* our lock's random value, when we hold it */
    long long gen;      /* generation seen at lookup */
    bool locked;
};

struct fl_cache_entry {
    struct fl_str body; /* borrowed from the arena */
    struct fl_str etag; /* quoted, e.g. "\"3f2a...\"" */
    struct fl_str meta; /* what the builder stored alongside (no spaces or newlines) */
    int64_t expires_ms; /* wall clock */
};

/*
 * Looks up the entry for canonical (the normalised request). On a miss, tries to take the
 * build lock; if another worker holds it, waits up to wait_ms for its entry. Returns HIT with
 * out filled, MISS (build the response, then fl_cache_store), or BYPASS when Redis is down.
 * extra, when not NULL, is one more command sent in the lookup's round trip (the rate
 * limit's); its reply goes to extra_reply (left untouched when Redis is down).
 */
enum fl_cache_state fl_cache_get(struct fl_redis *r, struct fl_arena *arena,
                                 struct fl_str canonical, unsigned wait_ms,
                                 const struct fl_redis_cmd *extra,
                                 struct fl_redis_reply *extra_reply, struct fl_cache_lookup *lk,
                                 struct fl_cache_entry *out);

/*
 * Stores body with etag and meta (no spaces or newlines; may be empty) for ttl_s under lk's
 * generation, and releases lk's lock if held.
 */
void fl_cache_store(struct fl_redis *r, struct fl_arena *arena, struct fl_cache_lookup *lk,
                    struct fl_str body, struct fl_str etag, struct fl_str meta, unsigned ttl_s);

/* Releases lk's build lock, if held, without storing anything (the build failed). */
void fl_cache_release(struct fl_redis *r, struct fl_arena *arena, struct fl_cache_lookup *lk);

/* The command that invalidates every listing, to send in another module's pipeline. */
struct fl_redis_cmd fl_cache_invalidate_cmd(void);

/* Invalidates every listing (INCR of the generation). Returns FL_OK or FL_ECACHE. */
enum fl_err fl_cache_invalidate(struct fl_redis *r, struct fl_arena *arena);

/* Writes the strong ETag of body ("\"<32 hex>\"") into out (at least 35 bytes). */
void fl_cache_etag(struct fl_str body, char out[35]);

#endif
