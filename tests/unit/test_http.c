/* SPDX-License-Identifier: MIT */
/*
 * fl_http: one CGI request (from the environment and stdin, written to stdout; a second
 * accept has nothing), and FastCGI requests a web server queued on a unix socket (their
 * parameters, body and response records; the body's cap and a short body), and a stop:
 * the queued requests are still served, then accept says there are none.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fl_http.h"
#include "test.h"

static struct fl_arena *arena;
static struct fl_buf detail;
static struct fl_req req;
static struct fl_resp resp;

/* Runs fn with fd as target's descriptor, then restores it. */
static void with_fd(int target, int fd, void (*fn)(void))
{
    int saved = dup(target);

    dup2(fd, target);
    fn();
    dup2(saved, target);
    close(saved);
}

static struct fl_http *cgi;

static void cgi_request(void)
{
    const char *const *env = NULL;

    ASSERT_TRUE(!fl_http_stdin_is_listener());
    ASSERT_EQ(fl_http_accept(cgi, &env), FL_OK);
    ASSERT_NOT_NULL(env);
    ASSERT_TRUE(fl_http_done(cgi));
    ASSERT_EQ(fl_http_accept(cgi, &env), FL_EIO); /* one request, already served */
    fl_arena_reset(arena);
    ASSERT_EQ(fl_req_init(&req, arena,
                          (const char *const[]){"REQUEST_METHOD=POST", "PATH_INFO=/webhooks/x",
                                                "CONTENT_LENGTH=12", NULL},
                          FL_STR(""), &detail),
              FL_OK);
    ASSERT_EQ(fl_http_read_body(cgi, &req, 11), FL_ETOOBIG);
    ASSERT_EQ(fl_http_read_body(cgi, &req, 64), FL_OK);
    ASSERT_TRUE(fl_str_eq(req.body, FL_STR("{\"event\":1}\n")));
    req.content_length = 5; /* only EOF is left */
    ASSERT_EQ(fl_http_read_body(cgi, &req, 64), FL_EINVAL);
}

static void cgi_response(void)
{
    fl_resp_reset(&resp);
    resp.status = 201;
    resp.content_type = FL_CT_JSON;
    fl_resp_header(&resp, "ETag", "\"%s\"", "abc");
    fl_buf_puts(&resp.body, "{\"id\":7}");
    fl_http_send(cgi, &req, &resp);
    req.method = FL_METHOD_HEAD;
    fl_http_send(cgi, &req, &resp);
    fl_resp_reset(&resp);
    resp.status = 304;
    resp.content_type = FL_CT_JSON;
    fl_http_send(cgi, &req, &resp);
    fl_http_finish(cgi);
}

static void test_cgi(void)
{
    FILE *in = tmpfile(), *out = tmpfile();
    char seen[1024] = "";

    ASSERT_TRUE(in && out);
    if (!in || !out)
        return;
    fputs("{\"event\":1}\n", in);
    rewind(in);
    cgi = fl_http_open(-1);
    with_fd(STDIN_FILENO, fileno(in), cgi_request);
    with_fd(STDOUT_FILENO, fileno(out), cgi_response);
    fl_http_close(cgi);
    rewind(out);
    seen[fread(seen, 1, sizeof(seen) - 1, out)] = '\0';
    ASSERT_STREQ(seen, "Status: 201 Created\r\nContent-Type: " FL_CT_JSON
                       "\r\nContent-Length: 8\r\nETag: \"abc\"\r\n\r\n{\"id\":7}"
                       "Status: 201 Created\r\nContent-Type: " FL_CT_JSON
                       "\r\nContent-Length: 8\r\nETag: \"abc\"\r\n\r\n"
                       "Status: 304 Not Modified\r\n\r\n");
    fclose(in);
    fclose(out);
}

/* Appends one FastCGI record of request 1. */
static void record(struct fl_buf *b, int type, const char *p, size_t n)
{
    const char head[8] = {1, (char)type, 0, 1, (char)(n >> 8), (char)(n & 0xff), 0, 0};

    fl_buf_append(b, head, 8);
    fl_buf_append(b, p, n);
}

/* A web server's whole request: parameters (short names and values) and body. */
static void fcgi_request(struct fl_buf *b, const char *const *params, const char *body)
{
    static const char begin[8] = {0, 1, 0, 0, 0, 0, 0, 0}; /* responder, close after */
    struct fl_buf p;

    fl_buf_init(&p, 0);
    for (const char *const *kv = params; *kv; kv++) {
        const char *eq = strchr(*kv, '=');
        fl_buf_putc(&p, (char)(eq - *kv));
        fl_buf_putc(&p, (char)strlen(eq + 1));
        fl_buf_append(&p, *kv, (size_t)(eq - *kv));
        fl_buf_puts(&p, eq + 1);
    }
    record(b, 1, begin, sizeof(begin));
    record(b, 4, p.p, p.len);
    record(b, 4, "", 0);
    if (*body)
        record(b, 5, body, strlen(body));
    record(b, 5, "", 0);
    fl_buf_free(&p);
}

/* Connects to path and sends a request; returns the connection. */
static int web_server_sends(const char *path, const char *const *params, const char *body)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct fl_buf b;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    memcpy(sa.sun_path, path, strlen(path) + 1);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    fl_buf_init(&b, 0);
    fcgi_request(&b, params, body);
    ASSERT_EQ(write(fd, b.p, b.len), (ssize_t)b.len);
    fl_buf_free(&b);
    return fd;
}

/* Reads the response's FastCGI stdout records into out, to the end of the request. */
static void web_server_reads(int fd, struct fl_buf *out)
{
    unsigned char head[8];
    char content[65536 + 256];
    bool ended = false;

    while (!ended && read(fd, head, 8) == 8) {
        size_t n = (size_t)head[4] << 8 | head[5], pad = head[6];
        size_t got = 0;
        while (got < n + pad) {
            ssize_t r = read(fd, content + got, n + pad - got);
            if (r <= 0)
                return;
            got += (size_t)r;
        }
        if (head[1] == 6)
            fl_buf_append(out, content, n);
        ended = head[1] == 3;
    }
    ASSERT_TRUE(ended);
    close(fd);
}

static void serve_one(struct fl_http *h, const char *want_body)
{
    const char *const *env = NULL;

    ASSERT_EQ(fl_http_accept(h, &env), FL_OK);
    fl_arena_reset(arena);
    ASSERT_EQ(fl_req_init(&req, arena, env, FL_STR(""), &detail), FL_OK);
    ASSERT_EQ(req.method, FL_METHOD_POST);
    ASSERT_TRUE(fl_str_eq(req.path, FL_STR("/webhooks/a")));
    ASSERT_EQ(fl_http_read_body(h, &req, 64), FL_OK);
    ASSERT_TRUE(fl_str_eq(req.body, fl_str_c(want_body)));
    fl_resp_reset(&resp);
    resp.content_type = FL_CT_JSON;
    fl_buf_puts(&resp.body, "{}");
    fl_http_send(h, &req, &resp);
    fl_http_finish(h);
}

static void test_fastcgi_and_stop(void)
{
    const char *const params[] = {"REQUEST_METHOD=POST", "PATH_INFO=/webhooks/a",
                                  "CONTENT_LENGTH=7", NULL};
    char path[64];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0), c1, c2;
    struct fl_http *h;
    struct fl_buf out;
    const char *const *env;

    snprintf(path, sizeof(path), "/tmp/fl-unit-http-%ld.sock", (long)getpid());
    unlink(path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    ASSERT_TRUE(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 8) == 0);
    h = fl_http_open(fd);
    ASSERT_NOT_NULL(h);
    if (h == NULL)
        return;
    fl_buf_init(&out, 0);
    c1 = web_server_sends(path, params, "event-1");
    c2 = web_server_sends(path, params, "event-2");
    serve_one(h, "event-1");
    web_server_reads(c1, &out);
    ASSERT_STREQ(out.p,
                 "Status: 200 OK\r\nContent-Type: " FL_CT_JSON "\r\nContent-Length: 2\r\n\r\n{}");
    /* Stopped with one request queued: it is served, then there are none. */
    fl_http_stop(h);
    ASSERT_TRUE(fl_http_done(h));
    serve_one(h, "event-2");
    fl_buf_reset(&out);
    web_server_reads(c2, &out);
    ASSERT_CONTAINS(out.p, "\r\n\r\n{}");
    ASSERT_EQ(fl_http_accept(h, &env), FL_EIO);
    fl_buf_free(&out);
    fl_http_close(h);
    close(fd);
    unlink(path);
}

int main(void)
{
    arena = fl_arena_new(1 << 20);
    fl_buf_init(&detail, 1024);
    fl_resp_init(&resp, 1 << 16);
    test_cgi();
    test_fastcgi_and_stop();
    fl_resp_free(&resp);
    fl_buf_free(&detail);
    fl_arena_free(arena);
    fl_http_close(NULL);
    return fl_test_done("test_http");
}
