/* SPDX-License-Identifier: MIT */
/*
 * fl_response: the RFC 9457 problem body (escaped detail, instance under the mount prefix,
 * the request id), a detail cut at a character boundary, and the mapping from enum fl_err
 * to a status with Retry-After where the client should come back.
 */
#include "fl_arena.h"
#include "fl_response.h"
#include "test.h"

static struct fl_arena *arena;
static struct fl_buf detail;
static struct fl_req req;
static struct fl_resp resp;

static void request(void)
{
    const char *env[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=/api", "PATH_INFO=/products/7",
                         "HTTP_X_REQUEST_ID=req-1", NULL};

    fl_arena_reset(arena);
    ASSERT_EQ(fl_req_init(&req, arena, env, FL_STR(""), &detail), FL_OK);
}

static void test_problem_body(void)
{
    fl_resp_problem(&resp, &req, 404, "not-found", "no product \"%s\"\n", "7");
    ASSERT_EQ(resp.status, 404);
    ASSERT_STREQ(resp.content_type, FL_CT_PROBLEM);
    ASSERT_STREQ(resp.body.p,
                 "{\"type\":\"https://farmlokal.dev/problems/not-found\",\"title\":\"Not Found\","
                 "\"status\":404,\"detail\":\"no product \\\"7\\\"\\n\",\"instance\":"
                 "\"/api/products/7\",\"request_id\":\"req-1\"}\n");
    fl_resp_problem(&resp, &req, 400, NULL, "bad");
    ASSERT_CONTAINS(resp.body.p, "{\"type\":\"about:blank\",\"title\":\"Bad Request\"");
}

static void test_long_detail_cut_at_a_character(void)
{
    char euros[3 * 400 + 1];

    for (int i = 0; i < 400; i++)
        memcpy(euros + 3 * i, "\xe2\x82\xac", 3);
    euros[sizeof(euros) - 1] = '\0';
    fl_resp_problem(&resp, &req, 400, NULL, "%s", euros);
    ASSERT_TRUE(fl_utf8_valid(fl_buf_str(&resp.body)));
    ASSERT_CONTAINS(resp.body.p, "\xe2\x82\xac\",\"instance\"");
}

static void test_error_statuses(void)
{
    static const struct {
        enum fl_err err;
        int status;
        int retry_after;
    } cases[] = {
        {FL_EINVAL, 400, 0},   {FL_ENOTFOUND, 404, 0}, {FL_ECONFLICT, 409, 0}, {FL_ETOOBIG, 413, 0},
        {FL_EAUTH, 401, 0},    {FL_ETIMEOUT, 504, 0},  {FL_EUPSTREAM, 502, 0}, {FL_EDB, 503, 1},
        {FL_ECACHE, 503, 1},   {FL_ELIMITED, 429, 0},  {FL_ENOMEM, 500, 0},    {FL_EIO, 500, 0},
        {FL_EUNAVAIL, 503, 1},
    };

    for (size_t i = 0; i < FL_COUNTOF(cases); i++) {
        fl_resp_reset(&resp);
        fl_resp_error(&resp, &req, cases[i].err, NULL);
        ASSERT_EQ(resp.status, cases[i].status);
        ASSERT_EQ(strstr(resp.headers.p ? resp.headers.p : "", "Retry-After: 1\r\n") != NULL,
                  cases[i].retry_after);
    }
    fl_resp_error(&resp, &req, FL_EINVAL, "limit must be 1..100");
    ASSERT_CONTAINS(resp.body.p, "\"detail\":\"limit must be 1..100\"");
}

int main(void)
{
    arena = fl_arena_new(1 << 20);
    fl_buf_init(&detail, 1024);
    fl_resp_init(&resp, 1 << 16);
    request();
    test_problem_body();
    test_long_detail_cut_at_a_character();
    test_error_statuses();
    fl_resp_free(&resp);
    fl_buf_free(&detail);
    fl_arena_free(arena);
    return fl_test_done("test_response");
}
