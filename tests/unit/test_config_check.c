/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "fl_config.h"
#include "fl_config_check.h"
#include "test.h"

static void test_nearest(void)
{
    struct fl_config_names names = {.n = 0};

    fl_config_names_add(&names, "FL_CACHE_TTL");
    fl_config_names_add(&names, "FL_CACHE_STALE_S");
    fl_config_names_add(&names, "FL_RATE_LIMIT");
    fl_config_names_add(&names, "FL_CACHE_TTL"); /* once */
    ASSERT_EQ(names.n, 3);
    ASSERT_STREQ(fl_config_nearest(&names, "FL_CACHE_TLL", 12), "FL_CACHE_TTL");
    ASSERT_STREQ(fl_config_nearest(&names, "FL_RATELIMIT", 12), "FL_RATE_LIMIT");
    ASSERT_STREQ(fl_config_nearest(&names, "FL_CACHE_STALE", 14), "FL_CACHE_STALE_S");
    ASSERT_TRUE(fl_config_nearest(&names, "FL_SOMETHING_ELSE", 17) == NULL);
}

static void test_foreign(void)
{
    ASSERT_TRUE(fl_config_foreign_name("FL_LOCAL_HTTP_PORT", 18));
    ASSERT_TRUE(fl_config_foreign_name("FL_SEED_ROWS", 12));
    ASSERT_TRUE(fl_config_foreign_name("FL_DB_PASSWORD", 14));
    ASSERT_TRUE(fl_config_foreign_name("FL_EDGE_TTL_S", 13)); /* nginx's FastCGI parameter */
    ASSERT_TRUE(fl_config_foreign_name("FL_EXTERNAL_WORKERS", 19));
    ASSERT_TRUE(!fl_config_foreign_name("FL_SEED_ROWSX", 13));
    ASSERT_TRUE(!fl_config_foreign_name("FL_CACHE_TLL", 12));
}

static void test_userinfo(void)
{
    ASSERT_TRUE(fl_config_userinfo_unencoded("mysql://u:p@ss@h/db"));
    ASSERT_TRUE(fl_config_userinfo_unencoded("mysql://u:pa/ss@h/db"));
    ASSERT_TRUE(fl_config_userinfo_unencoded("mysql://u:p?ss@h/db"));
    ASSERT_TRUE(fl_config_userinfo_unencoded("mysql://u:p#ss@h/db"));
    ASSERT_TRUE(!fl_config_userinfo_unencoded("mysql://u:p%40ss@h/db"));
    ASSERT_TRUE(!fl_config_userinfo_unencoded("mysql://u@localhost/db?socket=/run/m.sock"));
    ASSERT_TRUE(!fl_config_userinfo_unencoded("redis://127.0.0.1:6379/0"));
    ASSERT_TRUE(!fl_config_userinfo_unencoded("unix:///run/redis.sock"));
    /* Lists: FL_MYSQL_READ_URL's replicas, a Sentinel URL's hosts. */
    ASSERT_TRUE(fl_config_userinfo_unencoded("mysql://h1/db,mysql://u:p@ss@h2/db"));
    ASSERT_TRUE(fl_config_userinfo_unencoded("mysql://a@h1/db,mysql://u:pa/ss@h2/db"));
    ASSERT_TRUE(!fl_config_userinfo_unencoded("mysql://h1/db,mysql://u:p%40ss@h2/db"));
    ASSERT_TRUE(!fl_config_userinfo_unencoded("mysql://a@h1/db,mysql://b@h2/db"));
    ASSERT_TRUE(fl_config_userinfo_unencoded("redis-sentinel://:p@ss@h1:1,h2:2/m"));
    ASSERT_TRUE(!fl_config_userinfo_unencoded("redis-sentinel://:pw@h1:1,h2:2/m/0"));
}

static void test_check_names(void)
{
    struct fl_config_names names = {.n = 0};
    static const char entries[] = "FL_CACHE_TTL=1\0DB_HOST=x\0FL_SEED_ROWS=5\0";
    static const char bad[] = "FL_CACHE_TTL=1\0FL_CACHE_TLL=2\0";
    char path_var[] = "PATH=/bin", typo[] = "FL_RATE_LIMT=3", test_var[] = "FL_TEST_KEEP=1";
    char *env[] = {path_var, typo, test_var, NULL};
    struct fl_buf err, warn;

    fl_buf_init(&err, 0);
    fl_buf_init(&warn, 0);
    fl_config_names_add(&names, "FL_CACHE_TTL");
    fl_config_names_add(&names, "FL_RATE_LIMIT");
    ASSERT_EQ(
        fl_config_check_names(&names, "f.env", entries, sizeof(entries) - 1, env, &err, &warn),
        FL_OK);
    ASSERT_STREQ(warn.p, "the environment variable FL_RATE_LIMT is not a FarmLokal setting (did "
                         "you mean FL_RATE_LIMIT?); it is ignored\n");
    ASSERT_EQ(fl_config_check_names(&names, "f.env", bad, sizeof(bad) - 1, NULL, &err, &warn),
              FL_EINVAL);
    ASSERT_STREQ(err.p, "configuration: f.env: FL_CACHE_TLL is not a FarmLokal setting (did you "
                        "mean FL_CACHE_TTL?)");
    fl_buf_free(&err);
    fl_buf_free(&warn);
}

static void test_placeholders(void)
{
    char db_password[] = "CHANGE-ME", token[] = "change-me-change-me";
    struct fl_config c;
    struct fl_buf out;

    memset(&c, 0, sizeof(c));
    fl_buf_init(&out, 0);
    ASSERT_EQ(fl_config_placeholders(&c, &out), 0);
    c.mysql.password = db_password;
    c.admin_token = token;
    ASSERT_EQ(fl_config_placeholders(&c, &out), 2);
    ASSERT_CONTAINS(out.p, "FL_MYSQL_URL's password is still the example's placeholder");
    ASSERT_CONTAINS(out.p, "FL_ADMIN_TOKEN is still");
    fl_buf_free(&out);
}

int main(void)
{
    test_nearest();
    test_foreign();
    test_userinfo();
    test_check_names();
    test_placeholders();
    return fl_test_done("test_config_check");
}
