/* SPDX-License-Identifier: MIT */
/*
 * The queue time the web server's FL_REQUEST_START gives: nginx's $msec format, clock
 * skew, and values that must not be taken for a time.
 */
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

int main(void)
{
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
