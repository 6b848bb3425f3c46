/* SPDX-License-Identifier: MIT */
#include "fl_listing.h"

#include <stdio.h>

#include "fl_cache.h"
#include "fl_gzip.h"
#include "fl_metrics.h"
#include "fl_time.h"

/*
 * How long a worker waits for another's build of the same key when it has nothing kept to
 * serve meanwhile. A listing miss takes 0.3-2 ms on 1M rows (tests/bench), so a builder
 * that has not stored its page by then is stuck, and the waiter builds it itself.
 */
#define BUILD_WAIT_MS       250
#define CANONICAL_MAX_BYTES 8192

/* Builds the body and the next cursor for one key, on db. */
typedef enum fl_err (*build_fn)(const void *ud, struct fl_db *db, struct fl_arena *arena,
                                struct fl_buf *body, struct fl_buf *next);

const char *fl_listing_source_name(enum fl_listing_source source)
{
    static const char *const names[FL_LISTING__MAX] = {
        [FL_LISTING_HIT] = "HIT",
        [FL_LISTING_MISS] = "MISS",
        [FL_LISTING_BYPASS] = "BYPASS",
        [FL_LISTING_STALE] = "STALE",
    };
    return names[source];
}

/*
 * The connection for a catalogue read: a replica that has applied every write committed
 * so far, else the primary. *current is false when the primary was down and a replica
 * serves rows that may be behind: they must not be cached.
 */
static struct fl_db *reader(const struct fl_listing_svc *svc, bool *current)
{
    static const enum fl_metric counted[] = {
        [FL_READ_REPLICA] = FL_M_READS_REPLICA,
        [FL_READ_PASSED_OVER] = FL_M_READS_PASSED_OVER,
        [FL_READ_REPLICA_BEHIND] = FL_M_READS_REPLICA_BEHIND,
    };
    enum fl_read_from from;
    struct fl_db *db = fl_replica_reader(svc->replica, svc->primary, &from);

    if (from != FL_READ_PRIMARY)
        fl_metrics_add(counted[from], 1);
    *current = from != FL_READ_REPLICA_BEHIND;
    return db;
}

/* Fills out from a cache entry. */
static enum fl_err kept(const struct fl_cache_entry *e, enum fl_listing_source source,
                        struct fl_listing_result *out)
{
    int64_t left_ms = e->fresh_until_ms - fl_time_wall_ms();

    out->body = e->body;
    out->gzip = true;
    out->etag = e->etag;
    out->next = e->meta;
    out->max_age_s = source == FL_LISTING_HIT && left_ms > 0 ? left_ms / 1000 : 0;
    out->source = source;
    return FL_OK;
}

/*
 * Moves what was built into the arena, compressed when it is to be stored, with the ETag
 * of the plain body.
 */
static enum fl_err built(struct fl_arena *arena, const struct fl_buf *body,
                         const struct fl_buf *next, bool compress, struct fl_listing_result *out)
{
    char etag[35];
    enum fl_err err = FL_OK;

    if (fl_buf_err(body) || fl_buf_err(next))
        return FL_ENOMEM;
    fl_cache_etag(fl_buf_str(body), etag);
    out->gzip = compress;
    if (compress)
        err = fl_gzip_compress(arena, fl_buf_str(body), &out->body);
    else if ((out->body = fl_arena_strdup(arena, fl_buf_str(body))).p == NULL)
        err = FL_ENOMEM;
    out->next = fl_arena_strdup(arena, fl_buf_str(next));
    out->etag = fl_arena_strdup(arena, fl_str_c(etag));
    if (err != FL_OK)
        return err;
    return out->next.p && out->etag.p ? FL_OK : FL_ENOMEM;
}

/*
 * Builds the page after a miss (state MISS, or BYPASS when Redis is down) and stores it
 * when it may be cached. When MySQL fails, the kept body (stale, if any) is served.
 */
static enum fl_err rebuild(const struct fl_listing_svc *svc, struct fl_arena *arena,
                           struct fl_cache_lookup *lk, enum fl_cache_state state,
                           const struct fl_cache_entry *stale, build_fn build, const void *ud,
                           struct fl_listing_result *out)
{
    struct fl_buf body, next;
    struct fl_db *db;
    bool current, store;
    enum fl_err err;

    fl_buf_init(&body, FL_LISTING_BODY_MAX_BYTES);
    fl_buf_init(&next, FL_CURSOR_MAX_BYTES * 2);
    db = reader(svc, &current);
    err = build(ud, db, arena, &body, &next);
    if (err == FL_EDB && db == svc->primary && svc->replica) {
        /* The primary failed mid-read: a replica serves what it has, uncached. */
        fl_metrics_add(FL_M_READS_REPLICA_BEHIND, 1);
        current = false;
        err = build(ud, fl_replica_any(svc->replica), arena, &body, &next);
    } else if (err == FL_EDB && db != svc->primary) {
        /* The replica failed mid-read (killed, say): the primary has every write. */
        fl_buf_reset(&body);
        fl_buf_reset(&next);
        current = true;
        err = build(ud, svc->primary, arena, &body, &next);
    }
    store = state == FL_CACHE_MISS && current;
    if (err == FL_OK)
        err = built(arena, &body, &next, store, out);
    if (err != FL_OK) {
        fl_cache_release(svc->redis, arena, lk);
        if (err == FL_EDB && stale->body.p)
            err = kept(stale, FL_LISTING_STALE, out);
    } else if (store) {
        fl_cache_store(svc->redis, arena, lk, out->body, out->etag, out->next, svc->ttl_s,
                       svc->stale_s);
        out->max_age_s = svc->ttl_s;
        out->source = FL_LISTING_MISS;
    } else {
        fl_cache_release(svc->redis, arena, lk);
        out->max_age_s = 0;
        out->source = FL_LISTING_BYPASS;
    }
    fl_buf_free(&body);
    fl_buf_free(&next);
    return err;
}

/*
 * After a miss: one worker builds, the others serve the kept body of this generation at
 * once, or, with none, wait a little for the builder's entry.
 */
static enum fl_err miss(const struct fl_listing_svc *svc, struct fl_arena *arena,
                        struct fl_cache_lookup *lk, const struct fl_cache_entry *stale,
                        build_fn build, const void *ud, struct fl_listing_result *out)
{
    struct fl_cache_entry fresh;
    enum fl_cache_state state = fl_cache_claim(svc->redis, arena, lk, &fresh);

    if (state == FL_CACHE_BUSY) {
        /* Only a body of the current generation: a write's effect must show at once. */
        if (stale->body.p && stale->gen == lk->gen)
            return kept(stale, FL_LISTING_STALE, out);
        state = fl_cache_wait(svc->redis, arena, lk, BUILD_WAIT_MS, &fresh);
    }
    if (state == FL_CACHE_HIT)
        return kept(&fresh, FL_LISTING_HIT, out);
    return rebuild(svc, arena, lk, state, stale, build, ud, out);
}

static enum fl_err serve(const struct fl_listing_svc *svc, struct fl_arena *arena,
                         struct fl_str canonical, struct fl_ratelimit *rl, build_fn build,
                         const void *ud, struct fl_listing_result *out)
{
    static const enum fl_metric counted[FL_LISTING__MAX] = {
        [FL_LISTING_HIT] = FL_M_CACHE_HIT,
        [FL_LISTING_MISS] = FL_M_CACHE_MISS,
        [FL_LISTING_BYPASS] = FL_M_CACHE_BYPASS,
        [FL_LISTING_STALE] = FL_M_CACHE_STALE,
    };
    struct fl_cache_lookup lk;
    struct fl_cache_entry fresh, stale;
    struct fl_redis_cmd rl_cmd;
    struct fl_redis_reply rl_reply = {0};
    enum fl_cache_state state;
    enum fl_err err;

    if (rl)
        rl_cmd = fl_ratelimit_cmd(rl);
    state = fl_cache_lookup(svc->redis, svc->near, arena, canonical, rl ? &rl_cmd : NULL, &rl_reply,
                            &lk, &fresh, &stale);
    if (rl && state != FL_CACHE_BYPASS)
        fl_ratelimit_read(rl, &rl_reply);
    if (rl && rl->decided && !rl->allowed)
        return FL_ELIMITED;
    if (state == FL_CACHE_HIT)
        err = kept(&fresh, FL_LISTING_HIT, out);
    else if (state == FL_CACHE_MISS)
        err = miss(svc, arena, &lk, &stale, build, ud, out);
    else
        err = rebuild(svc, arena, &lk, state, &stale, build, ud, out);
    if (err == FL_OK)
        fl_metrics_add(counted[out->source], 1);
    return err;
}

/* ---- the listing ---- */

struct page_build {
    const struct fl_listing *q;
    fl_listing_page_fn render;
};

static enum fl_err build_page(const void *ud, struct fl_db *db, struct fl_arena *arena,
                              struct fl_buf *body, struct fl_buf *next)
{
    const struct page_build *b = ud;
    struct fl_product *rows;
    size_t n;
    bool more;
    enum fl_err err = fl_catalog_list(db, arena, b->q, &rows, &n, &more);

    if (err != FL_OK)
        return err;
    if (more) {
        struct fl_cursor c = {b->q->sort, rows[n - 1].id, rows[n - 1].sort_key};
        fl_cursor_encode(&c, next);
    }
    b->render(body, rows, n, fl_buf_str(next));
    return FL_OK;
}

/* The normalised request: equal for requests that must get the same page. */
static void canonical(const struct fl_listing *q, struct fl_buf *out)
{
    fl_buf_appendf(out, "v1 sort=%s limit=%u min=%lld max=%lld cat=", fl_sort_name(q->sort),
                   q->limit, (long long)q->min_cents, (long long)q->max_cents);
    for (size_t i = 0; i < q->n_categories; i++) {
        fl_buf_put(out, q->categories[i]);
        fl_buf_putc(out, ',');
    }
    fl_buf_puts(out, " words=");
    for (size_t i = 0; i < q->n_words; i++) {
        fl_buf_put(out, q->words[i]);
        fl_buf_putc(out, ' ');
    }
    if (q->has_cursor) {
        fl_buf_appendf(out, " after=%llu.", (unsigned long long)q->after.id);
        fl_buf_put(out, q->after.key);
    }
}

enum fl_err fl_listing_page(const struct fl_listing_svc *svc, struct fl_arena *arena,
                            const struct fl_listing *q, struct fl_ratelimit *rl,
                            fl_listing_page_fn render, struct fl_listing_result *out)
{
    struct page_build b = {q, render};
    struct fl_buf key;
    enum fl_err err;

    fl_buf_init(&key, CANONICAL_MAX_BYTES);
    canonical(q, &key);
    err = fl_buf_err(&key);
    if (err == FL_OK)
        err = serve(svc, arena, fl_buf_str(&key), rl, build_page, &b, out);
    fl_buf_free(&key);
    return err;
}

/* ---- one product ---- */

struct product_build {
    uint64_t id;
    fl_listing_product_fn render;
};

static enum fl_err build_product(const void *ud, struct fl_db *db, struct fl_arena *arena,
                                 struct fl_buf *body, struct fl_buf *next)
{
    const struct product_build *b = ud;
    struct fl_product p;
    enum fl_err err = fl_catalog_get(db, arena, b->id, &p);

    (void)next;
    if (err == FL_OK)
        b->render(body, &p);
    return err;
}

enum fl_err fl_listing_product(const struct fl_listing_svc *svc, struct fl_arena *arena,
                               uint64_t id, struct fl_ratelimit *rl, fl_listing_product_fn render,
                               struct fl_listing_result *out)
{
    struct product_build b = {id, render};
    char key[48];

    snprintf(key, sizeof(key), "v1 product id=%llu", (unsigned long long)id);
    return serve(svc, arena, fl_str_c(key), rl, build_product, &b, out);
}
