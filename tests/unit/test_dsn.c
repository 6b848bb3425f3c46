/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "fl_config.h"
#include "fl_dsn.h"
#include "test.h"

static void test_mysql_list(void)
{
    struct fl_mysql_dsn *list = NULL;
    struct fl_buf addr;
    size_t n = 0;

    ASSERT_EQ(fl_dsn_parse_mysql_list("mysql://u:p%2Cq@r1:3307/db,"
                                      "mysql://u@localhost/db?socket=/run/r2.sock,"
                                      "mariadb://u@[::1]/db",
                                      &list, &n),
              FL_OK);
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(list[0].host, "r1");
    ASSERT_EQ(list[0].port, 3307);
    ASSERT_STREQ(list[0].password, "p,q"); /* a comma inside one URL is written %2C */
    ASSERT_STREQ(list[1].socket, "/run/r2.sock");
    ASSERT_STREQ(list[2].host, "::1");
    fl_buf_init(&addr, 256);
    fl_dsn_mysql_address(&list[0], &addr);
    fl_buf_putc(&addr, ' ');
    fl_dsn_mysql_address(&list[1], &addr);
    fl_buf_putc(&addr, ' ');
    fl_dsn_mysql_address(&list[2], &addr);
    ASSERT_STREQ(addr.p, "r1:3307 /run/r2.sock ::1:3306");
    fl_buf_free(&addr);
    fl_dsn_mysql_list_free(list, n);

    ASSERT_EQ(fl_dsn_parse_mysql_list("mysql://u@h/db", &list, &n), FL_OK);
    ASSERT_EQ(n, 1);
    fl_dsn_mysql_list_free(list, n);

    ASSERT_EQ(fl_dsn_parse_mysql_list("mysql://u@h/db,", &list, &n), FL_EINVAL);
    ASSERT_EQ(fl_dsn_parse_mysql_list(",mysql://u@h/db", &list, &n), FL_EINVAL);
    ASSERT_EQ(fl_dsn_parse_mysql_list("mysql://u@h/db,redis://h", &list, &n), FL_EINVAL);
    ASSERT_EQ(fl_dsn_parse_mysql_list("mysql://u@a/d,mysql://u@b/d,mysql://u@c/d,mysql://u@d/d,"
                                      "mysql://u@e/d,mysql://u@f/d,mysql://u@g/d,mysql://u@h/d,"
                                      "mysql://u@i/d",
                                      &list, &n),
              FL_EINVAL); /* nine: over FL_DSN_LIST_MAX */
}

/* FL_MYSQL_URL naming a Galera cluster's nodes: tried in order, shown without secrets. */
static void test_mysql_hosts(void)
{
    static const char *const bad[] = {
        "mysql://u@h1,/db",
        "mysql://u@,h2/db",
        "mysql://u@h1,,h3/db",
        "mysql://u@h1,h2:0/db",
        "mysql://u@h1,h2/db?socket=/run/m.sock", /* a socket is one server */
        "mysql://u@a,b,c,d,e,f,g,h,i/db",        /* nine hosts */
        NULL,
    };
    struct fl_mysql_dsn d, copy;
    struct fl_buf addr;

    ASSERT_EQ(fl_dsn_parse_mysql("mysql://u:p,w@n1:3307,n2,[::1]:3309/db", &d), FL_OK);
    ASSERT_EQ(fl_dsn_mysql_hosts(&d), 3);
    ASSERT_STREQ(d.host, "n1");
    ASSERT_EQ(d.port, 3307);
    ASSERT_STREQ(d.password, "p,w"); /* a comma before the @ is the password's */
    ASSERT_STREQ(fl_dsn_mysql_host(&d, 1).host, "n2");
    ASSERT_EQ(fl_dsn_mysql_host(&d, 1).port, 0);
    ASSERT_STREQ(fl_dsn_mysql_host(&d, 2).host, "::1");
    ASSERT_EQ(fl_dsn_mysql_copy(&copy, &d), FL_OK);
    fl_dsn_mysql_free(&d);
    fl_buf_init(&addr, 256);
    fl_dsn_mysql_address(&copy, &addr);
    ASSERT_STREQ(addr.p, "n1:3307,n2:3306,::1:3309");
    fl_buf_free(&addr);
    fl_dsn_mysql_free(&copy);
    ASSERT_EQ(fl_dsn_parse_mysql("mysql://u@a,b,c,d,e,f,g,h/db", &d), FL_OK);
    ASSERT_EQ(fl_dsn_mysql_hosts(&d), FL_DSN_LIST_MAX);
    fl_dsn_mysql_free(&d);
    for (size_t i = 0; bad[i]; i++) {
        ASSERT_EQ(fl_dsn_parse_mysql(bad[i], &d), FL_EINVAL);
        ASSERT_TRUE(d.host == NULL && d.more == NULL); /* nothing left to free */
    }
}

static void test_redis_forms(void)
{
    struct fl_redis_dsn d;

    ASSERT_EQ(fl_dsn_parse_redis("redis://:pw@cache:6380/2", &d), FL_OK);
    ASSERT_STREQ(d.host, "cache");
    ASSERT_EQ(d.port, 6380);
    ASSERT_EQ(d.db, 2);
    ASSERT_STREQ(d.password, "pw");
    ASSERT_TRUE(d.master_name == NULL && d.n_sentinels == 0);
    fl_dsn_redis_free(&d);

    ASSERT_EQ(fl_dsn_parse_redis("unix:///run/redis.sock?db=3", &d), FL_OK);
    ASSERT_STREQ(d.socket, "/run/redis.sock");
    ASSERT_EQ(d.db, 3);
    fl_dsn_redis_free(&d);

    ASSERT_EQ(fl_dsn_parse_redis("redis-sentinel://s1:5000,s2,[::1]:5002/shop-main", &d), FL_OK);
    ASSERT_EQ(d.n_sentinels, 3);
    ASSERT_STREQ(d.sentinels[0].host, "s1");
    ASSERT_EQ(d.sentinels[0].port, 5000);
    ASSERT_STREQ(d.sentinels[1].host, "s2");
    ASSERT_EQ(d.sentinels[1].port, FL_DSN_SENTINEL_PORT);
    ASSERT_STREQ(d.sentinels[2].host, "::1");
    ASSERT_EQ(d.sentinels[2].port, 5002);
    ASSERT_STREQ(d.master_name, "shop-main");
    ASSERT_EQ(d.db, 0);
    ASSERT_TRUE(d.host == NULL && d.password == NULL);
    fl_dsn_redis_free(&d);

    ASSERT_EQ(fl_dsn_parse_redis("redis-sentinel://:s%40cret@s1:5000/m.1/4", &d), FL_OK);
    ASSERT_STREQ(d.password, "s@cret");
    ASSERT_EQ(d.n_sentinels, 1);
    ASSERT_STREQ(d.master_name, "m.1");
    ASSERT_EQ(d.db, 4);
    fl_dsn_redis_free(&d);

    static const char *const bad[] = {
        "redis-sentinel://s1:5000",             /* no master name */
        "redis-sentinel://s1:5000/",            /* empty master name */
        "redis-sentinel://s1:5000,/m",          /* empty sentinel */
        "redis-sentinel://s1:70000/m",          /* port */
        "redis-sentinel://s1/m/x",              /* db */
        "redis-sentinel://s1/m/1001",           /* db */
        "redis-sentinel://s1/m y",              /* master name */
        "redis-sentinel://a,b,c,d,e,f,g,h,i/m", /* nine sentinels */
        "redis://cache:6379/x",
        "unix://relative.sock",
        "http://cache",
        NULL,
    };
    for (size_t i = 0; bad[i]; i++) {
        ASSERT_EQ(fl_dsn_parse_redis(bad[i], &d), FL_EINVAL);
        ASSERT_TRUE(d.sentinels == NULL && d.master_name == NULL); /* nothing left to free */
    }
}

/* The configuration takes both new forms, shows them without secrets, and names a bad one. */
static void test_config_forms(void)
{
    struct fl_config c;
    struct fl_buf msg, dump;

    fl_buf_init(&msg, 1024);
    fl_buf_init(&dump, 8192);
    setenv("FL_MYSQL_READ_URL",
           "mysql://u:secret1@r1:3307/db,mysql://u:secret2@localhost/db?socket=/run/r2.sock", 1);
    setenv("FL_REDIS_URL", "redis-sentinel://:secret3@s1:5000,s2/main/1", 1);
    setenv("FL_MYSQL_URL", "mysql://u:secret4@n1,n2:3307,n3/db", 1);
    ASSERT_EQ(fl_config_load(&c, NULL, &msg), FL_OK);
    ASSERT_EQ(c.mysql.n_more, 2);
    ASSERT_EQ(c.n_mysql_read, 2);
    ASSERT_STREQ(c.mysql_read[1].socket, "/run/r2.sock");
    ASSERT_STREQ(c.redis.master_name, "main");
    fl_config_dump(&c, &dump);
    ASSERT_CONTAINS(dump.p, "FL_MYSQL_URL=mysql://u:********@n1,n2:3307,n3:3306/db\n");
    ASSERT_CONTAINS(dump.p, "FL_MYSQL_READ_URL=r1:3307,/run/r2.sock\n");
    ASSERT_CONTAINS(dump.p, "FL_REDIS_URL=redis-sentinel://:********@s1:5000,s2:26379/main/1\n");
    ASSERT_TRUE(strstr(dump.p, "secret") == NULL);
    fl_config_free(&c);

    setenv("FL_MYSQL_READ_URL", "mysql://u@r1/db,", 1);
    ASSERT_EQ(fl_config_load(&c, NULL, &msg), FL_EINVAL);
    ASSERT_CONTAINS(msg.p, "FL_MYSQL_READ_URL");
    unsetenv("FL_MYSQL_READ_URL");
    setenv("FL_REDIS_URL", "redis-sentinel://s1,s2", 1);
    fl_buf_reset(&msg);
    ASSERT_EQ(fl_config_load(&c, NULL, &msg), FL_EINVAL);
    ASSERT_CONTAINS(msg.p, "FL_REDIS_URL");
    unsetenv("FL_REDIS_URL");
    setenv("FL_MYSQL_URL", "mysql://u@n1,n2/db?socket=/run/m.sock", 1);
    fl_buf_reset(&msg);
    ASSERT_EQ(fl_config_load(&c, NULL, &msg), FL_EINVAL);
    ASSERT_CONTAINS(msg.p, "FL_MYSQL_URL");
    unsetenv("FL_MYSQL_URL");
    fl_buf_free(&msg);
    fl_buf_free(&dump);
}

int main(void)
{
    test_mysql_list();
    test_mysql_hosts();
    test_redis_forms();
    test_config_forms();
    return fl_test_done("test_dsn");
}
