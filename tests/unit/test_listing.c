/* SPDX-License-Identifier: MIT */
/*
 * fl_listing without MySQL: a request over its rate limit is refused before anything else
 * is done; with Redis down the limit fails open; with MySQL down and nothing kept the
 * page is FL_EDB, on the primary and on every replica; and the X-Cache names.
 */
#include "fake_server.h"
#include "fl_listing.h"
#include "fl_metrics.h"
#include "offline.h"
#include "test.h"

static struct fl_arena *arena;
static int rendered;

static void render_page(struct fl_buf *body, const struct fl_product *rows, size_t n,
                        struct fl_str next)
{
    (void)body, (void)rows, (void)n, (void)next;
    rendered++;
}

static void render_product(struct fl_buf *body, const struct fl_product *p)
{
    (void)body, (void)p;
    rendered++;
}

static const struct fl_listing q = {.limit = 20, .max_cents = FL_CATALOG_PRICE_MAX_CENTS};

static void test_source_names(void)
{
    ASSERT_STREQ(fl_listing_source_name(FL_LISTING_HIT), "HIT");
    ASSERT_STREQ(fl_listing_source_name(FL_LISTING_MISS), "MISS");
    ASSERT_STREQ(fl_listing_source_name(FL_LISTING_BYPASS), "BYPASS");
    ASSERT_STREQ(fl_listing_source_name(FL_LISTING_STALE), "STALE");
}

/* The prepared limit of a client, refused or not by what the fake Redis says. */
static struct fl_ratelimit limit(void)
{
    struct fl_config cfg = {.rate_limit = 1, .rate_burst = 1};
    struct fl_ratelimit rl;

    fl_ratelimit_prepare(&cfg, FL_STR("198.51.100.9"), &rl);
    return rl;
}

static void test_rate_limited(void)
{
    /* Every reply of the lookup's round trip says "refused": no generation, no entry. */
    static const struct canned refused[] = {CANNED("$7\r\n0 0 3 2\r\n$7\r\n0 0 3 2\r\n"
                                                   "$7\r\n0 0 3 2\r\n$7\r\n0 0 3 2\r\n")};
    struct fl_listing_result out;
    struct fl_ratelimit rl = limit();
    pid_t pid;
    struct fl_listing_svc svc = {fake_redis(refused, 1, &pid), offline_db(), NULL, 60, 300, NULL};

    rendered = 0;
    ASSERT_EQ(fl_listing_page(&svc, arena, &q, &rl, render_page, &out), FL_ELIMITED);
    ASSERT_TRUE(rl.decided);
    ASSERT_EQ(rl.retry_after_s, 2);
    ASSERT_EQ(rendered, 0);
    /* Nothing was asked of MySQL. */
    ASSERT_EQ(fl_db_errors(svc.primary) + fl_db_queries(svc.primary), 0);
    fake_redis_end(svc.redis, pid);
    fl_db_free(svc.primary);
}

static void test_mysql_and_redis_down(void)
{
    struct fl_listing_svc svc = {offline_redis(), offline_db(), NULL, 60, 300, NULL};
    struct fl_listing_result out;
    struct fl_ratelimit rl = limit();

    rendered = 0;
    /* Redis is down: the limit fails open, and MySQL is down: nothing to serve. */
    ASSERT_EQ(fl_listing_page(&svc, arena, &q, &rl, render_page, &out), FL_EDB);
    ASSERT_TRUE(!rl.decided);
    ASSERT_EQ(fl_listing_product(&svc, arena, 7, NULL, render_product, &out), FL_EDB);
    ASSERT_EQ(rendered, 0);
    ASSERT_GE(fl_db_errors(svc.primary) + fl_db_skipped(svc.primary), 2);
    fl_redis_free(svc.redis);
    fl_db_free(svc.primary);
}

/* The primary is down and so is the replica it falls back to: FL_EDB, counted as behind. */
static void test_replica_down_too(void)
{
    struct fl_mysql_dsn dsn = offline_mysql_dsn();
    struct fl_listing_svc svc = {
        offline_redis(), offline_db(), fl_replica_new(&dsn, 1, 1), 60, 300, NULL};
    struct fl_listing_result out;
    struct fl_buf metrics;

    ASSERT_EQ(fl_metrics_open(NULL), FL_OK);
    ASSERT_EQ(fl_listing_page(&svc, arena, &q, NULL, render_page, &out), FL_EDB);
    ASSERT_GE(fl_db_errors(fl_replica_db(svc.replica, 0)), 1);
    fl_buf_init(&metrics, 1 << 20);
    fl_metrics_render(NULL, &(struct fl_metrics_labels){0}, 0, 1, &metrics);
    ASSERT_CONTAINS(metrics.p, "farmlokal_replica_reads_total{outcome=\"replica_behind\"} 1\n");
    ASSERT_CONTAINS(metrics.p, "farmlokal_cache_requests_total{result=\"bypass\"} 0\n");
    fl_buf_free(&metrics);
    fl_metrics_close();
    fl_replica_free(svc.replica);
    fl_redis_free(svc.redis);
    fl_db_free(svc.primary);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    arena = fl_arena_new(1 << 20);
    test_source_names();
    test_rate_limited();
    test_mysql_and_redis_down();
    test_replica_down_too();
    fl_arena_free(arena);
    return fl_test_done("test_listing");
}
