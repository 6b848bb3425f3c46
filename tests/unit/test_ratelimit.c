/* SPDX-License-Identifier: MIT */
/*
 * fl_ratelimit: the GCRA command a client's request sends (its key and the interval and
 * burst from the configuration), the verdict read from the script's reply, and failing
 * open when Redis is not there.
 */
#include "fl_ratelimit.h"
#include "offline.h"
#include "test.h"

static struct fl_config cfg;
static struct fl_ratelimit rl;

static void test_prepare_and_cmd(void)
{
    struct fl_redis_cmd cmd;
    char long_client[100];

    cfg.rate_limit = 0;
    ASSERT_TRUE(!fl_ratelimit_prepare(&cfg, FL_STR("203.0.113.7"), &rl));
    cfg.rate_limit = 10;
    cfg.rate_burst = 20;
    ASSERT_TRUE(fl_ratelimit_prepare(&cfg, FL_STR("203.0.113.7"), &rl));
    ASSERT_STREQ(rl.key, "fl:rl:203.0.113.7");
    ASSERT_STREQ(rl.args[0], "100000"); /* 10 a second: one every 100 ms */
    ASSERT_STREQ(rl.args[1], "20");
    ASSERT_TRUE(!rl.decided);
    cmd = fl_ratelimit_cmd(&rl);
    ASSERT_EQ(cmd.argc, 6);
    ASSERT_TRUE(fl_str_eq(cmd.argv[0], FL_STR("EVAL")));
    ASSERT_TRUE(fl_str_eq(cmd.argv[2], FL_STR("1"))); /* one key */
    ASSERT_TRUE(fl_str_eq(cmd.argv[3], FL_STR("fl:rl:203.0.113.7")));
    ASSERT_TRUE(fl_str_eq(cmd.argv[4], FL_STR("100000")));
    ASSERT_TRUE(fl_str_eq(cmd.argv[5], FL_STR("20")));

    /* An address longer than any IPv6 text is cut, not overflowed. */
    memset(long_client, 'a', sizeof(long_client));
    cfg.rate_limit = 1000000;
    ASSERT_TRUE(fl_ratelimit_prepare(&cfg, (struct fl_str){long_client, sizeof(long_client)}, &rl));
    ASSERT_EQ(strlen(rl.key), 6 + 64);
    ASSERT_STREQ(rl.args[0], "1");
}

static void read_reply(enum fl_redis_type type, const char *text)
{
    struct fl_redis_reply reply = {.type = type, .str = fl_str_c(text)};

    rl.decided = true;
    fl_ratelimit_read(&rl, &reply);
}

static void test_read(void)
{
    const char *bad[] = {"",          "1 19 2",    "1 19 2 0 5", "1 x 2 0",
                         "1 -19 2 0", "1  19 2 0", "allowed"};

    read_reply(FL_REDIS_STR, "1 19 2 0");
    ASSERT_TRUE(rl.decided);
    ASSERT_TRUE(rl.allowed);
    ASSERT_EQ(rl.remaining, 19);
    ASSERT_EQ(rl.reset_s, 2);
    ASSERT_EQ(rl.retry_after_s, 1); /* never told to come back in 0 s */
    read_reply(FL_REDIS_STR, "0 0 3 2");
    ASSERT_TRUE(rl.decided);
    ASSERT_TRUE(!rl.allowed);
    ASSERT_EQ(rl.remaining, 0);
    ASSERT_EQ(rl.reset_s, 3);
    ASSERT_EQ(rl.retry_after_s, 2);
    for (size_t i = 0; i < FL_COUNTOF(bad); i++) {
        read_reply(FL_REDIS_STR, bad[i]);
        fl_test_checks++;
        if (rl.decided)
            FAIL_AT("reply '%s' decided", bad[i]);
    }
    /* A script error (or no script) is no verdict: the request is served. */
    read_reply(FL_REDIS_ERROR, "NOSCRIPT No matching script");
    ASSERT_TRUE(!rl.decided);
    read_reply(FL_REDIS_NIL, "");
    ASSERT_TRUE(!rl.decided);
}

static void test_fails_open(void)
{
    struct fl_redis *r = offline_redis();
    struct fl_arena *arena = fl_arena_new(1 << 16);

    cfg.rate_limit = 1;
    cfg.rate_burst = 1;
    ASSERT_TRUE(fl_ratelimit_prepare(&cfg, FL_STR("192.0.2.1"), &rl));
    fl_ratelimit_check(r, arena, &rl);
    ASSERT_TRUE(!rl.decided);
    ASSERT_TRUE(!rl.allowed);
    ASSERT_EQ(fl_redis_errors(r), 1);
    fl_arena_free(arena);
    fl_redis_free(r);
}

int main(void)
{
    test_prepare_and_cmd();
    test_read();
    test_fails_open();
    return fl_test_done("test_ratelimit");
}
