/* SPDX-License-Identifier: MIT */
/*
 * The request pipeline without sockets: a request is a plain environment array handed to
 * fl_serve(), and the test reads the response it leaves behind.
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app.h"
#include "fl_arena.h"
#include "fl_http.h"
#include "fl_metrics.h"
#include "fl_time.h"
#include "test.h"

static struct fl_config cfg;
static struct fl_app app;
static struct fl_http *http;
static struct fl_arena *arena;
static struct fl_resp resp;
static struct fl_req req;

/* Serves the request described by env (NULL-terminated "NAME=VALUE" strings). */
static void serve(const char *const *env)
{
    fl_resp_reset(&resp);
    fl_arena_reset(arena);
    fl_serve(&app, http, env, arena, &req, &resp);
}

static const char *header(const char *name)
{
    static char value[512];
    const char *h = resp.headers.p ? strstr(resp.headers.p, name) : NULL;
    size_t n;

    if (h == NULL)
        return NULL;
    h += strlen(name) + 2;
    n = strcspn(h, "\r");
    if (n >= sizeof(value))
        n = sizeof(value) - 1;
    memcpy(value, h, n);
    value[n] = '\0';
    return value;
}

static void expect_problem(int status, const char *detail_part)
{
    char needle[64];

    ASSERT_EQ(resp.status, status);
    ASSERT_STREQ(resp.content_type, FL_CT_PROBLEM);
    snprintf(needle, sizeof(needle), "\"status\":%d", status);
    ASSERT_CONTAINS(resp.body.p, needle);
    ASSERT_CONTAINS(resp.body.p, "\"request_id\":\"");
    if (detail_part)
        ASSERT_CONTAINS(resp.body.p, detail_part);
}

static void test_live_and_headers(void)
{
    const char *env[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=/api", "PATH_INFO=/health/live",
                         "HTTP_X_REQUEST_ID=abc-123", NULL};
    char long_id[200];

    serve(env);
    ASSERT_EQ(resp.status, 200);
    ASSERT_STREQ(resp.content_type, FL_CT_JSON);
    ASSERT_CONTAINS(resp.body.p, "\"status\":\"ok\"");
    ASSERT_STREQ(header("X-Request-Id"), "abc-123");
    ASSERT_STREQ(header("Cache-Control"), "no-store");
    ASSERT_CONTAINS(header("Server-Timing"), "total;dur=");
    ASSERT_CONTAINS(header("Server-Timing"), "db;dur=");

    /* Over 128 bytes, or with a space: replaced by a generated id. */
    memset(long_id, 'a', sizeof(long_id));
    memcpy(long_id, "HTTP_X_REQUEST_ID=", 18);
    long_id[sizeof(long_id) - 1] = '\0';
    env[3] = long_id;
    serve(env);
    ASSERT_EQ(strlen(header("X-Request-Id")), 24);
    env[3] = "HTTP_X_REQUEST_ID=has space";
    serve(env);
    ASSERT_EQ(strlen(header("X-Request-Id")), 24);
}

static void test_routing(void)
{
    const char *unknown[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=/api", "PATH_INFO=/nope", NULL};
    const char *wrong[] = {"REQUEST_METHOD=POST", "SCRIPT_NAME=/api", "PATH_INFO=/health", NULL};
    const char *slash[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=/api", "PATH_INFO=/health/live/",
                           NULL};
    const char *head[] = {"REQUEST_METHOD=HEAD", "SCRIPT_NAME=", "PATH_INFO=/health/live", NULL};
    const char *by_uri[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=", "REQUEST_URI=/api/health/%6Cive?",
                            NULL};

    serve(unknown);
    expect_problem(404, "\"instance\":\"/api/nope\"");
    serve(wrong);
    expect_problem(405, "POST");
    ASSERT_STREQ(header("Allow"), "GET, HEAD");
    serve(slash);
    ASSERT_EQ(resp.status, 200);
    serve(head);
    ASSERT_EQ(resp.status, 200);

    /* No PATH_INFO: the path is REQUEST_URI, decoded, minus FL_BASE_PATH. */
    free(cfg.base_path);
    cfg.base_path = strdup("/api");
    serve(by_uri);
    ASSERT_EQ(resp.status, 200);
    ASSERT_CONTAINS(resp.body.p, "\"status\":\"ok\"");
    free(cfg.base_path);
    cfg.base_path = strdup("");
}

static void test_bad_queries(void)
{
    char big[FL_REQ_QUERY_MAX_BYTES + 64], many[1024];
    const char *env[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=/api", "PATH_INFO=/health/live", NULL,
                         NULL};
    static const struct {
        const char *query, *detail;
    } cases[] = {
        {"QUERY_STRING=x=%zz", "percent-encoding"},
        {"QUERY_STRING=x=%4", "percent-encoding"},
        {"QUERY_STRING=x=%ff", "UTF-8"},
        {"QUERY_STRING=x=%c3%28", "UTF-8"},
        {"QUERY_STRING=x=%00", "control"},
        {"QUERY_STRING=limit=5", "unknown parameter 'limit'"},
        {"QUERY_STRING=%3Cscript%3E=1", "unknown parameter '<script>'"},
    };

    for (size_t i = 0; i < FL_COUNTOF(cases); i++) {
        env[3] = cases[i].query;
        serve(env);
        expect_problem(400, cases[i].detail);
    }
    memcpy(big, "QUERY_STRING=a=", 15);
    memset(big + 15, 'b', sizeof(big) - 16);
    big[sizeof(big) - 1] = '\0';
    env[3] = big;
    serve(env);
    expect_problem(400, "8192 bytes");

    strcpy(many, "QUERY_STRING=");
    for (int i = 0; i < 65; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "p%d=1&", i);
    env[3] = many;
    serve(env);
    expect_problem(400, "more than 64 parameters");

    /* Empty parts are not parameters. */
    env[3] = "QUERY_STRING=&&";
    serve(env);
    ASSERT_EQ(resp.status, 200);
}

static void test_query_parser(void)
{
    const char *env[] = {"REQUEST_METHOD=GET", "QUERY_STRING=limit=5&q=caf%C3%A9+au+lait&flag",
                         "PATH_INFO=/x", NULL};
    const char *const allowed[] = {"limit", "q", "flag", NULL};
    struct fl_buf detail;
    const struct fl_str *v;

    fl_buf_init(&detail, 1024);
    fl_arena_reset(arena);
    ASSERT_EQ(fl_req_init(&req, arena, env, FL_STR(""), &detail), FL_OK);
    ASSERT_EQ(fl_req_parse_query(&req, allowed, &detail), FL_OK);
    v = fl_req_param(&req, "q");
    ASSERT_NOT_NULL(v);
    ASSERT_STREQ(v ? v->p : NULL, "caf\xc3\xa9 au lait");
    v = fl_req_param(&req, "flag");
    ASSERT_NOT_NULL(v);
    ASSERT_EQ(v->len, 0);
    ASSERT_NULL(fl_req_param(&req, "cursor"));

    env[1] = "QUERY_STRING=limit=5&limit=6";
    fl_buf_reset(&detail);
    ASSERT_EQ(fl_req_init(&req, arena, env, FL_STR(""), &detail), FL_OK);
    ASSERT_EQ(fl_req_parse_query(&req, allowed, &detail), FL_EINVAL);
    ASSERT_CONTAINS(detail.p, "'limit' is repeated");

    env[1] = "CONTENT_LENGTH=12x";
    fl_buf_reset(&detail);
    ASSERT_EQ(fl_req_init(&req, arena, env, FL_STR(""), &detail), FL_EINVAL);
    ASSERT_CONTAINS(detail.p, "Content-Length");
    fl_buf_free(&detail);
}

static void test_body_limits(void)
{
    const char *env[] = {"REQUEST_METHOD=POST", "CONTENT_LENGTH=2000000", "PATH_INFO=/x", NULL};
    struct fl_buf detail;
    int fds[2];

    fl_buf_init(&detail, 1024);
    fl_arena_reset(arena);
    ASSERT_EQ(fl_req_init(&req, arena, env, FL_STR(""), &detail), FL_OK);
    ASSERT_EQ(fl_http_read_body(http, &req, 1 << 20), FL_ETOOBIG);
    ASSERT_NULL(req.body.p); /* nothing was read or allocated */

    /* A body shorter than its Content-Length is refused, not waited for. */
    ASSERT_EQ(pipe(fds), 0);
    ASSERT_EQ(write(fds[1], "{\"a\":1}", 7), 7);
    close(fds[1]);
    dup2(fds[0], STDIN_FILENO);
    close(fds[0]);
    env[1] = "CONTENT_LENGTH=10";
    ASSERT_EQ(fl_req_init(&req, arena, env, FL_STR(""), &detail), FL_OK);
    ASSERT_EQ(fl_http_read_body(http, &req, 1 << 20), FL_EINVAL);
    fl_buf_free(&detail);
}

/* A worker whose accept fails for a reason of its own must exit non-zero (the master then
 * backs off); a stop or the end of a CGI request is a clean exit. */
static void test_accept_outcomes(void)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0); /* accept() on it fails at once */
    struct fl_http *h = fl_http_open(fd);
    const char *const *env;

    ASSERT_NOT_NULL(h);
    ASSERT_EQ(fl_http_accept(h, &env), FL_EIO);
    ASSERT_TRUE(!fl_http_done(h));
    fl_http_stop(h);
    ASSERT_EQ(fl_http_accept(h, &env), FL_EIO);
    ASSERT_TRUE(fl_http_done(h));
    fl_http_close(h);

    h = fl_http_open(-1);
    ASSERT_EQ(fl_http_accept(h, &env), FL_OK);
    fl_http_finish(h);
    ASSERT_EQ(fl_http_accept(h, &env), FL_EIO);
    ASSERT_TRUE(fl_http_done(h));
    fl_http_close(h);
}

static void test_health_db_down(void)
{
    const char *env[] = {"REQUEST_METHOD=GET", "PATH_INFO=/health", NULL};
    int64_t t0 = fl_time_mono_us();

    serve(env);
    ASSERT_EQ(resp.status, 503);
    ASSERT_CONTAINS(resp.body.p, "\"status\":\"fail\"");
    ASSERT_CONTAINS(resp.body.p, "\"mysql\":{\"status\":\"fail\"");
    ASSERT_LT(fl_time_mono_us() - t0, 1000000);
}

static void test_openapi(void)
{
    const char *env[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=/shop", "PATH_INFO=/openapi.json", NULL,
                         NULL};
    const char *names[FL_METRICS_ROUTES_MAX];
    size_t n = fl_route_names(names, FL_METRICS_ROUTES_MAX);
    char etag[64], inm[96], path_key[96];

    serve(env);
    ASSERT_EQ(resp.status, 200);
    ASSERT_STREQ(resp.content_type, FL_CT_JSON);
    ASSERT_CONTAINS(resp.body.p, "\"servers\": [\n    {\n      \"url\": \"/shop\",");
    ASSERT_TRUE(strstr(resp.body.p, "\"url\": \"/api\"") == NULL);
    /* The document's version is the program's. */
    ASSERT_CONTAINS(resp.body.p, "\"version\": \"" FL_VERSION "\"");
    ASSERT_STREQ(header("Cache-Control"), "public, max-age=300");
    snprintf(etag, sizeof(etag), "%s", header("ETag"));
    ASSERT_EQ(strlen(etag), 34);

    /* Mounted at the root, the server is "/", and the document another one. */
    env[1] = "SCRIPT_NAME=";
    serve(env);
    ASSERT_CONTAINS(resp.body.p, "\"url\": \"/\",");
    ASSERT_TRUE(strcmp(header("ETag"), etag) != 0);

    env[1] = "SCRIPT_NAME=/shop";
    snprintf(inm, sizeof(inm), "HTTP_IF_NONE_MATCH=%s", etag);
    env[3] = inm;
    serve(env);
    ASSERT_EQ(resp.status, 304);
    ASSERT_EQ(resp.body.len, 0);
    ASSERT_STREQ(header("ETag"), etag);

    /* Every route template the app serves is a path of the document. */
    for (size_t i = 1; i < n; i++) {
        if (names[i] == NULL)
            continue;
        snprintf(path_key, sizeof(path_key), "\n    \"%s\": {\n", names[i]);
        ASSERT_CONTAINS(fl_openapi, path_key);
    }
}

int main(void)
{
    struct fl_buf msg;

    /* Nothing listens on port 1: dependencies are down, as a unit test wants them. */
    setenv("FL_MYSQL_URL", "mysql://u@127.0.0.1:1/db", 1);
    setenv("FL_REDIS_URL", "redis://127.0.0.1:1/0", 1);
    setenv("FL_LOG_LEVEL", "error", 1);
    fl_buf_init(&msg, 1024);
    if (fl_config_load(&cfg, NULL, &msg) != FL_OK) {
        fprintf(stderr, "config: %s\n", msg.p);
        return 1;
    }
    fl_log_set_level(FL_LOG_ERROR);
    fl_buf_free(&msg);
    ASSERT_EQ(fl_app_init(&app, &cfg), FL_OK);
    http = fl_http_open(-1);
    arena = fl_arena_new(1 << 20);
    fl_resp_init(&resp, 1 << 20);

    test_live_and_headers();
    test_routing();
    test_bad_queries();
    test_query_parser();
    test_body_limits();
    test_accept_outcomes();
    test_health_db_down();
    test_openapi();

    fl_resp_free(&resp);
    fl_arena_free(arena);
    fl_http_close(http);
    fl_app_free(&app);
    fl_config_free(&cfg);
    return fl_test_done("test_worker");
}
