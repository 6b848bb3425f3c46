/* SPDX-License-Identifier: MIT */
/*
 * Connections to servers that are not there, for the unit tests of the modules that talk
 * to MySQL or Redis: each points at a unix socket path that does not exist, so connecting
 * fails at once (no port to race for, nothing on the network) and the module's failure
 * contract is what the test sees.
 */
#ifndef FL_TEST_OFFLINE_H
#define FL_TEST_OFFLINE_H

#include "fl_db.h"
#include "fl_redis.h"

#define OFFLINE_SOCKET "/nonexistent/farmlokal-unit-test.sock"

static char offline_socket[] = OFFLINE_SOCKET, offline_user[] = "farmlokal",
            offline_database[] = "farmlokal";

/* A MySQL address whose socket does not exist (borrowed strings: copy it, do not free). */
static inline struct fl_mysql_dsn offline_mysql_dsn(void)
{
    return (struct fl_mysql_dsn){
        .user = offline_user, .database = offline_database, .socket = offline_socket};
}

/* A handle to a MySQL that is not there. Free with fl_db_free(). */
static inline struct fl_db *offline_db(void)
{
    struct fl_mysql_dsn dsn = offline_mysql_dsn();

    return fl_db_new(&dsn, 1);
}

/* A handle to a Redis that is not there. Free with fl_redis_free(). */
static inline struct fl_redis *offline_redis(void)
{
    struct fl_redis_dsn dsn = {.socket = offline_socket};

    return fl_redis_new(&dsn, 100);
}

#endif
