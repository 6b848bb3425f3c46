/* SPDX-License-Identifier: MIT */
/*
 * Upstream call policy. Breaker keys, per upstream name: fl:breaker:<name>:fails (INCR per
 * failed call, deleted by a success), :open (present while open, value = reopen time in ms,
 * expiring after the open period) and :trial (SET NX: the single trial call of the
 * half-open state). Without Redis the breaker cannot be shared and is skipped; the retry
 * policy and deadline still hold.
 */
#include "fl_upstream.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fl_crypto.h"
#include "fl_json.h"
#include "fl_log.h"
#include "fl_time.h"

struct keys {
    char fails[96], open[96], trial[96];
};

static void sleep_us(int64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};

    if (us > 0)
        nanosleep(&ts, NULL);
}

/* Full jitter: a uniform delay in [0, min(cap, base * 2^attempt)]. */
static int64_t backoff_us(const struct fl_upstream_policy *p, unsigned attempt)
{
    uint64_t ceiling = (uint64_t)p->backoff_base_ms << (attempt < 16 ? attempt : 16), r = 0;

    if (ceiling > p->backoff_cap_ms)
        ceiling = p->backoff_cap_ms;
    if (fl_crypto_random(&r, sizeof(r)) != FL_OK)
        r = (uint64_t)fl_time_mono_us();
    return (int64_t)(r % (ceiling * 1000 + 1));
}

static bool retryable_status(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

/* Returns false (with the seconds until it may admit one in retry_after_s) when the breaker
 * refuses the call. */
static bool breaker_admits(const struct fl_upstream_policy *p, struct fl_redis *r,
                           struct fl_arena *arena, const struct keys *k, unsigned *retry_after_s)
{
    struct fl_redis_cmd get[2] = {FL_REDIS_CMD(FL_STR("GET"), fl_str_c(k->open)),
                                  FL_REDIS_CMD(FL_STR("GET"), fl_str_c(k->fails))};
    struct fl_redis_reply rep[2], lock;
    int64_t until = 0, fails = 0;
    char px[16];

    if (fl_redis_pipeline(r, arena, get, 2, rep) != FL_OK)
        return true;
    if (rep[0].type == FL_REDIS_STR && fl_str_to_i64(rep[0].str, 0, INT64_MAX, &until) == FL_OK) {
        int64_t left = until - fl_time_wall_ms();
        *retry_after_s = left > 1000 ? (unsigned)((left + 999) / 1000) : 1;
        return false;
    }
    if (rep[1].type == FL_REDIS_STR)
        fl_str_to_i64(rep[1].str, 0, INT64_MAX, &fails);
    if (fails < (int64_t)p->breaker_failures)
        return true;
    /* Half-open: one trial call goes through, the rest wait for its verdict. */
    snprintf(px, sizeof(px), "%u", p->deadline_ms + 1000);
    struct fl_redis_cmd set = fl_redis_lock_cmd(fl_str_c(k->trial), FL_STR("1"), fl_str_c(px));
    if (fl_redis_pipeline(r, arena, &set, 1, &lock) != FL_OK || lock.type == FL_REDIS_STATUS)
        return true;
    *retry_after_s = 1;
    return false;
}

static void breaker_record(const struct fl_upstream_policy *p, struct fl_redis *r,
                           struct fl_arena *arena, const struct keys *k, bool failed)
{
    struct fl_redis_reply rep[2];
    char until[24], px[16];

    if (!failed) {
        struct fl_redis_cmd del =
            FL_REDIS_CMD(FL_STR("DEL"), fl_str_c(k->fails), fl_str_c(k->trial));
        fl_redis_pipeline(r, arena, &del, 1, rep);
        return;
    }
    struct fl_redis_cmd incr[2] = {FL_REDIS_CMD(FL_STR("INCR"), fl_str_c(k->fails)),
                                   FL_REDIS_CMD(FL_STR("DEL"), fl_str_c(k->trial))};
    if (fl_redis_pipeline(r, arena, incr, 2, rep) != FL_OK || rep[0].type != FL_REDIS_INT ||
        rep[0].integer < (long long)p->breaker_failures)
        return;
    snprintf(until, sizeof(until), "%lld", (long long)(fl_time_wall_ms() + p->breaker_open_ms));
    snprintf(px, sizeof(px), "%u", p->breaker_open_ms);
    struct fl_redis_cmd open =
        FL_REDIS_CMD(FL_STR("SET"), fl_str_c(k->open), fl_str_c(until), FL_STR("PX"), fl_str_c(px));
    fl_redis_pipeline(r, arena, &open, 1, rep);
    fl_log(FL_LOG_WARN, "event=breaker_open upstream=%s failures=%lld", p->name, rep[0].integer);
}

static void keys_for(const struct fl_upstream_policy *p, struct keys *k)
{
    snprintf(k->fails, sizeof(k->fails), "fl:breaker:%s:fails", p->name);
    snprintf(k->open, sizeof(k->open), "fl:breaker:%s:open", p->name);
    snprintf(k->trial, sizeof(k->trial), "fl:breaker:%s:trial", p->name);
}

enum fl_err fl_upstream_breaker_state(const struct fl_upstream_policy *p, struct fl_redis *r,
                                      struct fl_arena *arena, enum fl_breaker_state *out)
{
    struct keys k;
    struct fl_redis_reply rep[2];
    int64_t fails = 0;

    keys_for(p, &k);
    struct fl_redis_cmd get[2] = {FL_REDIS_CMD(FL_STR("EXISTS"), fl_str_c(k.open)),
                                  FL_REDIS_CMD(FL_STR("GET"), fl_str_c(k.fails))};
    if (fl_redis_pipeline(r, arena, get, 2, rep) != FL_OK)
        return FL_ECACHE;
    if (rep[1].type == FL_REDIS_STR)
        fl_str_to_i64(rep[1].str, 0, INT64_MAX, &fails);
    if (rep[0].type == FL_REDIS_INT && rep[0].integer == 1)
        *out = FL_BREAKER_OPEN;
    else
        *out = fails >= (int64_t)p->breaker_failures ? FL_BREAKER_HALF_OPEN : FL_BREAKER_CLOSED;
    return FL_OK;
}

/* What one try's answer means for the call. */
enum verdict {
    DONE,    /* the call ends with this answer */
    RETRY,   /* a transient failure: try again after a backoff, if time allows */
    REFRESH, /* 401: the token was revoked or expired early */
    GIVE_UP, /* a failure a retry would not fix */
};

/* Sends one try bounded by timeout_ms; *err is the call's result should it end here. */
static enum verdict one_try(struct fl_httpc *http, const char *url, struct fl_str token,
                            unsigned timeout_ms, struct fl_httpc_response *resp, enum fl_err *err)
{
    char auth[4200];
    const char *headers[] = {auth, "Accept: application/json", NULL};

    snprintf(auth, sizeof(auth), "Authorization: Bearer %.*s", (int)token.len, token.p);
    *err = fl_httpc_do(
        http, &(struct fl_httpc_request){"GET", url, headers, FL_STR_NULL, NULL, NULL, timeout_ms},
        resp);
    if (*err == FL_ETIMEOUT || *err == FL_EUPSTREAM)
        return RETRY;
    if (*err != FL_OK)
        return GIVE_UP; /* oversized: not something a retry fixes */
    if (resp->status >= 200 && resp->status < 300) {
        *err = fl_json_valid(fl_buf_str(&resp->body)) ? FL_OK : FL_EUPSTREAM;
        return DONE;
    }
    *err = resp->status == 404 ? FL_ENOTFOUND : FL_EUPSTREAM;
    if (resp->status == 404)
        return DONE;
    if (resp->status == 401)
        return REFRESH;
    return retryable_status(resp->status) ? RETRY : GIVE_UP;
}

/* Sleeps the backoff before the next try; false when it would outlive the deadline. */
static bool backed_off(const struct fl_upstream_policy *p, unsigned attempt,
                       const struct fl_httpc_response *resp, int64_t deadline)
{
    int64_t wait = backoff_us(p, attempt);

    if (resp->retry_after_ms >= 0 && resp->retry_after_ms * 1000 > wait)
        wait = resp->retry_after_ms * 1000;
    if (fl_time_mono_us() + wait >= deadline)
        return false; /* give up now, not later */
    sleep_us(wait);
    return true;
}

enum fl_err fl_upstream_get(const struct fl_upstream_policy *p, struct fl_httpc *http,
                            struct fl_oauth *oauth, struct fl_redis *r, struct fl_arena *arena,
                            const char *url, struct fl_upstream_result *out)
{
    int64_t deadline = fl_time_mono_us() + (int64_t)p->deadline_ms * 1000;
    struct fl_httpc_response resp = {.body = out->body};
    struct fl_str token;
    struct keys k;
    bool refreshed = false;
    unsigned attempt = 0;
    enum fl_err err;

    out->tries = 0;
    keys_for(p, &k);
    if (!breaker_admits(p, r, arena, &k, &out->retry_after_s))
        return FL_EUNAVAIL;
    err = fl_oauth_token(oauth, r, http, arena, deadline, &token);
    while (err == FL_OK) {
        int64_t left_ms = (deadline - fl_time_mono_us()) / 1000;
        enum verdict v;

        if (left_ms <= 0) {
            err = FL_ETIMEOUT;
            break;
        }
        v = one_try(http, url, token, left_ms < p->timeout_ms ? (unsigned)left_ms : p->timeout_ms,
                    &resp, &err);
        out->tries++;
        if (v == REFRESH && !refreshed) {
            refreshed = true;
            fl_oauth_drop(oauth, r, arena, token);
            err = fl_oauth_token(oauth, r, http, arena, deadline, &token);
            continue;
        }
        if (v != RETRY || attempt == p->retries || !backed_off(p, attempt++, &resp, deadline))
            break;
        err = FL_OK;
    }
    out->body = resp.body;
    if (err != FL_OK && err != FL_ENOTFOUND && err != FL_ETIMEOUT)
        err = FL_EUPSTREAM;
    breaker_record(p, r, arena, &k, err == FL_EUPSTREAM || err == FL_ETIMEOUT);
    return err;
}
