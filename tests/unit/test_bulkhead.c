/* SPDX-License-Identifier: MIT */
/*
 * The bulkhead across processes: workers of one socket share seats (half of them by
 * default), a seat held by a killed worker is taken over, another socket is another pool,
 * and a process without a listening socket is never refused.
 */
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fl_bulkhead.h"
#include "test.h"

static char dir[] = "/tmp/fl-bulkhead-XXXXXX";

/* A worker of the pool on fd that, when take_seat, takes a seat; it says whether it got
 * one and stays (holding it) until killed. */
static pid_t worker(int fd, bool take_seat, bool *entered)
{
    int ready[2];
    char got = 0;
    pid_t pid;

    if (pipe(ready) != 0)
        abort();
    pid = fork();
    if (pid == 0) {
        struct fl_bulkhead *b = fl_bulkhead_open(dir, fd, 0);
        char c = take_seat && fl_bulkhead_enter(b) ? 1 : 0;
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(ready[1]);
    if (read(ready[0], &got, 1) != 1)
        got = 0;
    close(ready[0]);
    *entered = got == 1;
    return pid;
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void test_a_killed_workers_seat_is_taken_over(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct fl_bulkhead *b = fl_bulkhead_open(dir, fd, 0);
    bool entered = false;
    pid_t other;

    ASSERT_NOT_NULL(b);
    ASSERT_EQ(fl_bulkhead_seats(b), 1);
    other = worker(fd, true, &entered);
    ASSERT_TRUE(entered);
    ASSERT_EQ(fl_bulkhead_seats(b), 1); /* two workers: half of them */
    ASSERT_TRUE(!fl_bulkhead_enter(b));
    kill_and_reap(other);
    ASSERT_TRUE(fl_bulkhead_enter(b));
    fl_bulkhead_leave(b);
    fl_bulkhead_close(b);
    close(fd);
}

static void test_half_the_workers_wait_at_once(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct fl_bulkhead *b = fl_bulkhead_open(dir, fd, 0);
    pid_t others[4];
    bool entered[4];

    others[0] = worker(fd, false, &entered[0]);
    others[1] = worker(fd, false, &entered[1]);
    others[2] = worker(fd, true, &entered[2]);
    ASSERT_EQ(fl_bulkhead_seats(b), 2); /* four workers */
    ASSERT_TRUE(entered[2]);
    ASSERT_TRUE(fl_bulkhead_enter(b));
    others[3] = worker(fd, true, &entered[3]);
    ASSERT_EQ(fl_bulkhead_seats(b), 2); /* five */
    ASSERT_TRUE(!entered[3]);
    fl_bulkhead_leave(b);
    for (int i = 0; i < 4; i++)
        kill_and_reap(others[i]);
    ASSERT_EQ(fl_bulkhead_seats(b), 1);
    ASSERT_TRUE(fl_bulkhead_enter(b));
    fl_bulkhead_close(b);
    close(fd);
}

static void test_setting_and_pools(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0), other_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct fl_bulkhead *b = fl_bulkhead_open(dir, fd, 3);
    bool entered = false;
    pid_t other;

    ASSERT_EQ(fl_bulkhead_seats(b), 3);
    /* A worker of another socket holds a seat of its own pool, not of ours. */
    other = worker(other_fd, true, &entered);
    ASSERT_TRUE(entered);
    ASSERT_TRUE(fl_bulkhead_enter(b));
    ASSERT_TRUE(fl_bulkhead_enter(b)); /* a worker holds one seat at most */
    fl_bulkhead_leave(b);
    fl_bulkhead_leave(b);
    kill_and_reap(other);
    fl_bulkhead_close(b);
    close(fd);
    close(other_fd);
}

static void test_no_socket_no_limit(void)
{
    int pipe_fds[2];

    ASSERT_NULL(fl_bulkhead_open(dir, -1, 0));
    ASSERT_EQ(pipe(pipe_fds), 0);
    ASSERT_NULL(fl_bulkhead_open(dir, pipe_fds[0], 0));
    ASSERT_TRUE(fl_bulkhead_enter(NULL));
    fl_bulkhead_leave(NULL);
    fl_bulkhead_close(NULL);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

int main(void)
{
    DIR *d;
    struct dirent *e;

    if (mkdtemp(dir) == NULL)
        return 1;
    test_a_killed_workers_seat_is_taken_over();
    test_half_the_workers_wait_at_once();
    test_setting_and_pools();
    test_no_socket_no_limit();
    d = opendir(dir);
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
    rmdir(dir);
    return fl_test_done("test_bulkhead");
}
