/* SPDX-License-Identifier: MIT */
/*
 * fl_redis: the commands it builds, its replies as our types (a value over the cap
 * refused, a demoted primary's -READONLY taken as a failure, no reply of a cut pipeline
 * read by the next call), and its failure contract: with Redis gone every call is
 * FL_ECACHE, and the next connect waits its spacing. The replies come from a fake that
 * writes canned RESP bytes on a unix socket.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fake_server.h"
#include "fl_redis.h"
#include "offline.h"
#include "test.h"

static struct fl_arena *arena;

static void test_commands(void)
{
    struct fl_redis_cmd get = FL_REDIS_CMD(FL_STR("GET"), FL_STR("k"));
    struct fl_redis_cmd lock =
        fl_redis_lock_cmd(FL_STR("fl:lock:1"), FL_STR("t0k"), FL_STR("2000"));
    struct fl_redis_cmd unlock = fl_redis_unlock_cmd(FL_STR("fl:lock:1"), FL_STR("t0k"));
    const char *want[] = {"SET", "fl:lock:1", "t0k", "NX", "PX", "2000"};

    ASSERT_EQ(get.argc, 2);
    ASSERT_TRUE(fl_str_eq(get.argv[1], FL_STR("k")));
    ASSERT_EQ(lock.argc, 6);
    for (size_t i = 0; i < FL_COUNTOF(want); i++)
        ASSERT_TRUE(fl_str_eq(lock.argv[i], fl_str_c(want[i])));
    /* Released only by compare-and-delete: a lock taken over by another is not ours. */
    ASSERT_EQ(unlock.argc, 5);
    ASSERT_TRUE(fl_str_eq(unlock.argv[0], FL_STR("EVAL")));
    ASSERT_TRUE(fl_str_eq(unlock.argv[2], FL_STR("1")));
    ASSERT_TRUE(fl_str_eq(unlock.argv[3], FL_STR("fl:lock:1")));
    ASSERT_TRUE(fl_str_eq(unlock.argv[4], FL_STR("t0k")));
    ASSERT_TRUE(strstr(unlock.argv[1].p, "redis.call('get', KEYS[1]) == ARGV[1]") != NULL);
}

static void test_offline(void)
{
    struct fl_redis *r = offline_redis();
    struct fl_redis_cmd cmd = FL_REDIS_CMD(FL_STR("GET"), FL_STR("k"));
    struct fl_redis_reply rep;

    ASSERT_EQ(fl_redis_pipeline(r, arena, &cmd, 1, &rep), FL_ECACHE);
    ASSERT_EQ(fl_redis_errors(r), 1);
    /* The next tries come before the reconnect spacing: refused without a connect. */
    ASSERT_EQ(fl_redis_pipeline(r, arena, &cmd, 1, &rep), FL_ECACHE);
    ASSERT_EQ(fl_redis_ping(r), FL_ECACHE);
    ASSERT_EQ(fl_redis_errors(r), 1);
    ASSERT_GE(fl_redis_busy_us(r), 0);
    fl_redis_free(r);
    fl_redis_free(NULL);
}

static void test_replies(void)
{
    static const struct canned canned[] = {
        CANNED("+OK\r\n:42\r\n$5\r\nhe\0lo\r\n$-1\r\n-ERR wrong type\r\n")};
    struct fl_redis_cmd cmds[5];
    struct fl_redis_reply rep[5];
    pid_t pid;
    struct fl_redis *r = fake_redis(canned, 1, &pid);

    for (size_t i = 0; i < FL_COUNTOF(cmds); i++)
        cmds[i] = FL_REDIS_CMD(FL_STR("PING"));
    ASSERT_EQ(fl_redis_pipeline(r, arena, cmds, 5, rep), FL_OK);
    ASSERT_EQ(rep[0].type, FL_REDIS_STATUS);
    ASSERT_TRUE(fl_str_eq(rep[0].str, FL_STR("OK")));
    ASSERT_EQ(rep[1].type, FL_REDIS_INT);
    ASSERT_EQ(rep[1].integer, 42);
    ASSERT_EQ(rep[2].type, FL_REDIS_STR);
    ASSERT_TRUE(fl_str_eq(rep[2].str, (struct fl_str){"he\0lo", 5})); /* binary-safe */
    ASSERT_EQ(rep[3].type, FL_REDIS_NIL);
    /* A command's own error is a reply, not a failure of the connection. */
    ASSERT_EQ(rep[4].type, FL_REDIS_ERROR);
    ASSERT_TRUE(fl_str_eq(rep[4].str, FL_STR("ERR wrong type")));
    ASSERT_EQ(fl_redis_errors(r), 0);
    fake_redis_end(r, pid);
}

static void test_refused_replies(void)
{
    static const struct canned readonly[] = {
        CANNED("-READONLY You can't write against a read only replica.\r\n")};
    static const struct canned array[] = {CANNED("*1\r\n:1\r\n")};
    struct fl_redis_cmd cmd = FL_REDIS_CMD(FL_STR("INCR"), FL_STR("fl:gen"));
    struct fl_redis_reply rep;
    pid_t pid;
    struct fl_redis *r = fake_redis(readonly, 1, &pid);

    /* A demoted primary: a failure, so that the next connect finds the new one. */
    ASSERT_EQ(fl_redis_pipeline(r, arena, &cmd, 1, &rep), FL_ECACHE);
    ASSERT_EQ(fl_redis_errors(r), 1);
    fake_redis_end(r, pid);

    r = fake_redis(array, 1, &pid);
    ASSERT_EQ(fl_redis_pipeline(r, arena, &cmd, 1, &rep), FL_ECACHE);
    fake_redis_end(r, pid);
}

/* A bulk string of n bytes, then the replies after; p is owned: free it (NULL: no memory). */
static struct canned big_bulk(size_t n, const char *after)
{
    size_t tail = strlen(after);
    char *p = malloc(n + tail + 32);
    int head;

    if (p == NULL)
        return (struct canned){NULL, 0};
    head = snprintf(p, 32, "$%zu\r\n", n);
    memset(p + head, 'x', n);
    memcpy(p + (size_t)head + n, "\r\n", 2);
    memcpy(p + (size_t)head + n + 2, after, tail);
    return (struct canned){p, (size_t)head + n + 2 + tail};
}

/* A value over FL_REDIS_VALUE_MAX_BYTES is refused as too big, never copied. */
static void test_value_cap(void)
{
    struct canned big = big_bulk(FL_REDIS_VALUE_MAX_BYTES + 1, "");
    struct fl_redis_cmd cmd = FL_REDIS_CMD(FL_STR("GET"), FL_STR("fl:list:x"));
    struct fl_redis_reply rep;
    struct fl_redis *r;
    pid_t pid;

    ASSERT_NOT_NULL(big.p);
    if (big.p == NULL)
        return;
    r = fake_redis(&big, 1, &pid);
    ASSERT_EQ(fl_redis_pipeline(r, arena, &cmd, 1, &rep), FL_ETOOBIG);
    fake_redis_end(r, pid);
    free((char *)big.p);
}

/*
 * A pipeline cut short (here: the arena cannot hold the first reply) leaves replies unread;
 * the next call must not take them for its own answers.
 */
static void test_no_stale_replies_after_a_cut(void)
{
    struct canned replies[2] = {big_bulk(100000, "$1\r\nb\r\n"), CANNED("$1\r\nc\r\n")};
    struct fl_redis_cmd get[2] = {FL_REDIS_CMD(FL_STR("GET"), FL_STR("a")),
                                  FL_REDIS_CMD(FL_STR("GET"), FL_STR("b"))};
    struct fl_redis_reply rep[2];
    struct fl_arena *small = fl_arena_new(64 << 10);
    struct fl_redis *r;
    pid_t pid;

    ASSERT_NOT_NULL(replies[0].p);
    if (replies[0].p == NULL)
        return;
    r = fake_redis(replies, 2, &pid);
    ASSERT_EQ(fl_redis_pipeline(r, small, get, 2, rep), FL_ENOMEM);
    ASSERT_EQ(fl_redis_pipeline(r, arena, &get[0], 1, rep), FL_OK);
    ASSERT_EQ(rep[0].type, FL_REDIS_STR);
    ASSERT_TRUE(fl_str_eq(rep[0].str, FL_STR("c")));
    fake_redis_end(r, pid);
    fl_arena_free(small);
    free((char *)replies[0].p);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    arena = fl_arena_new(16 << 20);
    test_commands();
    test_offline();
    test_replies();
    test_refused_replies();
    test_value_cap();
    test_no_stale_replies_after_a_cut();
    fl_arena_free(arena);
    return fl_test_done("test_redis");
}
