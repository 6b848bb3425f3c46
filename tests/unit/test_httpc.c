/* SPDX-License-Identifier: MIT */
/*
 * fl_httpc against a fake upstream on loopback: a response of any status is FL_OK with its
 * status, body and Retry-After; a body over the client's cap is FL_ETOOBIG; a closed port is
 * FL_EUPSTREAM and a server that never answers FL_ETIMEOUT; a POST carries its headers, body and
 * HTTP Basic credentials.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fake_server.h"
#include "fl_httpc.h"
#include "offline.h"
#include "test.h"

static struct fl_httpc *client;
static struct fl_httpc_response resp;
static char url[64];

static enum fl_err get(unsigned port, unsigned timeout_ms)
{
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/products/7", port);
    return fl_httpc_do(
        client, &(struct fl_httpc_request){"GET", url, NULL, FL_STR_NULL, NULL, NULL, timeout_ms},
        &resp);
}

static void test_response(void)
{
    static const struct canned replies[] = {
        CANNED("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 2\r\n"
               "Connection: close\r\n\r\n{}"),
        CANNED("HTTP/1.1 200 OK\r\nRetry-After: Wed, 21 Oct 2026 07:28:00 GMT\r\n"
               "Content-Length: 11\r\nConnection: close\r\n\r\n{\"id\":\"7\"}\n"),
    };
    pid_t pid;
    unsigned port = fake_tcp(replies, 2, &pid);

    ASSERT_EQ(get(port, 2000), FL_OK);
    ASSERT_EQ(resp.status, 503);
    ASSERT_EQ(resp.retry_after_ms, 7000);
    ASSERT_STREQ(resp.body.p, "{}");
    ASSERT_EQ(get(port, 2000), FL_OK);
    ASSERT_EQ(resp.status, 200);
    ASSERT_EQ(resp.retry_after_ms, -1); /* the date form is not read */
    ASSERT_STREQ(resp.body.p, "{\"id\":\"7\"}\n");
    fake_stop(pid);
}

static void test_body_cap(void)
{
    static const struct canned replies[] = {
        CANNED("HTTP/1.1 200 OK\r\nContent-Length: 64\r\nConnection: close\r\n\r\n"
               "0123456789012345678901234567890123456789012345678901234567890123"),
    };
    struct fl_httpc *small = fl_httpc_new(32), *big = client;
    pid_t pid;
    unsigned port = fake_tcp(replies, 1, &pid);

    client = small;
    ASSERT_EQ(get(port, 2000), FL_ETOOBIG);
    ASSERT_LE(resp.body.len, 32);
    client = big;
    fl_httpc_free(small);
    fake_stop(pid);
}

static void test_unreachable(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ASSERT_EQ(get(offline_port(), 2000), FL_EUPSTREAM);
    ASSERT_EQ(resp.status, 0);
    /* Listening, so the connect succeeds, but never answering. */
    ASSERT_TRUE(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
                listen(fd, 4) == 0 && getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    ASSERT_EQ(get(ntohs(sa.sin_port), 100), FL_ETIMEOUT);
    ASSERT_EQ(resp.status, 0);
    close(fd);
}

static void test_post(void)
{
    static const struct canned replies[] = {
        CANNED("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")};
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    char seen[4096] = "";
    pid_t pid;
    unsigned port;

    fake_capture_start("httpc");
    port = fake_tcp(replies, 1, &pid);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/oauth/token", port);
    ASSERT_EQ(fl_httpc_do(client,
                          &(struct fl_httpc_request){"POST", url, headers,
                                                     FL_STR("grant_type=client_credentials"),
                                                     "client-1", "s3cret", 2000},
                          &resp),
              FL_OK);
    ASSERT_EQ(resp.status, 200);
    fake_stop(pid);
    fake_capture_end(seen, sizeof(seen));
    ASSERT_CONTAINS(seen, "POST /oauth/token HTTP/1.1\r\n");
    ASSERT_CONTAINS(seen, "\r\nAuthorization: Basic Y2xpZW50LTE6czNjcmV0\r\n");
    ASSERT_CONTAINS(seen, "\r\nContent-Type: application/x-www-form-urlencoded\r\n");
    ASSERT_CONTAINS(seen, "\r\nUser-Agent: farmlokal/");
    ASSERT_CONTAINS(seen, "\r\n\r\ngrant_type=client_credentials");
    ASSERT_GT(fl_httpc_busy_us(client), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    client = fl_httpc_new(1 << 20);
    fl_buf_init(&resp.body, 1 << 20);
    test_response();
    test_body_cap();
    test_unreachable();
    test_post();
    fl_buf_free(&resp.body);
    fl_httpc_free(client);
    fl_httpc_free(NULL);
    return fl_test_done("test_httpc");
}
