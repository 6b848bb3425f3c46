/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <unistd.h>

#include "fl_config.h"
#include "test.h"

static const char *const vars[] = {"FL_MYSQL_URL",
                                   "FL_MYSQL_READ_URL",
                                   "FL_REDIS_URL",
                                   "FL_BASE_PATH",
                                   "FL_CACHE_TTL",
                                   "FL_RATE_LIMIT",
                                   "FL_RATE_BURST",
                                   "FL_TRUSTED_PROXIES",
                                   "FL_OAUTH_TOKEN_URL",
                                   "FL_OAUTH_CLIENT_ID",
                                   "FL_OAUTH_CLIENT_SECRET",
                                   "FL_API_A_URL",
                                   "FL_WEBHOOK_SECRET",
                                   "FL_ADMIN_TOKEN",
                                   "FL_LOG_LEVEL",
                                   "DB_HOST",
                                   "DB_PORT",
                                   "DB_USER",
                                   "DB_PASSWORD",
                                   "DB_NAME",
                                   "REDIS_URL",
                                   "REDIS_HOST",
                                   "REDIS_PORT",
                                   "EXTERNAL_API_URL",
                                   "FL_WORKERS",
                                   "FL_LOG_FILE",
                                   "FL_CACHE_TLL",
                                   "FL_LOCAL_HTTP_PORT",
                                   NULL};

static void clear(void)
{
    for (int i = 0; vars[i]; i++)
        unsetenv(vars[i]);
}

/* Loads with the environment as set; returns the error and leaves the message in msg. */
static enum fl_err load(struct fl_config *cfg, const char *file, struct fl_buf *msg)
{
    fl_buf_reset(msg);
    return fl_config_load(cfg, file, msg);
}

static void test_defaults_and_urls(struct fl_buf *msg)
{
    struct fl_config c;

    clear();
    ASSERT_EQ(load(&c, NULL, msg), FL_OK);
    ASSERT_STREQ(c.mysql.host, "127.0.0.1");
    ASSERT_EQ(c.mysql.port, 3306);
    ASSERT_STREQ(c.redis.host, "127.0.0.1");
    ASSERT_EQ(c.redis.port, 6379);
    ASSERT_EQ(c.cache_ttl_s, 60);
    ASSERT_EQ(c.rate_limit, 100);
    ASSERT_EQ(c.rate_burst, 200);
    ASSERT_STREQ(c.base_path, "");
    fl_config_free(&c);

    setenv("FL_MYSQL_URL", "mysql://app:p%40ss@db.local:3307/shop", 1);
    setenv("FL_REDIS_URL", "redis://:s3cret@cache:6380/2", 1);
    setenv("FL_BASE_PATH", "/api/", 1);
    setenv("FL_TRUSTED_PROXIES", "10.0.0.0/8, ::1", 1);
    ASSERT_EQ(load(&c, NULL, msg), FL_OK);
    ASSERT_STREQ(c.mysql.user, "app");
    ASSERT_STREQ(c.mysql.password, "p@ss");
    ASSERT_STREQ(c.mysql.host, "db.local");
    ASSERT_EQ(c.mysql.port, 3307);
    ASSERT_STREQ(c.mysql.database, "shop");
    ASSERT_STREQ(c.redis.password, "s3cret");
    ASSERT_STREQ(c.redis.host, "cache");
    ASSERT_EQ(c.redis.db, 2);
    ASSERT_STREQ(c.base_path, "/api");
    ASSERT_EQ(c.n_trusted_proxies, 2);
    fl_config_free(&c);

    setenv("FL_MYSQL_URL", "mysql://app@localhost/shop?socket=/run/mysqld/mysqld.sock", 1);
    setenv("FL_REDIS_URL", "unix:///run/redis.sock", 1);
    ASSERT_EQ(load(&c, NULL, msg), FL_OK);
    ASSERT_STREQ(c.mysql.socket, "/run/mysqld/mysqld.sock");
    ASSERT_STREQ(c.redis.socket, "/run/redis.sock");
    ASSERT_NULL(c.redis.host);
    fl_config_free(&c);
    clear();
}

static void test_original_names(struct fl_buf *msg)
{
    struct fl_config c;

    clear();
    setenv("DB_HOST", "mysql", 1);
    setenv("DB_PORT", "3307", 1);
    setenv("DB_USER", "farm", 1);
    setenv("DB_PASSWORD", "pw", 1);
    setenv("DB_NAME", "farmdb", 1);
    setenv("REDIS_HOST", "redis", 1);
    setenv("EXTERNAL_API_URL", "http://api.example/", 1);
    ASSERT_EQ(load(&c, NULL, msg), FL_OK);
    ASSERT_STREQ(c.mysql.host, "mysql");
    ASSERT_EQ(c.mysql.port, 3307);
    ASSERT_STREQ(c.mysql.user, "farm");
    ASSERT_STREQ(c.mysql.password, "pw");
    ASSERT_STREQ(c.mysql.database, "farmdb");
    ASSERT_STREQ(c.redis.host, "redis");
    ASSERT_STREQ(c.api_a_url, "http://api.example");
    fl_config_free(&c);
    /* The FL_ form wins over the original's name. */
    setenv("FL_MYSQL_URL", "mysql://u@h/d", 1);
    ASSERT_EQ(load(&c, NULL, msg), FL_OK);
    ASSERT_STREQ(c.mysql.host, "h");
    fl_config_free(&c);
    clear();
}

static void test_bad_values(struct fl_buf *msg)
{
    static const struct {
        const char *name, *value;
    } bad[] = {
        {"FL_MYSQL_URL", "postgres://x@y/z"},
        {"FL_MYSQL_URL", "mysql://u@h:99999/d"},
        {"FL_MYSQL_URL", "mysql://u@h"},
        {"FL_REDIS_URL", "http://x"},
        {"FL_CACHE_TTL", "0"},
        {"FL_CACHE_TTL", "60s"},
        {"FL_RATE_LIMIT", "-1"},
        {"FL_TRUSTED_PROXIES", "10.0.0.0/33"},
        {"FL_TRUSTED_PROXIES", "proxy.local"},
        {"FL_API_A_URL", "ftp://x"},
        {"FL_WEBHOOK_SECRET", "not-whsec"},
        {"FL_WEBHOOK_SECRET", "whsec_!!!!"},
        {"FL_ADMIN_TOKEN", "short"},
        {"FL_LOG_LEVEL", "loud"},
        {"FL_BASE_PATH", "api"},
        {"FL_OAUTH_TOKEN_URL", "http://auth/token"},
    };
    struct fl_config c;

    for (size_t i = 0; i < FL_COUNTOF(bad); i++) {
        clear();
        setenv(bad[i].name, bad[i].value, 1);
        ASSERT_EQ(load(&c, NULL, msg), FL_EINVAL);
        ASSERT_CONTAINS(msg->p, bad[i].name);
        if (msg->p && strstr(msg->p, bad[i].value) && strlen(bad[i].value) > 4)
            FAIL_AT("the message echoes the value: %s", msg->p);
    }
    clear();
}

static void test_file(struct fl_buf *msg)
{
    char path[] = "/tmp/fl-config-XXXXXX";
    int fd = mkstemp(path);
    const char text[] = "# comment\n\n FL_CACHE_TTL = 30 \nFL_ADMIN_TOKEN=\"0123456789abcdef\"\n"
                        "FL_LOG_LEVEL=warn\nFL_LOG_LEVEL=debug\n";
    struct fl_config c;

    clear();
    ASSERT_TRUE(fd >= 0 && write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1));
    close(fd);
    ASSERT_EQ(load(&c, path, msg), FL_OK);
    ASSERT_EQ(c.cache_ttl_s, 30);
    ASSERT_STREQ(c.admin_token, "0123456789abcdef");
    ASSERT_EQ(c.log_level, FL_LOG_DEBUG); /* a later line wins */
    fl_config_free(&c);
    setenv("FL_CACHE_TTL", "90", 1); /* the environment wins over the file */
    ASSERT_EQ(load(&c, path, msg), FL_OK);
    ASSERT_EQ(c.cache_ttl_s, 90);
    fl_config_free(&c);
    unlink(path);
    ASSERT_EQ(load(&c, path, msg), FL_EIO);
    ASSERT_CONTAINS(msg->p, path);
    clear();
}

/* Writes text to a new temporary file; its path is left in path. */
static void write_file(char *path, const char *text)
{
    int fd = mkstemp(path);

    ASSERT_TRUE(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

/* Issue #10: a typo in a --config file was ignored; now it is an error with a suggestion. */
static void test_unknown_keys(struct fl_buf *msg)
{
    char typo[] = "/tmp/fl-config-XXXXXX", deploy[] = "/tmp/fl-config-XXXXXX";
    struct fl_config c;

    clear();
    write_file(typo, "FL_CACHE_TTL=30\nFL_CACHE_TLL=120\n");
    ASSERT_EQ(load(&c, typo, msg), FL_EINVAL);
    ASSERT_CONTAINS(msg->p, "FL_CACHE_TLL");
    ASSERT_CONTAINS(msg->p, "did you mean FL_CACHE_TTL?");
    ASSERT_CONTAINS(msg->p, typo);
    unlink(typo);

    /* The recipes' own FL_WORKERS is a setting (validated); a deploy script's knob is known. */
    write_file(deploy, "FL_WORKERS=4\nFL_LOCAL_HTTP_PORT=8081\n");
    ASSERT_EQ(load(&c, deploy, msg), FL_OK);
    ASSERT_EQ(c.workers, 4);
    ASSERT_TRUE(c.warnings == NULL);
    fl_config_free(&c);
    unlink(deploy);

    /* In the environment an unknown FL_* name is a warning, not an error. */
    setenv("FL_CACHE_TLL", "120", 1);
    setenv("FL_LOCAL_HTTP_PORT", "8081", 1);
    ASSERT_EQ(load(&c, NULL, msg), FL_OK);
    ASSERT_CONTAINS(c.warnings,
                    "FL_CACHE_TLL is not a FarmLokal setting (did you mean FL_CACHE_TTL?)");
    ASSERT_TRUE(c.warnings && strstr(c.warnings, "FL_LOCAL_HTTP_PORT") == NULL);
    fl_config_free(&c);
    clear();
}

/* Issue #10: "p@ss" unencoded gave host "ss@127.0.0.1" and failed only at connect time. */
static void test_reserved_characters_in_passwords(struct fl_buf *msg)
{
    static const char *const urls[][2] = {
        {"FL_MYSQL_URL", "mysql://farmlokal:p@ss@127.0.0.1:3306/farmlokal"},
        {"FL_MYSQL_URL", "mysql://farmlokal:pa/ss@127.0.0.1:3306/farmlokal"},
        {"FL_MYSQL_READ_URL", "mysql://farmlokal:p?ss@127.0.0.1/farmlokal"},
        {"FL_REDIS_URL", "redis://:p@ss@127.0.0.1:6379/0"},
    };
    struct fl_config c;

    for (size_t i = 0; i < FL_COUNTOF(urls); i++) {
        clear();
        setenv(urls[i][0], urls[i][1], 1);
        ASSERT_EQ(load(&c, NULL, msg), FL_EINVAL);
        ASSERT_CONTAINS(msg->p, urls[i][0]);
        ASSERT_CONTAINS(msg->p, "percent-encode");
        ASSERT_TRUE(msg->p && strstr(msg->p, "ss@") == NULL); /* the password is not shown */
    }
    clear();
    setenv("FL_MYSQL_URL", "mysql://farmlokal:p%40ss@127.0.0.1:3306/farmlokal", 1);
    ASSERT_EQ(load(&c, NULL, msg), FL_OK);
    ASSERT_STREQ(c.mysql.password, "p@ss");
    ASSERT_STREQ(c.mysql.host, "127.0.0.1");
    fl_config_free(&c);
    clear();
}

/* Issue #10: FL_WORKERS=four passed; every number now says what it got and what it takes. */
static void test_numbers_are_explained(struct fl_buf *msg)
{
    struct fl_config c;

    clear();
    setenv("FL_WORKERS", "four", 1);
    ASSERT_EQ(load(&c, NULL, msg), FL_EINVAL);
    ASSERT_CONTAINS(msg->p, "FL_WORKERS must be an integer from 1 to 256, not \"four\"");
    clear();
    setenv("FL_CACHE_TTL", "60s", 1);
    ASSERT_EQ(load(&c, NULL, msg), FL_EINVAL);
    ASSERT_CONTAINS(msg->p, "FL_CACHE_TTL must be an integer from 1 to 86400, not \"60s\"");
    clear();
}

/* Issue #10: check-config printed "2 range(s)" instead of the ranges. */
static void test_dump_shows_values(struct fl_buf *msg)
{
    struct fl_config c;
    struct fl_buf out;

    clear();
    setenv("FL_TRUSTED_PROXIES", "10.0.0.0/8, ::1", 1);
    setenv("FL_LOG_FILE", "/var/log/farmlokal/app.log", 1);
    ASSERT_EQ(load(&c, NULL, msg), FL_OK);
    fl_buf_init(&out, 0);
    fl_config_dump(&c, &out);
    ASSERT_CONTAINS(out.p, "FL_TRUSTED_PROXIES=10.0.0.0/8,::1/128\n");
    ASSERT_CONTAINS(out.p, "FL_LOG_FILE=/var/log/farmlokal/app.log\n");
    ASSERT_CONTAINS(out.p, "FL_WORKERS=2\n");
    fl_buf_free(&out);
    fl_config_free(&c);
    clear();
}

int main(void)
{
    struct fl_buf msg;

    fl_buf_init(&msg, 4096);
    test_defaults_and_urls(&msg);
    test_original_names(&msg);
    test_bad_values(&msg);
    test_file(&msg);
    test_unknown_keys(&msg);
    test_reserved_characters_in_passwords(&msg);
    test_numbers_are_explained(&msg);
    test_dump_shows_values(&msg);
    fl_buf_free(&msg);
    return fl_test_done("test_config");
}
