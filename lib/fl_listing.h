/* SPDX-License-Identifier: MIT */
/*
 * The listing service: the one place a listing or product page request is orchestrated.
 * It sends the rate limit in the cache lookup's round trip, serves a fresh entry, elects
 * one builder per key, chooses the connection (a replica that has caught up), builds
 * the page through the catalogue and stores it, and decides between fresh, stale and
 * rebuild: a kept body is served when MySQL fails, times out or is being skipped (stale if
 * error), and to the others while one worker rebuilds an expired key (stale while
 * revalidate). It renders nothing itself: the caller's render function writes the body,
 * which the service compresses once, so the cache and its hits keep and send gzip.
 */
#ifndef FL_LISTING_H
#define FL_LISTING_H

#include <stdbool.h>
#include <stdint.h>

#include "fl_arena.h"
#include "fl_buf.h"
#include "fl_catalog.h"
#include "fl_db.h"
#include "fl_err.h"
#include "fl_ratelimit.h"
#include "fl_redis.h"
#include "fl_replica.h"

/* What the service works with; everything borrowed from the worker's process context. */
struct fl_listing_svc {
    struct fl_redis *redis;
    struct fl_db *primary;
    struct fl_replica *replica; /* the replicas; NULL without FL_MYSQL_READ_URL */
    unsigned ttl_s;             /* fresh life of an entry (FL_CACHE_TTL) */
    unsigned stale_s;           /* how long it is kept past that (FL_CACHE_STALE_S) */
    struct fl_memo *near;       /* near copies of entries (fl_cache_lookup); NULL: none */
};

/* Where a page came from: the X-Cache value. */
enum fl_listing_source {
    FL_LISTING_HIT,    /* a fresh cache entry */
    FL_LISTING_MISS,   /* built now and stored */
    FL_LISTING_BYPASS, /* built now, not stored (Redis down, or rows maybe behind) */
    FL_LISTING_STALE,  /* a kept entry past its fresh life or of an older generation */
    FL_LISTING__MAX
};

/* The plain body is at most this long (fl_gzip_decompress's bound for it). */
#define FL_LISTING_BODY_MAX_BYTES ((size_t)4 << 20)

struct fl_listing_result {
    struct fl_str body; /* gzip-compressed (fl_gzip) when gzip, else plain; borrowed */
    bool gzip;          /* the body is as the cache keeps it: compressed once, when built.
                           A page built and not stored (Redis down) is plain: compressing
                           it would be work for a single send */
    struct fl_str etag; /* of the plain body, quoted; borrowed */
    struct fl_str next; /* the next page's cursor; empty at the end; borrowed */
    int64_t max_age_s;  /* seconds left of the entry's fresh life; 0 when not fresh */
    enum fl_listing_source source;
};

/* Writes a page of rows, and the next page's cursor (empty at the end), as the body. */
typedef void (*fl_listing_page_fn)(struct fl_buf *body, const struct fl_product *rows, size_t n,
                                   struct fl_str next);

/* Writes one product as the body. */
typedef void (*fl_listing_product_fn)(struct fl_buf *body, const struct fl_product *p);

/* "HIT", "MISS", "BYPASS" or "STALE". */
const char *fl_listing_source_name(enum fl_listing_source source);

/*
 * Serves the page for q. rl, when not NULL, is the client's rate limit, decided in the
 * lookup's round trip. Returns FL_OK with out filled; FL_ELIMITED when rl refuses the
 * request (nothing else was done); FL_EDB when MySQL failed and no kept body exists;
 * the catalogue's FL_EINVAL (a search too broad to answer); FL_ENOMEM.
 */
enum fl_err fl_listing_page(const struct fl_listing_svc *svc, struct fl_arena *arena,
                            const struct fl_listing *q, struct fl_ratelimit *rl,
                            fl_listing_page_fn render, struct fl_listing_result *out);

/* Serves product id's page, as fl_listing_page does; also FL_ENOTFOUND. */
enum fl_err fl_listing_product(const struct fl_listing_svc *svc, struct fl_arena *arena,
                               uint64_t id, struct fl_ratelimit *rl, fl_listing_product_fn render,
                               struct fl_listing_result *out);

#endif
