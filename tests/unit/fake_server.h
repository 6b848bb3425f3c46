/* SPDX-License-Identifier: MIT */
/*
 * Fake servers for the unit tests: a child process that answers with canned bytes, one
 * reply for each read of what the client sends, connection after connection, on a fresh
 * unix socket (a Redis) or loopback TCP port (an HTTP upstream). It knows no protocol;
 * the test decides what the server says, and may read back what the client sent.
 */
#ifndef FL_TEST_FAKE_SERVER_H
#define FL_TEST_FAKE_SERVER_H

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fl_redis.h"
#include "test.h"

static char fake_path[64];
/* When set, the fake appends every byte it reads to this file. */
static char fake_capture[64];

/* What the fake answers: each reply is written after one read, connection after connection. */
struct canned {
    const char *p;
    size_t len;
};

#define CANNED(lit) ((struct canned){(lit), sizeof(lit) - 1})

/* Has the fakes started from now on keep what they read, in a file named for name. */
static inline void fake_capture_start(const char *name)
{
    snprintf(fake_capture, sizeof(fake_capture), "/tmp/fl-unit-%s-%ld.txt", name, (long)getpid());
}

/* What the fakes read since fake_capture_start, into out (cap bytes with the NUL); ends it. */
static inline void fake_capture_end(char *out, size_t cap)
{
    FILE *f = fopen(fake_capture, "r");

    out[0] = '\0';
    if (f) {
        out[fread(out, 1, cap - 1, f)] = '\0';
        fclose(f);
    }
    unlink(fake_capture);
    fake_capture[0] = '\0';
}

/* HTTP responses the tests write, each in its own slot (reused after FL_COUNTOF of them). */
static char fake_http_slots[32][512];
static size_t fake_http_used;

/*
 * An HTTP/1.1 response: status ("200 OK"), more header lines (each ending in "\r\n"), and
 * body, with its Content-Length; the connection closes after it.
 */
static inline struct canned fake_http(const char *status, const char *headers, const char *body)
{
    char *p = fake_http_slots[fake_http_used++ % FL_COUNTOF(fake_http_slots)];
    int n = snprintf(p, sizeof(fake_http_slots[0]),
                     "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s", status,
                     headers, strlen(body), body);

    return (struct canned){p, (size_t)n};
}

/* The fake's side: accepts connections and answers each read with the next reply. */
static inline void serve(int fd, const struct canned *replies, size_t n)
{
    int keep = fake_capture[0] ? open(fake_capture, O_WRONLY | O_APPEND | O_CREAT, 0600) : -1;
    size_t next = 0;
    ssize_t got;

    while (next < n) {
        char buf[4096];
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            _exit(1);
        while (next < n && (got = read(c, buf, sizeof(buf))) > 0) {
            if (keep >= 0 && write(keep, buf, (size_t)got) != got)
                _exit(1);
            for (size_t off = 0; off < replies[next].len;) {
                ssize_t k = write(c, replies[next].p + off, replies[next].len - off);
                if (k <= 0)
                    _exit(1);
                off += (size_t)k;
            }
            next++;
        }
        while (read(c, buf, sizeof(buf)) > 0)
            ;
        close(c);
    }
    _exit(0);
}

/* Forks the fake on the listening socket fd, which the parent then closes. */
static inline pid_t fake_start(int fd, const struct canned *replies, size_t n)
{
    pid_t pid = fork();

    if (pid == 0)
        serve(fd, replies, n);
    close(fd);
    return pid;
}

/* Stops the fake (whether or not it gave every reply). */
static inline void fake_stop(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Starts the fake on a loopback TCP port; returns the port (0 when none could be had). */
static inline unsigned fake_tcp(const struct canned *replies, size_t n, pid_t *pid)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        FAIL_AT("cannot listen on loopback");
        return 0;
    }
    *pid = fake_start(fd, replies, n);
    return ntohs(sa.sin_port);
}

/* Starts the fake as a Redis on a fresh unix socket; returns a handle for it (lazy). */
static inline struct fl_redis *fake_redis(const struct canned *replies, size_t n, pid_t *pid)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct fl_redis_dsn dsn = {.socket = fake_path};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(fake_path, sizeof(fake_path), "/tmp/fl-unit-redis-%ld.sock", (long)getpid());
    unlink(fake_path);
    memcpy(sa.sun_path, fake_path, strlen(fake_path) + 1);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1) != 0)
        FAIL_AT("cannot listen on %s", fake_path);
    *pid = fake_start(fd, replies, n);
    return fl_redis_new(&dsn, 2000);
}

static inline void fake_redis_end(struct fl_redis *r, pid_t pid)
{
    fl_redis_free(r);
    fake_stop(pid);
    unlink(fake_path);
}

#endif
