/* SPDX-License-Identifier: MIT */
/*
 * Connection addresses: parses the URL forms of FL_MYSQL_URL, FL_MYSQL_READ_URL (a comma
 * list) and FL_REDIS_URL (redis://, unix://, redis-sentinel://) into plain structs. It only
 * parses: it opens nothing, reads no environment and never logs (a URL may hold a password).
 */
#ifndef FL_DSN_H
#define FL_DSN_H

#include <stddef.h>

#include "fl_buf.h"
#include "fl_err.h"

/* The most addresses one comma list may hold (replicas, sentinels). */
#define FL_DSN_LIST_MAX 8

/* The port a sentinel listens on when its address gives none. */
#define FL_DSN_SENTINEL_PORT 26379

/* A server's address: a sentinel, or a further host of a MySQL URL. */
struct fl_dsn_host {
    char *host; /* owned */
    unsigned port;
};

struct fl_mysql_dsn {
    char *host;               /* owned; NULL when socket is set and host was not given */
    unsigned port;            /* 0 = default 3306 */
    char *user;               /* owned */
    char *password;           /* owned, may be NULL; never logged */
    char *database;           /* owned */
    char *socket;             /* owned, NULL for TCP */
    struct fl_dsn_host *more; /* owned array of n_more: the hosts after the first, in order */
    size_t n_more;            /* 0 for one host; at most FL_DSN_LIST_MAX - 1 */
};

struct fl_redis_dsn {
    char *host;        /* owned; NULL for a unix socket or under Sentinel */
    unsigned port;     /* TCP port */
    char *socket;      /* owned unix socket path, or NULL */
    char *password;    /* owned, may be NULL; never logged (the data nodes', not the sentinels') */
    unsigned db;       /* database number */
    char *master_name; /* owned; set for redis-sentinel://, else NULL */
    struct fl_dsn_host *sentinels; /* owned array of n_sentinels, in the URL's order */
    size_t n_sentinels;            /* 1..FL_DSN_LIST_MAX under Sentinel, else 0 */
};

/*
 * Parses mysql://user[:pass]@host[:port][,host[:port]...]/db[?socket=/path] (also
 * mariadb://) into out: 1 to FL_DSN_LIST_MAX hosts (a Galera cluster's nodes, tried in
 * order), and a socket only with one host. Returns FL_OK, FL_EINVAL (out then holds nothing
 * to free).
 */
enum fl_err fl_dsn_parse_mysql(const char *url, struct fl_mysql_dsn *out);

/*
 * Parses a comma list of 1..FL_DSN_LIST_MAX MySQL URLs (a comma inside one is written %2C)
 * into *out, an owned array of *n. Returns FL_OK, FL_EINVAL when an element is malformed
 * or empty or there are too many, FL_ENOMEM; on failure nothing is left to free.
 */
enum fl_err fl_dsn_parse_mysql_list(const char *urls, struct fl_mysql_dsn **out, size_t *n);

/* Frees what d owns and zeroes it. Accepts an all-zero d. */
void fl_dsn_mysql_free(struct fl_mysql_dsn *d);

/* Frees an array from fl_dsn_parse_mysql_list. Accepts NULL. */
void fl_dsn_mysql_list_free(struct fl_mysql_dsn *list, size_t n);

/*
 * Parses redis://[[user]:pass@]host[:port][/db], unix:///path[?db=N], or
 * redis-sentinel://[[user]:pass@]host[:port],host[:port].../master-name[/db] (1 to
 * FL_DSN_LIST_MAX sentinels, port FL_DSN_SENTINEL_PORT by default; master-name of
 * [A-Za-z0-9._-], at most 64 bytes). Returns FL_OK, FL_EINVAL (nothing to free).
 */
enum fl_err fl_dsn_parse_redis(const char *url, struct fl_redis_dsn *out);

/* Frees what d owns and zeroes it. Accepts an all-zero d. */
void fl_dsn_redis_free(struct fl_redis_dsn *d);

/* Deep-copy src into dst: FL_OK, or FL_ENOMEM (dst then holds nothing to free). The one copy
 * of an address: each connection handle keeps its own. */
enum fl_err fl_dsn_mysql_copy(struct fl_mysql_dsn *dst, const struct fl_mysql_dsn *src);
enum fl_err fl_dsn_redis_copy(struct fl_redis_dsn *dst, const struct fl_redis_dsn *src);

/* How many hosts d names (1 + d->n_more). */
size_t fl_dsn_mysql_hosts(const struct fl_mysql_dsn *d);

/* Host i of d (i < fl_dsn_mysql_hosts(d); 0 is host and port), borrowed from d. */
struct fl_dsn_host fl_dsn_mysql_host(const struct fl_mysql_dsn *d, size_t i);

/*
 * Appends where host i of d points, without credentials: "host:port" (port 3306 when the
 * URL gave none) or, for a one-host d with a socket, the socket path.
 */
void fl_dsn_mysql_host_address(const struct fl_mysql_dsn *d, size_t i, struct fl_buf *out);

/* Appends where d points, without credentials: every host's address, comma-separated. */
void fl_dsn_mysql_address(const struct fl_mysql_dsn *d, struct fl_buf *out);

#endif
