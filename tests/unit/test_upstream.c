/* SPDX-License-Identifier: MIT */
/*
 * fl_upstream against a fake API A and token provider on loopback: the policy's outcomes
 * (a JSON answer, 404, retries of transient failures, one token refresh on a 401, giving
 * up on what a retry would not fix), and the breaker: skipped without Redis, and read from
 * a fake Redis (open, half-open, closed; an open one refuses without a call).
 */
#include <stdio.h>
#include <stdlib.h>

#include "fake_server.h"
#include "fl_time.h"
#include "fl_upstream.h"
#include "offline.h"
#include "test.h"

#define JSON_200(body) fake_http("200 OK", "Content-Type: application/json\r\n", body)
#define TOKEN(t)       JSON_200("{\"access_token\":\"" t "\",\"expires_in\":3600}")

static const struct fl_upstream_policy policy = {
    .name = "api_a",
    .timeout_ms = 1000,
    .retries = 2,
    .deadline_ms = 5000,
    .backoff_base_ms = 1,
    .backoff_cap_ms = 5,
    .breaker_failures = 5,
    .breaker_open_ms = 30000,
};
static char token_url[64], client_id[] = "client-1", secret[] = "s3cret";
static struct fl_config cfg = {
    .oauth_token_url = token_url, .oauth_client_id = client_id, .oauth_client_secret = secret};
static struct fl_httpc *http;
static struct fl_oauth *oauth;
static struct fl_redis *redis;
static struct fl_arena *arena;
static struct fl_upstream_result out;

/* Calls the fake's API (the token URL on the same fake) through the policy. */
static enum fl_err call(const struct canned *replies, size_t n)
{
    char url[64];
    pid_t pid;
    unsigned port = fake_tcp(replies, n, &pid);
    enum fl_err err;

    snprintf(token_url, sizeof(token_url), "http://127.0.0.1:%u/oauth/token", port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/products/7", port);
    fl_buf_reset(&out.body);
    err = fl_upstream_get(&policy, http, oauth, redis, arena, url, &out);
    fake_stop(pid);
    return err;
}

static void test_outcomes(void)
{
    const struct canned first[] = {TOKEN("tok-1"), JSON_200("{\"id\":7}")};
    const struct canned not_found[] = {fake_http("404 Not Found", "", "{}")};
    const struct canned transient[] = {
        fake_http("503 Service Unavailable", "Retry-After: 0\r\n", ""),
        fake_http("429 Too Many Requests", "", ""), JSON_200("{\"id\":7,\"stock\":3}")};
    const struct canned failing[] = {
        fake_http("500 Internal Server Error", "", ""), fake_http("502 Bad Gateway", "", ""),
        fake_http("504 Gateway Timeout", "", ""), JSON_200("{\"never\":\"asked\"}")};
    const struct canned final[] = {fake_http("400 Bad Request", "", "")};
    const struct canned not_json[] = {JSON_200("<html>")};

    ASSERT_EQ(call(first, 2), FL_OK);
    ASSERT_EQ(out.tries, 1);
    ASSERT_STREQ(out.body.p, "{\"id\":7}");
    ASSERT_EQ(call(not_found, 1), FL_ENOTFOUND);
    ASSERT_EQ(out.tries, 1);
    ASSERT_EQ(call(transient, 3), FL_OK);
    ASSERT_EQ(out.tries, 3);
    ASSERT_STREQ(out.body.p, "{\"id\":7,\"stock\":3}");
    ASSERT_EQ(call(failing, 4), FL_EUPSTREAM);
    ASSERT_EQ(out.tries, 3); /* the first try and policy.retries more */
    ASSERT_EQ(call(final, 1), FL_EUPSTREAM);
    ASSERT_EQ(out.tries, 1);
    ASSERT_EQ(call(not_json, 1), FL_EUPSTREAM);
    ASSERT_EQ(out.tries, 1);
    ASSERT_EQ(fl_oauth_fetches(oauth), 1);
}

/* A 401: the token is dropped and one fresh token tried; a second 401 is the end. */
static void test_token_refresh(void)
{
    const struct canned refreshed[] = {fake_http("401 Unauthorized", "", ""), TOKEN("tok-2"),
                                       JSON_200("[]")};
    const struct canned refused[] = {fake_http("401 Unauthorized", "", ""), TOKEN("tok-3"),
                                     fake_http("401 Unauthorized", "", ""), TOKEN("tok-4")};
    char seen[8192] = "";

    fake_capture_start("upstream");
    ASSERT_EQ(call(refreshed, 3), FL_OK);
    ASSERT_EQ(out.tries, 2);
    ASSERT_EQ(fl_oauth_fetches(oauth), 2);
    fake_capture_end(seen, sizeof(seen));
    ASSERT_CONTAINS(seen, "GET /products/7 HTTP/1.1\r\n");
    ASSERT_CONTAINS(seen, "\r\nAuthorization: Bearer tok-1\r\n");
    ASSERT_CONTAINS(seen, "\r\nAuthorization: Bearer tok-2\r\n");
    ASSERT_EQ(call(refused, 4), FL_EUPSTREAM);
    ASSERT_EQ(out.tries, 2);
    ASSERT_EQ(fl_oauth_fetches(oauth), 3);
}

static void test_unreachable(void)
{
    char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%u/products/7", offline_port());
    ASSERT_EQ(fl_upstream_get(&policy, http, oauth, redis, arena, url, &out), FL_EUPSTREAM);
    ASSERT_EQ(out.tries, 3);
}

static void test_breaker(void)
{
    char open_reply[64];
    struct canned open;
    const struct canned states[] = {CANNED(":1\r\n$-1\r\n"), CANNED(":0\r\n$1\r\n5\r\n"),
                                    CANNED(":0\r\n$1\r\n4\r\n")};
    enum fl_breaker_state state;
    struct fl_redis *r;
    pid_t pid;

    ASSERT_EQ(fl_upstream_breaker_state(&policy, redis, arena, &state), FL_ECACHE);

    r = fake_redis(states, 3, &pid);
    ASSERT_EQ(fl_upstream_breaker_state(&policy, r, arena, &state), FL_OK);
    ASSERT_EQ(state, FL_BREAKER_OPEN);
    ASSERT_EQ(fl_upstream_breaker_state(&policy, r, arena, &state), FL_OK);
    ASSERT_EQ(state, FL_BREAKER_HALF_OPEN);
    ASSERT_EQ(fl_upstream_breaker_state(&policy, r, arena, &state), FL_OK);
    ASSERT_EQ(state, FL_BREAKER_CLOSED);
    fake_redis_end(r, pid);

    /* Open for another 4.5 s: refused at once, told to come back in 5. */
    open.len = (size_t)snprintf(open_reply, sizeof(open_reply), "$13\r\n%lld\r\n$-1\r\n",
                                (long long)(fl_time_wall_ms() + 4500));
    open.p = open_reply;
    r = fake_redis(&open, 1, &pid);
    ASSERT_EQ(fl_upstream_get(&policy, http, oauth, r, arena, "http://127.0.0.1:1/", &out),
              FL_EUNAVAIL);
    ASSERT_EQ(out.tries, 0);
    ASSERT_EQ(out.retry_after_s, 5);
    fake_redis_end(r, pid);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    http = fl_httpc_new(1 << 20);
    oauth = fl_oauth_new(&cfg);
    redis = offline_redis();
    arena = fl_arena_new(1 << 20);
    fl_buf_init(&out.body, 1 << 20);
    test_outcomes();
    test_token_refresh();
    test_unreachable();
    test_breaker();
    fl_buf_free(&out.body);
    fl_arena_free(arena);
    fl_redis_free(redis);
    fl_oauth_free(oauth);
    fl_httpc_free(http);
    return fl_test_done("test_upstream");
}
