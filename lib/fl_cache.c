/* SPDX-License-Identifier: MIT */
/*
 * Response cache. An entry's value is "<generation> <fresh_until_ms> <etag> <meta>\n<body>",
 * kept in Redis for its fresh life plus its stale life. One worker builds a missing entry
 * while the others wait for it: a single flight (fl_flight) on the key's build lock.
 *
 * A worker also keeps near copies of the entries it found fresh, in a memo keyed by the
 * Redis watch's epoch (fl_redis_tracked) and the entry's key. The generation is the watched
 * key and every write moves it, so within one epoch the generation read with an entry is
 * still the current one, and the copy serves until its own fresh life ends, without a
 * round trip. A write moves the epoch, and no copy of the epoch before is ever found again.
 */
#include "fl_cache.h"

#include <stdio.h>
#include <string.h>

#include "fl_crypto.h"
#include "fl_log.h"
#include "fl_metrics.h"
#include "fl_time.h"

#define GEN_KEY "fl:products:gen"
#define LOCK_MS 2000
#define POLL_US 3000

void fl_cache_etag(struct fl_str body, char out[35])
{
    unsigned char d[32];

    fl_crypto_sha256(body, d);
    out[0] = '"';
    fl_crypto_hex(d, 16, out + 1);
    out[33] = '"';
    out[34] = '\0';
}

/* Parses a stored value; false when it is malformed. */
static bool parse_entry(struct fl_str v, struct fl_cache_entry *out)
{
    const char *nl = memchr(v.p, '\n', v.len), *sp1, *sp2, *sp3;
    int64_t g, fresh;

    if (nl == NULL)
        return false;
    sp1 = memchr(v.p, ' ', (size_t)(nl - v.p));
    sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(nl - sp1 - 1)) : NULL;
    sp3 = sp2 ? memchr(sp2 + 1, ' ', (size_t)(nl - sp2 - 1)) : NULL;
    if (sp3 == NULL ||
        fl_str_to_i64((struct fl_str){v.p, (size_t)(sp1 - v.p)}, 0, INT64_MAX, &g) != FL_OK ||
        fl_str_to_i64((struct fl_str){sp1 + 1, (size_t)(sp2 - sp1 - 1)}, 0, INT64_MAX, &fresh) !=
            FL_OK)
        return false;
    out->gen = g;
    out->fresh_until_ms = fresh;
    out->etag = (struct fl_str){sp2 + 1, (size_t)(sp3 - sp2 - 1)};
    out->meta = (struct fl_str){sp3 + 1, (size_t)(nl - sp3 - 1)};
    out->body = (struct fl_str){nl + 1, v.len - (size_t)(nl + 1 - v.p)};
    return true;
}

/* Reads lk's entry: the generation and the entry, judged by entry_there. */
struct entry_read {
    struct fl_cache_lookup *lk;
    struct fl_cache_entry *found; /* the entry, if any (body.p NULL when none) */
    struct fl_redis_cmd cmds[2];
    struct fl_flight_check check;
};

/*
 * Reads the replies to entry_read's commands: sets lk->gen and *found. True when the entry
 * is fresh and of the current generation.
 */
static bool entry_there(void *ud, const struct fl_redis_reply *rep)
{
    struct entry_read *e = ud;
    int64_t g = 0;

    if (rep[0].type == FL_REDIS_STR && fl_str_to_i64(rep[0].str, 0, INT64_MAX, &g) != FL_OK)
        g = -1;
    e->lk->gen = g;
    if (rep[1].type != FL_REDIS_STR || !parse_entry(rep[1].str, e->found)) {
        e->found->body.p = NULL;
        return false;
    }
    return g >= 0 && e->found->gen == g && fl_time_wall_ms() < e->found->fresh_until_ms;
}

static void entry_read_init(struct entry_read *e, struct fl_cache_lookup *lk,
                            struct fl_cache_entry *found)
{
    e->lk = lk;
    e->found = found;
    e->cmds[0] = FL_REDIS_CMD(FL_STR("GET"), FL_STR(GEN_KEY));
    e->cmds[1] = FL_REDIS_CMD(FL_STR("GET"), fl_str_c(lk->key));
    e->check = (struct fl_flight_check){e->cmds, FL_COUNTOF(e->cmds), entry_there, e};
    found->body.p = NULL;
}

void fl_cache_watch(struct fl_redis *r)
{
    fl_redis_track(r, GEN_KEY);
}

/* The near copy's memo key: the epoch and the entry's hash (lk->key past "fl:gz:"). */
static struct fl_str near_key(char out[FL_MEMO_KEY_MAX_BYTES], uint64_t epoch,
                              const struct fl_cache_lookup *lk)
{
    int n = snprintf(out, FL_MEMO_KEY_MAX_BYTES, "%llx %s", (unsigned long long)epoch,
                     lk->key + sizeof("fl:gz:") - 1);

    return (struct fl_str){out, (size_t)n};
}

/* The near copy of lk's entry in epoch, when it is still fresh. */
static bool near_get(struct fl_memo *near, uint64_t epoch, struct fl_arena *arena,
                     struct fl_cache_lookup *lk, struct fl_cache_entry *fresh)
{
    char k[FL_MEMO_KEY_MAX_BYTES];
    struct fl_str v;

    if (epoch == 0 || !fl_memo_get(near, near_key(k, epoch, lk), &v))
        return false;
    /* The body outlives the memo's next put (fl_listing_result borrows it). */
    if ((v = fl_arena_strdup(arena, v)).p == NULL || !parse_entry(v, fresh) ||
        fl_time_wall_ms() >= fresh->fresh_until_ms)
        return false;
    lk->gen = fresh->gen;
    return true;
}

enum fl_cache_state fl_cache_lookup(struct fl_redis *r, struct fl_memo *near,
                                    struct fl_arena *arena, struct fl_str canonical,
                                    const struct fl_redis_cmd *extra,
                                    struct fl_redis_reply *extra_reply, struct fl_cache_lookup *lk,
                                    struct fl_cache_entry *fresh, struct fl_cache_entry *stale)
{
    struct fl_redis_cmd cmds[3];
    struct fl_redis_reply rep[3];
    struct entry_read e;
    unsigned char d[32];
    char h[33], k[FL_MEMO_KEY_MAX_BYTES];
    uint64_t epoch = near ? fl_redis_tracked(r) : 0; /* read before the entry is */

    fl_crypto_sha256(canonical, d);
    fl_crypto_hex(d, 16, h);
    /* "gz": entries hold gzip bodies (fl_listing); a worker of an older release, which
     * stored and read plain ones under fl:list:, never reads one of these. */
    snprintf(lk->key, sizeof(lk->key), "fl:gz:%s", h);
    snprintf(lk->lock_key, sizeof(lk->lock_key), "fl:lock:%s", h);
    lk->flight = FL_FLIGHT_NONE;
    lk->gen = -1;
    stale->body.p = NULL;
    entry_read_init(&e, lk, fresh);
    if (near_get(near, epoch, arena, lk, fresh)) {
        /* Only the rate limit's command goes out; it fails open, as below. */
        if (extra && fl_redis_pipeline(r, arena, extra, 1, extra_reply) != FL_OK)
            memset(extra_reply, 0, sizeof(*extra_reply));
        fl_metrics_add(FL_M_CACHE_NEAR_HIT, 1);
        return FL_CACHE_HIT;
    }
    /* The entry and the rate limit's command in one round trip. */
    memcpy(cmds, e.cmds, sizeof(e.cmds));
    if (extra)
        cmds[2] = *extra;
    if (fl_redis_pipeline(r, arena, cmds, extra ? 3 : 2, rep) != FL_OK)
        return FL_CACHE_BYPASS;
    if (extra)
        *extra_reply = rep[2];
    if (entry_there(&e, rep)) {
        if (epoch)
            fl_memo_put(near, near_key(k, epoch, lk), rep[1].str); /* not kept: asked next time */
        return FL_CACHE_HIT;
    }
    *stale = *fresh;
    return FL_CACHE_MISS;
}

enum fl_cache_state fl_cache_claim(struct fl_redis *r, struct fl_arena *arena,
                                   struct fl_cache_lookup *lk, struct fl_cache_entry *fresh)
{
    struct entry_read e;
    enum fl_flight_state state;

    entry_read_init(&e, lk, fresh);
    if (fl_flight_take(&lk->flight, r, arena, fl_str_c(lk->lock_key), LOCK_MS, &e.check, &state) !=
        FL_OK)
        return FL_CACHE_BYPASS;
    if (state == FL_FLIGHT_THERE)
        return FL_CACHE_HIT;
    /* Taken, or refused (maxmemory, say): build it, nobody else will. */
    return state == FL_FLIGHT_BUSY ? FL_CACHE_BUSY : FL_CACHE_MISS;
}

enum fl_cache_state fl_cache_wait(struct fl_redis *r, struct fl_arena *arena,
                                  struct fl_cache_lookup *lk, unsigned wait_ms,
                                  struct fl_cache_entry *fresh)
{
    struct entry_read e;
    enum fl_flight_state state;
    enum fl_err err;

    entry_read_init(&e, lk, fresh);
    err = fl_flight_wait(&lk->flight, r, arena, fl_time_mono_us() + (int64_t)wait_ms * 1000,
                         POLL_US, &e.check, &state);
    if (err == FL_OK && state == FL_FLIGHT_THERE)
        return FL_CACHE_HIT;
    /* Time ran out, or the builder let go without storing anything: its build failed. */
    return err == FL_ECACHE ? FL_CACHE_BYPASS : FL_CACHE_MISS;
}

void fl_cache_release(struct fl_redis *r, struct fl_arena *arena, struct fl_cache_lookup *lk)
{
    fl_flight_land(&lk->flight, r, arena, NULL);
}

void fl_cache_store(struct fl_redis *r, struct fl_arena *arena, struct fl_cache_lookup *lk,
                    struct fl_str body, struct fl_str etag, struct fl_str meta, unsigned ttl_s,
                    unsigned stale_s)
{
    struct fl_redis_cmd set;
    struct fl_buf v;
    char keep_ms[24];

    if (lk->gen < 0) {
        fl_cache_release(r, arena, lk);
        return;
    }
    fl_buf_init(&v, FL_REDIS_VALUE_MAX_BYTES);
    fl_buf_appendf(&v, "%lld %lld ", lk->gen,
                   (long long)(fl_time_wall_ms() + (int64_t)ttl_s * 1000));
    fl_buf_put(&v, etag);
    fl_buf_putc(&v, ' ');
    fl_buf_put(&v, meta);
    fl_buf_putc(&v, '\n');
    fl_buf_put(&v, body);
    snprintf(keep_ms, sizeof(keep_ms), "%llu", ((unsigned long long)ttl_s + stale_s) * 1000);
    set = FL_REDIS_CMD(FL_STR("SET"), fl_str_c(lk->key), fl_buf_str(&v), FL_STR("PX"),
                       fl_str_c(keep_ms));
    fl_flight_land(&lk->flight, r, arena, fl_buf_err(&v) == FL_OK ? &set : NULL);
    fl_buf_free(&v);
}

struct fl_redis_cmd fl_cache_invalidate_cmd(void)
{
    return FL_REDIS_CMD(FL_STR("INCR"), FL_STR(GEN_KEY));
}

enum fl_err fl_cache_invalidate(struct fl_redis *r, struct fl_arena *arena)
{
    struct fl_redis_cmd cmd = fl_cache_invalidate_cmd();
    struct fl_redis_reply rep;
    enum fl_err err = fl_redis_pipeline(r, arena, &cmd, 1, &rep);

    if (err == FL_OK && rep.type != FL_REDIS_INT)
        err = FL_ECACHE;
    if (err != FL_OK)
        fl_log(FL_LOG_ERROR, "event=cache_invalidate_failed error=\"%s\"", fl_strerror(err));
    return err;
}
