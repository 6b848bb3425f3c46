/* SPDX-License-Identifier: MIT */
/*
 * Connections to servers that are not there, for the unit tests of the modules that talk
 * to MySQL, Redis or HTTP upstreams: a unix socket path that does not exist (no port to
 * race for), or a closed loopback port, so connecting fails at once and the module's
 * failure contract is what the test sees.
 */
#ifndef FL_TEST_OFFLINE_H
#define FL_TEST_OFFLINE_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

/*
 * A loopback TCP port nothing listens on: one the kernel just handed out and that was
 * closed again (0 when none could be had).
 */
static inline unsigned offline_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned port = 0;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

#endif
