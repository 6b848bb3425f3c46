/* SPDX-License-Identifier: MIT */
/*
 * fl_cache: an entry's key and ETag from the request and the body, the command that
 * invalidates every entry, and the cache stepping aside (BYPASS) when Redis is not there,
 * so that the page is built and served without it.
 */
#include "fl_cache.h"
#include "offline.h"
#include "test.h"

static void test_etag(void)
{
    char etag[35];

    fl_cache_etag(FL_STR("abc"), etag); /* the first half of SHA-256("abc"), quoted */
    ASSERT_STREQ(etag, "\"ba7816bf8f01cfea414140de5dae2223\"");
    fl_cache_etag(FL_STR("abd"), etag);
    ASSERT_TRUE(strcmp(etag, "\"ba7816bf8f01cfea414140de5dae2223\"") != 0);
    ASSERT_EQ(strlen(etag), 34);
}

static void test_invalidate_cmd(void)
{
    struct fl_redis_cmd cmd = fl_cache_invalidate_cmd();

    ASSERT_EQ(cmd.argc, 2);
    ASSERT_TRUE(fl_str_eq(cmd.argv[0], FL_STR("INCR")));
    ASSERT_TRUE(fl_str_eq(cmd.argv[1], FL_STR("fl:products:gen")));
}

static void test_without_redis(void)
{
    struct fl_redis *r = offline_redis();
    struct fl_arena *arena = fl_arena_new(1 << 16);
    struct fl_redis_cmd extra = FL_REDIS_CMD(FL_STR("PING"));
    struct fl_redis_reply extra_reply = {.type = FL_REDIS_INT, .integer = 7};
    struct fl_cache_lookup lk, other;
    struct fl_cache_entry fresh, stale = {.body = FL_STR("kept")};

    ASSERT_EQ(fl_cache_lookup(r, NULL, arena, FL_STR("/products?limit=20"), &extra, &extra_reply,
                              &lk, &fresh, &stale),
              FL_CACHE_BYPASS);
    /* The key names the request by its hash; the lock goes with it. */
    ASSERT_STREQ(lk.key, "fl:gz:e67fcdd52e40c15934f2102ee904295d");
    ASSERT_STREQ(lk.lock_key, "fl:lock:e67fcdd52e40c15934f2102ee904295d");
    ASSERT_EQ(lk.gen, -1);
    ASSERT_TRUE(!lk.flight.held);
    ASSERT_NULL(stale.body.p);
    /* The extra command's reply is left as it was: the rate limit fails open. */
    ASSERT_EQ(extra_reply.type, FL_REDIS_INT);
    ASSERT_EQ(extra_reply.integer, 7);
    ASSERT_EQ(fl_cache_lookup(r, NULL, arena, FL_STR("/products?limit=21"), NULL, NULL, &other,
                              &fresh, &stale),
              FL_CACHE_BYPASS);
    ASSERT_STREQ(other.key, "fl:gz:8d4f462382b6f4c3721020fecba5ef01");

    ASSERT_EQ(fl_cache_claim(r, arena, &lk, &fresh), FL_CACHE_BYPASS);
    ASSERT_TRUE(!lk.flight.held);
    ASSERT_EQ(fl_cache_wait(r, arena, &lk, 10, &fresh), FL_CACHE_BYPASS);
    fl_cache_store(r, arena, &lk, FL_STR("[]"), FL_STR("\"e\""), FL_STR(""), 60, 300);
    fl_cache_release(r, arena, &lk);
    ASSERT_TRUE(!lk.flight.held);
    ASSERT_EQ(fl_cache_invalidate(r, arena), FL_ECACHE);
    fl_arena_free(arena);
    fl_redis_free(r);
}

int main(void)
{
    test_etag();
    test_invalidate_cmd();
    test_without_redis();
    return fl_test_done("test_cache");
}
