/* SPDX-License-Identifier: MIT */
/*
 * fl_request: the queue time the web server's FL_REQUEST_START gives (nginx's $msec
 * format, clock skew, values that must not be taken for a time), and the client address
 * behind trusted proxies.
 */
#include <string.h>
#include <sys/socket.h>

#include "fl_arena.h"
#include "fl_request.h"
#include "test.h"

static int64_t queued(const char *start_param, int64_t now_ms)
{
    const char *env[] = {"REQUEST_METHOD=GET", "PATH_INFO=/health", start_param, NULL};
    struct fl_arena *arena = fl_arena_new(1 << 16);
    struct fl_buf detail;
    struct fl_req req;
    int64_t ms;

    fl_buf_init(&detail, 256);
    fl_req_init(&req, arena, env, FL_STR(""), &detail);
    ms = fl_req_queued_ms(&req, now_ms);
    fl_buf_free(&detail);
    fl_arena_free(arena);
    return ms;
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
    return fl_test_done("test_request");
}
