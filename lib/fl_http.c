/* SPDX-License-Identifier: MIT */
/*
 * libfcgi's reentrant API (FCGX_*), never fcgi_stdio.h. For CGI (no listening socket),
 * libfcgi's FCGX_Accept_r does not help, so the single request is read from environ and
 * stdin and written to stdout directly.
 *
 * The listening socket is non-blocking (for every process sharing it: each of them waits
 * in poll, never in accept), so a worker told to stop can take what is already queued and
 * learn from EAGAIN that nothing is left, instead of closing the socket on connections that
 * a web server has already sent a request on. A pipe wakes the poll when the stop signal
 * comes; the byte stays until exit, so a signal caught just before poll is never lost.
 */
#include "fl_http.h"

#include <fcgiapp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fl_time.h"

extern char **environ;

struct fl_http {
    FCGX_Request req;
    int listen_fd;                 /* -1 in CGI mode */
    int wake[2];                   /* fl_http_stop writes to [1], accept polls [0] */
    volatile sig_atomic_t stopped; /* set by fl_http_stop */
    int64_t drain_until_us;        /* once stopped: when to stop taking queued requests */
    bool cgi_served;
    bool accepted;
};

bool fl_http_stdin_is_listener(void)
{
    return !FCGX_IsCGI();
}

struct fl_http *fl_http_open(int listen_fd)
{
    struct fl_http *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    h->listen_fd = listen_fd;
    h->wake[0] = h->wake[1] = -1;
    if (listen_fd >= 0) {
        int flags = fcntl(listen_fd, F_GETFL);
        if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
            pipe2(h->wake, O_CLOEXEC | O_NONBLOCK) != 0 || FCGX_Init() != 0 ||
            FCGX_InitRequest(&h->req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
            close(h->wake[0]);
            close(h->wake[1]);
            free(h);
            return NULL;
        }
    }
    return h;
}

void fl_http_close(struct fl_http *h)
{
    if (h == NULL)
        return;
    if (h->listen_fd >= 0) {
        FCGX_Free(&h->req, 1);
        close(h->wake[0]);
        close(h->wake[1]);
    }
    free(h);
}

void fl_http_stop(struct fl_http *h)
{
    int saved = errno;

    h->stopped = 1;
    if (h->listen_fd >= 0 && write(h->wake[1], "", 1) < 0) {
        /* The pipe is full: an earlier stop already woke us. */
    }
    errno = saved;
}

/* Waits until a connection may be queued or the stop comes (or a signal interrupts). */
static void wait_readable(struct fl_http *h)
{
    struct pollfd fds[2] = {{.fd = h->listen_fd, .events = POLLIN},
                            {.fd = h->wake[0], .events = POLLIN}};

    poll(fds, 2, -1);
}

enum fl_err fl_http_accept(struct fl_http *h, const char *const **env)
{
    if (h->listen_fd == -1) {
        if (h->cgi_served || h->stopped)
            return FL_EIO;
        h->cgi_served = true;
        *env = (const char *const *)environ;
        return FL_OK;
    }
    for (;;) {
        int rc;
        if (h->stopped && h->drain_until_us == 0)
            h->drain_until_us = fl_time_mono_us() + FL_HTTP_DRAIN_MAX_US;
        if (h->stopped && fl_time_mono_us() > h->drain_until_us)
            return FL_EIO;
        rc = FCGX_Accept_r(&h->req);
        if (rc >= 0)
            break;
        if (rc != -EAGAIN && rc != -EWOULDBLOCK && rc != -EINTR)
            return FL_EIO;
        if (h->stopped)
            return FL_EIO; /* nothing is queued any more */
        wait_readable(h);
    }
    h->accepted = true;
    *env = (const char *const *)h->req.envp;
    return FL_OK;
}

bool fl_http_done(const struct fl_http *h)
{
    return h->stopped || h->cgi_served;
}

/* Reads up to n bytes of body; returns how many were read (fewer only at end of input). */
static size_t read_some(struct fl_http *h, char *p, size_t n)
{
    size_t got = 0;

    while (got < n) {
        size_t want = n - got > 65536 ? 65536 : n - got;
        ssize_t r;
        if (h->accepted) {
            r = FCGX_GetStr(p + got, (int)want, h->req.in);
        } else {
            r = read(STDIN_FILENO, p + got, want);
            if (r < 0 && errno == EINTR)
                continue;
        }
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

enum fl_err fl_http_read_body(struct fl_http *h, struct fl_req *req, size_t max_bytes)
{
    char *p;

    if (req->content_length > max_bytes)
        return FL_ETOOBIG;
    p = fl_arena_alloc(req->arena, (size_t)req->content_length + 1);
    if (p == NULL)
        return FL_ENOMEM;
    if (read_some(h, p, (size_t)req->content_length) != req->content_length)
        return FL_EINVAL;
    p[req->content_length] = '\0';
    req->body = (struct fl_str){p, (size_t)req->content_length};
    return FL_OK;
}

static void put(struct fl_http *h, const char *p, size_t n)
{
    if (h->accepted) {
        while (n > 0) {
            int chunk = n > 1 << 20 ? 1 << 20 : (int)n;
            if (FCGX_PutStr(p, chunk, h->req.out) != chunk)
                return; /* the client went away; nothing more to do for it */
            p += chunk;
            n -= (size_t)chunk;
        }
    } else {
        while (n > 0) {
            ssize_t w = write(STDOUT_FILENO, p, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return;
            p += w;
            n -= (size_t)w;
        }
    }
}

void fl_http_send(struct fl_http *h, const struct fl_req *req, const struct fl_resp *resp)
{
    char head[256];
    bool has_body = resp->content_type != NULL && resp->status != 304 && resp->status != 204;
    int n;

    n = snprintf(head, sizeof(head), "Status: %d %s\r\n", resp->status,
                 fl_status_text(resp->status));
    if (has_body)
        n += snprintf(head + n, sizeof(head) - (size_t)n,
                      "Content-Type: %s\r\nContent-Length: %zu\r\n", resp->content_type,
                      resp->body.len);
    put(h, head, (size_t)n);
    put(h, resp->headers.p ? resp->headers.p : "", resp->headers.len);
    put(h, "\r\n", 2);
    if (has_body && req->method != FL_METHOD_HEAD)
        put(h, resp->body.p, resp->body.len);
}

/*
 * libfcgi closes a connection by shutting down our side and then waiting for the web
 * server to close its own (a linger, so TCP never answers unread input with a reset). That
 * keeps the worker from its next request until the web server has been scheduled and read
 * the response. Having read the request to its end, there is nothing left for a reset to
 * destroy, so we close at once instead; a request with input left over (a body refused
 * unread) still gets libfcgi's careful close.
 */
static bool drained(struct fl_http *h)
{
    char buf[4096];
    size_t left = 64 << 10;
    int n;

    while (left > 0 && (n = FCGX_GetStr(buf, sizeof(buf), h->req.in)) > 0)
        left -= (size_t)n < left ? (size_t)n : left;
    return FCGX_HasSeenEOF(h->req.in) == EOF && FCGX_GetError(h->req.in) == 0;
}

void fl_http_finish(struct fl_http *h)
{
    if (h->accepted) {
        bool quick = !h->req.keepConnection && drained(h);
        if (quick)
            h->req.keepConnection = 1; /* libfcgi: finish the request, keep the socket */
        FCGX_Finish_r(&h->req);
        if (quick && h->req.ipcFd >= 0) {
            close(h->req.ipcFd);
            h->req.ipcFd = -1;
        }
    }
    h->accepted = false;
}
