/* SPDX-License-Identifier: MIT */
/*
 * Token cache. The shared entry is "<expires_at_ms> <token>" under fl:oauth:token (no TTL:
 * see publish); the fetcher is elected by a single flight (fl_flight) on fl:oauth:lock. A
 * process whose Redis is down fetches on its own (coordination needs Redis; the API must
 * not stop for it).
 */
#include "fl_oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_flight.h"
#include "fl_json.h"
#include "fl_log.h"
#include "fl_time.h"

#define TOKEN_KEY       "fl:oauth:token"
#define LOCK_KEY        "fl:oauth:lock"
#define LOCK_MS         10000
#define POLL_US         10000
#define TOKEN_MAX_BYTES 4096

struct fl_oauth {
    const struct fl_config *cfg;
    char token[TOKEN_MAX_BYTES + 1];
    size_t token_len;
    int64_t expires_ms; /* wall clock; 0 = no token */
    uint64_t fetches;
};

struct fl_oauth *fl_oauth_new(const struct fl_config *cfg)
{
    struct fl_oauth *o = calloc(1, sizeof(*o));

    if (o)
        o->cfg = cfg;
    return o;
}

void fl_oauth_free(struct fl_oauth *o)
{
    if (o)
        memset(o->token, 0, sizeof(o->token));
    free(o);
}

uint64_t fl_oauth_fetches(const struct fl_oauth *o)
{
    return o->fetches;
}

static bool have_token(const struct fl_oauth *o)
{
    return o->token_len > 0 && fl_time_wall_ms() < o->expires_ms;
}

static void keep(struct fl_oauth *o, struct fl_str token, int64_t expires_ms)
{
    if (token.len == 0 || token.len > TOKEN_MAX_BYTES)
        return;
    memcpy(o->token, token.p, token.len);
    o->token[token.len] = '\0';
    o->token_len = token.len;
    o->expires_ms = expires_ms;
}

/* The shared token, as a flight reads it: true when a valid one was there (and is now ours). */
static bool token_there(void *ud, const struct fl_redis_reply *rep)
{
    struct fl_oauth *o = ud;
    const char *sp;
    int64_t exp;

    if (rep->type != FL_REDIS_STR || (sp = memchr(rep->str.p, ' ', rep->str.len)) == NULL ||
        fl_str_to_i64((struct fl_str){rep->str.p, (size_t)(sp - rep->str.p)}, 0, INT64_MAX, &exp) !=
            FL_OK ||
        exp <= fl_time_wall_ms())
        return false;
    keep(o, (struct fl_str){sp + 1, rep->str.len - (size_t)(sp + 1 - rep->str.p)}, exp);
    return true;
}

/*
 * Keeps token (valid until exp, wall ms) here and publishes it in Redis for the others as
 * f lands, with its expiry in the value and no TTL on the key: Redis runs volatile-lru (the
 * shipped recipes), which evicts only keys with a TTL, so cache pages can never crowd out
 * the token (token_there ignores it once expired; the next fetch replaces it).
 */
static void publish(struct fl_oauth *o, struct fl_redis *r, struct fl_arena *arena,
                    struct fl_flight *f, struct fl_str token, int64_t exp)
{
    struct fl_buf value;

    keep(o, token, exp);
    fl_buf_init(&value, TOKEN_MAX_BYTES + 32);
    fl_buf_appendf(&value, "%lld ", (long long)exp);
    fl_buf_put(&value, token);
    struct fl_redis_cmd set = FL_REDIS_CMD(FL_STR("SET"), FL_STR(TOKEN_KEY), fl_buf_str(&value));
    fl_flight_land(f, r, arena,
                   exp > fl_time_wall_ms() + 1 && fl_buf_err(&value) == FL_OK ? &set : NULL);
    fl_buf_free(&value);
}

/* Reads the provider's answer: the token into *token, valid until *exp (wall ms). */
static enum fl_err read_grant(const struct fl_httpc_response *resp, struct fl_arena *arena,
                              struct fl_str *token, int64_t *exp)
{
    struct fl_json_field f[3] = {
        {"access_token", 0, {0}}, {"expires_in", 0, {0}}, {"token_type", 0, {0}}};
    struct fl_buf detail;
    int64_t expires_in = 0, skew;
    enum fl_err err;

    if (resp->status == 400 || resp->status == 401) {
        fl_log(FL_LOG_ERROR, "event=oauth_refused status=%ld", resp->status);
        return FL_EAUTH;
    }
    if (resp->status != 200) {
        fl_log(FL_LOG_WARN, "event=oauth_failed status=%ld", resp->status);
        return FL_EUPSTREAM;
    }
    fl_buf_init(&detail, 256);
    err =
        fl_json_parse_object(fl_buf_str(&resp->body), arena, f, 3, FL_JSON_IGNORE_UNKNOWN, &detail);
    fl_buf_free(&detail);
    if (err != FL_OK || f[0].type != FL_JSON_STRING || f[0].text.len == 0 ||
        f[0].text.len > TOKEN_MAX_BYTES || f[1].type != FL_JSON_NUMBER ||
        fl_str_to_i64(f[1].text, 1, 86400 * 365, &expires_in) != FL_OK) {
        fl_log(FL_LOG_WARN, "event=oauth_bad_response");
        return FL_EUPSTREAM;
    }
    /* Renew a tenth of its life early, a minute at the most. */
    skew = expires_in * 1000 / 10 < 60000 ? expires_in * 1000 / 10 : 60000;
    *token = f[0].text;
    *exp = fl_time_wall_ms() + expires_in * 1000 - skew;
    return FL_OK;
}

/*
 * Asks the provider for a token (one request); keeps it here and, when possible, in Redis.
 * Lands f either way: with the token, or without (releasing the lock, if held, at once).
 */
static enum fl_err fetch(struct fl_oauth *o, struct fl_redis *r, struct fl_arena *arena,
                         struct fl_httpc *http, int64_t deadline_us, struct fl_flight *f)
{
    const struct fl_config *cfg = o->cfg;
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded",
                             "Accept: application/json", NULL};
    struct fl_httpc_response resp;
    struct fl_buf form;
    int64_t left_ms = (deadline_us - fl_time_mono_us()) / 1000, exp = 0;
    struct fl_str token;
    enum fl_err err = FL_ETIMEOUT;

    fl_buf_init(&form, 4096);
    fl_buf_init(&resp.body, 64 << 10);
    fl_buf_puts(&form, "grant_type=client_credentials");
    if (cfg->oauth_scope) {
        fl_buf_puts(&form, "&scope=");
        fl_buf_url_escape(&form, fl_str_c(cfg->oauth_scope), "");
    }
    if (left_ms > 0) {
        o->fetches++;
        err = fl_httpc_do(http,
                          &(struct fl_httpc_request){"POST", cfg->oauth_token_url, headers,
                                                     fl_buf_str(&form), cfg->oauth_client_id,
                                                     cfg->oauth_client_secret, (unsigned)left_ms},
                          &resp);
        if (err == FL_ETOOBIG)
            err = FL_EUPSTREAM; /* a grant that large is the provider failing */
    }
    if (err == FL_OK && (err = read_grant(&resp, arena, &token, &exp)) == FL_OK)
        publish(o, r, arena, f, token, exp);
    else
        fl_flight_land(f, r, arena, NULL);
    fl_buf_free(&form);
    fl_buf_free(&resp.body);
    return err;
}

/*
 * No valid token here: takes the shared one, or, as the one process elected by the
 * flight on LOCK_KEY, fetches it while the others wait for it. A process whose Redis fails
 * fetches on its own.
 */
static enum fl_err obtain(struct fl_oauth *o, struct fl_redis *r, struct fl_httpc *http,
                          struct fl_arena *arena, int64_t deadline_us)
{
    struct fl_redis_cmd get = FL_REDIS_CMD(FL_STR("GET"), FL_STR(TOKEN_KEY));
    struct fl_flight_check shared = {&get, 1, token_there, o};
    struct fl_flight f = FL_FLIGHT_NONE;
    enum fl_flight_state state = FL_FLIGHT_ALONE;
    enum fl_err err;
    bool there;

    if (fl_flight_look(r, arena, &shared, &there) == FL_OK && there)
        return FL_OK;
    if (fl_flight_take(&f, r, arena, FL_STR(LOCK_KEY), LOCK_MS, &shared, &state) != FL_OK)
        state = FL_FLIGHT_ALONE;
    if (state == FL_FLIGHT_BUSY) {
        err = fl_flight_wait(&f, r, arena, deadline_us, POLL_US, &shared, &state);
        if (err == FL_ECACHE)
            state = FL_FLIGHT_ALONE; /* Redis failed meanwhile: on our own */
        else if (err != FL_OK)
            return err; /* the deadline passed */
        else if (state == FL_FLIGHT_GONE)
            return FL_EUPSTREAM; /* the fetcher failed: so do we, at once */
    }
    if (state == FL_FLIGHT_THERE)
        return FL_OK;
    return fetch(o, r, arena, http, deadline_us, &f);
}

enum fl_err fl_oauth_token(struct fl_oauth *o, struct fl_redis *r, struct fl_httpc *http,
                           struct fl_arena *arena, int64_t deadline_us, struct fl_str *out)
{
    enum fl_err err = have_token(o) ? FL_OK : obtain(o, r, http, arena, deadline_us);

    if (err == FL_OK && !have_token(o))
        err = FL_EUPSTREAM;
    if (err == FL_OK)
        *out = (struct fl_str){o->token, o->token_len};
    return err;
}

enum fl_err fl_oauth_probe(struct fl_oauth *o, struct fl_redis *r, struct fl_httpc *http,
                           struct fl_arena *arena, int64_t deadline_us)
{
    struct fl_flight none = FL_FLIGHT_NONE;

    return fetch(o, r, arena, http, deadline_us, &none);
}

void fl_oauth_drop(struct fl_oauth *o, struct fl_redis *r, struct fl_arena *arena,
                   struct fl_str token)
{
    static const char drop_script[] =
        "local v = redis.call('get', KEYS[1]) "
        "if v and string.sub(v, -string.len(ARGV[1])) == ARGV[1] then "
        "return redis.call('del', KEYS[1]) end return 0";
    struct fl_redis_cmd cmd =
        FL_REDIS_CMD(FL_STR("EVAL"), FL_STR(drop_script), FL_STR("1"), FL_STR(TOKEN_KEY), token);
    struct fl_redis_reply rep;

    if (fl_str_eq(token, (struct fl_str){o->token, o->token_len})) {
        o->token_len = 0;
        o->expires_ms = 0;
    }
    fl_redis_pipeline(r, arena, &cmd, 1, &rep);
}
