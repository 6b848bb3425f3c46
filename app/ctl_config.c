/* SPDX-License-Identifier: MIT */
/*
 * farmlokal-ctl check-config: prints the configuration in effect, secrets masked, warns
 * about what loading let pass (FL_* variables nobody reads, the example's placeholders),
 * and with --connect reaches MySQL, the replica, Redis and the OAuth token URL, each within
 * a few seconds, naming the ones that failed.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "fl_arena.h"
#include "fl_config_check.h"
#include "fl_db.h"
#include "fl_dsn.h"
#include "fl_httpc.h"
#include "fl_oauth.h"
#include "fl_redis.h"
#include "fl_time.h"

#define CONNECT_TIMEOUT_S     5
#define REDIS_TIMEOUT_MS      2000
#define OAUTH_DEADLINE_US     (5 * 1000000LL)
#define OAUTH_BODY_MAX_BYTES  ((size_t)64 << 10)
#define OAUTH_ARENA_MAX_BYTES ((size_t)1 << 20)

/* Prints one check's outcome; returns 1 when it failed. */
static int report(const char *what, enum fl_err err)
{
    if (err == FL_OK) {
        printf("connect %s: ok\n", what);
        return 0;
    }
    printf("connect %s: FAILED (%s; the log line above says why)\n", what, fl_strerror(err));
    return 1;
}

static enum fl_err reach_mysql(const struct fl_mysql_dsn *dsn)
{
    struct fl_db *db = fl_db_new(dsn, CONNECT_TIMEOUT_S);
    enum fl_err err = db ? fl_db_ping(db, CONNECT_TIMEOUT_S * 1000) : FL_ENOMEM;

    fl_db_free(db);
    return err;
}

static enum fl_err reach_oauth(const struct fl_config *cfg, struct fl_redis *redis)
{
    struct fl_oauth *o = fl_oauth_new(cfg);
    struct fl_httpc *http = fl_httpc_new(OAUTH_BODY_MAX_BYTES);
    struct fl_arena *arena = fl_arena_new(OAUTH_ARENA_MAX_BYTES);
    enum fl_err err = FL_ENOMEM;

    if (o && http && arena)
        err = fl_oauth_probe(o, redis, http, arena, fl_time_mono_us() + OAUTH_DEADLINE_US);
    fl_arena_free(arena);
    fl_httpc_free(http);
    fl_oauth_free(o);
    return err;
}

/* Returns how many of the servers could not be reached. */
static int connect_all(const struct fl_config *cfg)
{
    struct fl_redis *redis = fl_redis_new(&cfg->redis, REDIS_TIMEOUT_MS);
    int failed = 0;

    failed += report("FL_MYSQL_URL (MySQL)", reach_mysql(&cfg->mysql));
    for (size_t i = 0; i < cfg->n_mysql_read; i++) {
        struct fl_buf what;
        fl_buf_init(&what, 1024);
        fl_buf_puts(&what, "FL_MYSQL_READ_URL (MySQL replica ");
        fl_dsn_mysql_address(&cfg->mysql_read[i], &what);
        fl_buf_putc(&what, ')');
        failed += report(what.p ? what.p : "FL_MYSQL_READ_URL", reach_mysql(&cfg->mysql_read[i]));
        fl_buf_free(&what);
    }
    failed += report("FL_REDIS_URL (Redis)", redis ? fl_redis_ping(redis) : FL_ENOMEM);
    if (cfg->oauth_token_url)
        failed += report("FL_OAUTH_TOKEN_URL (OAuth token)", reach_oauth(cfg, redis));
    fl_redis_free(redis);
    return failed;
}

int fl_ctl_check_config(const struct fl_config *cfg, int argc, char **argv)
{
    struct fl_buf out;
    bool connect = argc == 2 && strcmp(argv[1], "--connect") == 0;
    int failed = 0;

    if (argc > 1 && !connect) {
        fputs(fl_ctl_usage("check-config"), stderr);
        return 2;
    }
    fl_buf_init(&out, 0);
    fl_config_dump(cfg, &out);
    fputs(out.p ? out.p : "", stdout);
    fl_buf_reset(&out);
    if (fl_config_placeholders(cfg, &out))
        fprintf(stderr, "%s", out.p);
    fl_buf_free(&out);
    fflush(stdout);
    if (connect)
        failed = connect_all(cfg);
    return failed ? 1 : 0;
}
