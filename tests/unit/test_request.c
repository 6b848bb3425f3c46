/* SPDX-License-Identifier: MIT */
/*
 * fl_request: the queue time the web server's FL_REQUEST_START gives (nginx's $msec
 * format, clock skew, values that must not be taken for a time), the edge lifetime
 * FL_EDGE_TTL_S, whether Accept-Encoding takes gzip, and the client address behind trusted
 * proxies.
 */
#include <string.h>
#include <sys/socket.h>

#include "fl_arena.h"
#include "fl_request.h"
#include "test.h"

/* Builds a request with one extra parameter (or none) and returns what `read` makes of it. */
static int64_t with_param(const char *param, int64_t (*read)(const struct fl_req *, int64_t),
                          int64_t arg)
{
    const char *env[] = {"REQUEST_METHOD=GET", "PATH_INFO=/health", param, NULL};
    struct fl_arena *arena = fl_arena_new(1 << 16);
    struct fl_buf detail;
    struct fl_req req;
    int64_t v;

    fl_buf_init(&detail, 256);
    fl_req_init(&req, arena, env, FL_STR(""), &detail);
    v = read(&req, arg);
    fl_buf_free(&detail);
    fl_arena_free(arena);
    return v;
}

static int64_t queued(const char *start_param, int64_t now_ms)
{
    return with_param(start_param, fl_req_queued_ms, now_ms);
}

static int64_t read_edge_ttl(const struct fl_req *req, int64_t unused)
{
    (void)unused;
    return fl_req_edge_ttl_s(req);
}

static int64_t read_accepts_gzip(const struct fl_req *req, int64_t unused)
{
    (void)unused;
    return fl_req_accepts_gzip(req);
}

static int64_t accepts_gzip(const char *param)
{
    return with_param(param, read_accepts_gzip, 0);
}

static int64_t edge_ttl(const char *param)
{
    return with_param(param, read_edge_ttl, 0);
}

/* The client address behind trusted proxies (10.0.0.0/8 and ::1 here). */
static void client(const char *remote, const char *xff, const char *want)
{
    struct fl_cidr trusted[2] = {{AF_INET, {10}, 8}, {AF_INET6, {[15] = 1}, 128}};
    const char *env[] = {"REQUEST_METHOD=GET", "PATH_INFO=/", remote, xff, NULL};
    struct fl_arena *arena = fl_arena_new(1 << 16);
    struct fl_buf detail;
    struct fl_req req;
    struct fl_str got;

    fl_buf_init(&detail, 256);
    fl_req_init(&req, arena, env, FL_STR(""), &detail);
    got = fl_req_client_addr(&req, trusted, FL_COUNTOF(trusted));
    ASSERT_EQ(got.len, strlen(want));
    if (got.len == strlen(want))
        ASSERT_MEMEQ(got.p, want, got.len);
    fl_buf_free(&detail);
    fl_arena_free(arena);
}

int main(void)
{
    client("REMOTE_ADDR=192.0.2.1", "HTTP_X_FORWARDED_FOR=203.0.113.9", "192.0.2.1");
    client("REMOTE_ADDR=10.1.2.3", "HTTP_X_FORWARDED_FOR=203.0.113.9", "203.0.113.9");
    client("REMOTE_ADDR=10.1.2.3", "HTTP_X_FORWARDED_FOR=6.6.6.6, 203.0.113.9 ,10.9.9.9",
           "203.0.113.9");
    client("REMOTE_ADDR=::1", "HTTP_X_FORWARDED_FOR=2001:db8::7", "2001:db8::7");
    client("REMOTE_ADDR=10.1.2.3", "HTTP_X_FORWARDED_FOR=10.2.2.2,,  ", "10.2.2.2");
    client("REMOTE_ADDR=10.1.2.3", NULL, "10.1.2.3");

    ASSERT_EQ(queued("FL_REQUEST_START=1700000000.123", 1700000002623), 2500);
    ASSERT_EQ(queued("FL_REQUEST_START=1700000000.005", 1700000000010), 5);
    ASSERT_EQ(queued("FL_REQUEST_START=1700000000.5", 1700000001000), 500);
    ASSERT_EQ(queued("FL_REQUEST_START=1700000000", 1700000000250), 250);
    ASSERT_EQ(queued("FL_REQUEST_START=1700000009.000", 1700000000000), 0); /* skew */
    ASSERT_EQ(queued(NULL, 1700000000000), -1);
    ASSERT_EQ(queued("FL_REQUEST_START=", 1700000000000), -1);
    ASSERT_EQ(queued("FL_REQUEST_START=1700000000.1234", 1700000000000), -1);
    ASSERT_EQ(queued("FL_REQUEST_START=-1700000000.000", 1700000000000), -1);
    ASSERT_EQ(queued("FL_REQUEST_START=1700000000.-12", 1700000000000), -1);
    ASSERT_EQ(queued("FL_REQUEST_START=1e9", 1700000000000), -1);
    ASSERT_EQ(queued("FL_REQUEST_START=99999999999999999999.000", 1700000000000), -1);

    ASSERT_EQ(edge_ttl("FL_EDGE_TTL_S=1"), 1);
    ASSERT_EQ(edge_ttl("FL_EDGE_TTL_S=3600"), 3600);
    ASSERT_EQ(edge_ttl(NULL), 0);
    ASSERT_EQ(edge_ttl("FL_EDGE_TTL_S=0"), 0);
    ASSERT_EQ(edge_ttl("FL_EDGE_TTL_S="), 0);
    ASSERT_EQ(edge_ttl("FL_EDGE_TTL_S=3601"), 0);
    ASSERT_EQ(edge_ttl("FL_EDGE_TTL_S=1s"), 0);
    ASSERT_EQ(edge_ttl("FL_EDGE_TTL_S=-1"), 0);

    ASSERT_EQ(accepts_gzip("HTTP_ACCEPT_ENCODING=gzip"), 1);
    ASSERT_EQ(accepts_gzip("HTTP_ACCEPT_ENCODING=deflate, GZip;q=0.5, br"), 1);
    ASSERT_EQ(accepts_gzip("HTTP_ACCEPT_ENCODING=x-gzip"), 1);
    ASSERT_EQ(accepts_gzip("HTTP_ACCEPT_ENCODING= gzip ; q=1"), 1);
    ASSERT_EQ(accepts_gzip(NULL), 0);
    ASSERT_EQ(accepts_gzip("HTTP_ACCEPT_ENCODING="), 0);
    ASSERT_EQ(accepts_gzip("HTTP_ACCEPT_ENCODING=gzip;q=0"), 0);
    ASSERT_EQ(accepts_gzip("HTTP_ACCEPT_ENCODING=br, gzip;q=0.000"), 0);
    ASSERT_EQ(accepts_gzip("HTTP_ACCEPT_ENCODING=gzipx, deflate"), 0);
    ASSERT_EQ(accepts_gzip("HTTP_ACCEPT_ENCODING=identity"), 0);
    return fl_test_done("test_request");
}
