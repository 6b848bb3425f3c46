/* SPDX-License-Identifier: MIT */
/*
 * fl_oauth against a fake token provider on loopback, with Redis down (each worker then
 * fetches on its own): a grant is asked for with the client's credentials and scope, kept
 * until it nears expiry, dropped after a 401 and fetched again; a refusal is FL_EAUTH, a
 * failure or a malformed grant FL_EUPSTREAM, a passed deadline FL_ETIMEOUT.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fake_server.h"
#include "fl_oauth.h"
#include "fl_time.h"
#include "offline.h"
#include "test.h"

static char token_url[64], client_id[] = "client-1", secret[] = "s3cret", scope[] = "catalog:read";
static struct fl_config cfg = {.oauth_token_url = token_url,
                               .oauth_client_id = client_id,
                               .oauth_client_secret = secret,
                               .oauth_scope = scope};
static struct fl_redis *redis;
static struct fl_httpc *http;
static struct fl_arena *arena;

static int64_t in_ms(int ms)
{
    return fl_time_mono_us() + (int64_t)ms * 1000;
}

static void test_token_kept_and_renewed(void)
{
    const struct canned replies[] = {
        fake_http("200 OK", "Content-Type: application/json\r\n",
                  "{\"access_token\":\"tok-1\",\"token_type\":\"Bearer\",\"expires_in\":3600}"),
        fake_http("200 OK", "Content-Type: application/json\r\n",
                  "{\"access_token\":\"tok-2\",\"expires_in\":3600,\"scope\":\"catalog:read\"}"),
        fake_http("200 OK", "Content-Type: application/json\r\n",
                  "{\"access_token\":\"tok-3\",\"expires_in\":3600}"),
    };
    struct fl_oauth *o = fl_oauth_new(&cfg);
    struct fl_str token = FL_STR_NULL;
    char seen[4096] = "";
    pid_t pid;

    fake_capture_start("oauth");
    snprintf(token_url, sizeof(token_url), "http://127.0.0.1:%u/oauth/token",
             fake_tcp(replies, FL_COUNTOF(replies), &pid));
    ASSERT_EQ(fl_oauth_token(o, redis, http, arena, in_ms(2000), &token), FL_OK);
    ASSERT_TRUE(fl_str_eq(token, FL_STR("tok-1")));
    ASSERT_EQ(fl_oauth_fetches(o), 1);
    /* Kept: no second request. */
    ASSERT_EQ(fl_oauth_token(o, redis, http, arena, in_ms(2000), &token), FL_OK);
    ASSERT_TRUE(fl_str_eq(token, FL_STR("tok-1")));
    ASSERT_EQ(fl_oauth_fetches(o), 1);
    /* An upstream refused it: dropped, and the next call fetches another. */
    fl_oauth_drop(o, redis, arena, FL_STR("tok-1"));
    ASSERT_EQ(fl_oauth_token(o, redis, http, arena, in_ms(2000), &token), FL_OK);
    ASSERT_TRUE(fl_str_eq(token, FL_STR("tok-2")));
    ASSERT_EQ(fl_oauth_fetches(o), 2);
    /* Dropping a token we no longer hold keeps the one we have. */
    fl_oauth_drop(o, redis, arena, FL_STR("tok-1"));
    ASSERT_EQ(fl_oauth_token(o, redis, http, arena, in_ms(2000), &token), FL_OK);
    ASSERT_TRUE(fl_str_eq(token, FL_STR("tok-2")));
    /* A probe asks whatever is kept, and keeps what it gets. */
    ASSERT_EQ(fl_oauth_probe(o, redis, http, arena, in_ms(2000)), FL_OK);
    ASSERT_EQ(fl_oauth_fetches(o), 3);
    ASSERT_EQ(fl_oauth_token(o, redis, http, arena, in_ms(2000), &token), FL_OK);
    ASSERT_TRUE(fl_str_eq(token, FL_STR("tok-3")));
    fake_stop(pid);

    fake_capture_end(seen, sizeof(seen));
    ASSERT_CONTAINS(seen, "POST /oauth/token HTTP/1.1\r\n");
    ASSERT_CONTAINS(seen, "\r\nAuthorization: Basic Y2xpZW50LTE6czNjcmV0\r\n");
    ASSERT_CONTAINS(seen, "\r\n\r\ngrant_type=client_credentials&scope=catalog%3Aread");
    fl_oauth_free(o);
}

/* Each reply in turn to a fresh token cache: what fl_oauth_token returns. */
static void test_refusals_and_failures(void)
{
    const struct canned replies[] = {
        fake_http("401 Unauthorized", "", ""),
        fake_http("400 Bad Request", "", ""),
        fake_http("500 Internal Server Error", "", ""),
        fake_http("200 OK", "Content-Type: application/json\r\n", "{\"access_token\":\"tok\""),
        fake_http("200 OK", "Content-Type: application/json\r\n",
                  "{\"access_token\":\"tok\",\"expires_in\":0}"),
        fake_http("200 OK", "Content-Type: application/json\r\n",
                  "{\"access_token\":\"\",\"expires_in\":60}"),
        fake_http("200 OK", "Content-Type: application/json\r\n",
                  "{\"token_type\":\"Bearer\",\"expires_in\":60}"),
        fake_http("200 OK", "Content-Type: application/json\r\n",
                  "{\"access_token\":\"tok\",\"expires_in\":\"60\"}"),
    };
    static const enum fl_err want[] = {FL_EAUTH,     FL_EAUTH,     FL_EUPSTREAM, FL_EUPSTREAM,
                                       FL_EUPSTREAM, FL_EUPSTREAM, FL_EUPSTREAM, FL_EUPSTREAM};
    struct fl_str token;
    pid_t pid;

    snprintf(token_url, sizeof(token_url), "http://127.0.0.1:%u/oauth/token",
             fake_tcp(replies, FL_COUNTOF(replies), &pid));
    for (size_t i = 0; i < FL_COUNTOF(replies); i++) {
        struct fl_oauth *o = fl_oauth_new(&cfg);
        enum fl_err err = fl_oauth_token(o, redis, http, arena, in_ms(2000), &token);
        fl_test_checks++;
        if (err != want[i])
            FAIL_AT("reply %zu: %s, not %s", i, fl_strerror(err), fl_strerror(want[i]));
        fl_oauth_free(o);
    }
    fake_stop(pid);
}

/* A grant over the HTTP client's cap is the provider failing, not a promise broken. */
static void test_grant_over_the_cap(void)
{
    const struct canned replies[] = {fake_http("200 OK", "Content-Type: application/json\r\n",
                                               "{\"access_token\":\"tok\",\"expires_in\":60}")};
    struct fl_httpc *small = fl_httpc_new(16);
    struct fl_oauth *o = fl_oauth_new(&cfg);
    struct fl_str token;
    pid_t pid;

    snprintf(token_url, sizeof(token_url), "http://127.0.0.1:%u/oauth/token",
             fake_tcp(replies, FL_COUNTOF(replies), &pid));
    ASSERT_EQ(fl_oauth_token(o, redis, small, arena, in_ms(2000), &token), FL_EUPSTREAM);
    fake_stop(pid);
    fl_oauth_free(o);
    fl_httpc_free(small);
}

static void test_unreachable_and_late(void)
{
    struct fl_oauth *o = fl_oauth_new(&cfg);
    struct fl_str token;

    snprintf(token_url, sizeof(token_url), "http://127.0.0.1:%u/oauth/token", offline_port());
    ASSERT_EQ(fl_oauth_token(o, redis, http, arena, in_ms(2000), &token), FL_EUPSTREAM);
    ASSERT_EQ(fl_oauth_fetches(o), 1);
    ASSERT_EQ(fl_oauth_token(o, redis, http, arena, fl_time_mono_us() - 1, &token), FL_ETIMEOUT);
    ASSERT_EQ(fl_oauth_fetches(o), 1); /* no request once the deadline has passed */
    fl_oauth_free(o);
    fl_oauth_free(NULL);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    redis = offline_redis();
    http = fl_httpc_new(1 << 20);
    arena = fl_arena_new(1 << 20);
    test_token_kept_and_renewed();
    test_refusals_and_failures();
    test_grant_over_the_cap();
    test_unreachable_and_late();
    fl_arena_free(arena);
    fl_httpc_free(http);
    fl_redis_free(redis);
    return fl_test_done("test_oauth");
}
