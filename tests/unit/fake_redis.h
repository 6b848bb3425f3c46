/* SPDX-License-Identifier: MIT */
/*
 * A fake Redis for the unit tests: a child process that answers on a fresh unix socket
 * with canned RESP bytes, one reply blob for each read of the client's commands,
 * connection after connection. It knows no command; the test decides what Redis says.
 */
#ifndef FL_TEST_FAKE_REDIS_H
#define FL_TEST_FAKE_REDIS_H

#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fl_redis.h"
#include "test.h"

static char fake_path[64];

/* What the fake answers: each reply is written after one read, connection after connection. */
struct canned {
    const char *p;
    size_t len;
};

#define CANNED(lit) ((struct canned){(lit), sizeof(lit) - 1})

/* The fake's side: accepts connections and answers each read with the next reply. */
static void serve(int fd, const struct canned *replies, size_t n)
{
    size_t next = 0;

    while (next < n) {
        char buf[4096];
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            _exit(1);
        while (next < n && read(c, buf, sizeof(buf)) > 0) {
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

/* Starts the fake on a fresh unix socket; returns a handle connected (lazily) to it. */
static struct fl_redis *fake_redis(const struct canned *replies, size_t n, pid_t *pid)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct fl_redis_dsn dsn = {.socket = fake_path};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(fake_path, sizeof(fake_path), "/tmp/fl-unit-redis-%ld.sock", (long)getpid());
    unlink(fake_path);
    memcpy(sa.sun_path, fake_path, strlen(fake_path) + 1);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1) != 0)
        FAIL_AT("cannot listen on %s", fake_path);
    *pid = fork();
    if (*pid == 0)
        serve(fd, replies, n);
    close(fd);
    return fl_redis_new(&dsn, 2000);
}

static void fake_redis_end(struct fl_redis *r, pid_t pid)
{
    fl_redis_free(r);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(fake_path);
}

#endif
