/* SPDX-License-Identifier: MIT */
/*
 * URL parsing for connection addresses. Every parser works on the caller's string without
 * changing it, percent-decodes user, password, database and socket path, and on failure
 * frees what it had built, so the caller has nothing to clean up.
 */
#include "fl_dsn.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fl_str.h"

#define MASTER_NAME_MAX_BYTES 64
#define REDIS_DB_MAX          1000

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Percent-decodes s[0..n) into a new string (user and password in URLs); NULL if malformed. */
static char *url_unescape(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    size_t len;

    if (p == NULL)
        return NULL;
    if (fl_str_unescape((struct fl_str){s, n}, false, p, &len) != FL_OK) {
        free(p);
        return NULL;
    }
    p[len] = '\0';
    return p;
}

/* Splits "user[:pass]@" off the front of an authority; both parts percent-decoded. */
static enum fl_err split_userinfo(const char **p, const char *end, char **user, char **pass)
{
    const char *at = memchr(*p, '@', (size_t)(end - *p)), *colon;

    *user = *pass = NULL;
    if (at == NULL)
        return FL_OK;
    colon = memchr(*p, ':', (size_t)(at - *p));
    *user = url_unescape(*p, (size_t)((colon ? colon : at) - *p));
    if (*user == NULL)
        return FL_EINVAL;
    if (colon && (*pass = url_unescape(colon + 1, (size_t)(at - colon - 1))) == NULL)
        return FL_EINVAL;
    *p = at + 1;
    return FL_OK;
}

/* Parses "host[:port]" or "[v6][:port]" in [p, end). */
static enum fl_err split_hostport(const char *p, const char *end, char **host, unsigned *port)
{
    const char *colon = NULL, *hend = end;
    uint64_t u;

    *host = NULL;
    if (p < end && *p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (rb == NULL)
            return FL_EINVAL;
        p++;
        hend = rb;
        if (rb + 1 < end) {
            if (rb[1] != ':')
                return FL_EINVAL;
            colon = rb + 1;
        }
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        if (colon)
            hend = colon;
    }
    if (colon) {
        if (fl_str_to_u64((struct fl_str){colon + 1, (size_t)(end - colon - 1)}, 1, 65535, &u))
            return FL_EINVAL;
        *port = (unsigned)u;
    }
    if (hend > p && (*host = dup_n(p, (size_t)(hend - p))) == NULL)
        return FL_ENOMEM;
    return FL_OK;
}

/* Frees a list of n hosts and their names. */
static void hosts_free(struct fl_dsn_host *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i].host);
    free(list);
}

void fl_dsn_mysql_free(struct fl_mysql_dsn *d)
{
    free(d->host);
    free(d->user);
    free(d->password);
    free(d->database);
    free(d->socket);
    hosts_free(d->more, d->n_more);
    memset(d, 0, sizeof(*d));
}

/*
 * Parses "host[:port][,host[:port]...]" in [p, end): the first into d->host and d->port
 * (its host may be empty: the socket form), the rest, which must name a host, into d->more.
 */
static enum fl_err parse_mysql_hosts(const char *p, const char *end, struct fl_mysql_dsn *d)
{
    const char *comma = memchr(p, ',', (size_t)(end - p));

    if (split_hostport(p, comma ? comma : end, &d->host, &d->port) != FL_OK)
        return FL_EINVAL;
    if (comma == NULL)
        return FL_OK;
    d->more = calloc(FL_DSN_LIST_MAX - 1, sizeof(*d->more));
    if (d->more == NULL || d->host == NULL)
        return FL_EINVAL;
    for (const char *h = comma + 1; h <= end; h = comma + 1) {
        struct fl_dsn_host *m = &d->more[d->n_more];
        comma = memchr(h, ',', (size_t)(end - h));
        comma = comma ? comma : end;
        if (d->n_more == FL_DSN_LIST_MAX - 1)
            return FL_EINVAL;
        d->n_more++;
        if (split_hostport(h, comma, &m->host, &m->port) != FL_OK || m->host == NULL)
            return FL_EINVAL;
    }
    return FL_OK;
}

/* mysql://user[:pass]@host[:port]/db[?socket=/path] */
enum fl_err fl_dsn_parse_mysql(const char *url, struct fl_mysql_dsn *d)
{
    const char *p = url, *end, *slash, *q;

    memset(d, 0, sizeof(*d));
    if (strncmp(p, "mysql://", 8) != 0 && strncmp(p, "mariadb://", 10) != 0)
        return FL_EINVAL;
    p = strchr(p, '/') + 2;
    q = strchr(p, '?');
    end = q ? q : p + strlen(p);
    slash = memchr(p, '/', (size_t)(end - p));
    if (slash == NULL || slash + 1 >= end)
        goto free_parts; /* the database name is required */
    if (split_userinfo(&p, slash, &d->user, &d->password) != FL_OK)
        goto free_parts;
    if (parse_mysql_hosts(p, slash, d) != FL_OK)
        goto free_parts;
    if ((d->database = url_unescape(slash + 1, (size_t)(end - slash - 1))) == NULL)
        goto free_parts;
    if (q) {
        if (strncmp(q, "?socket=", 8) != 0 || q[8] != '/')
            goto free_parts;
        if ((d->socket = url_unescape(q + 8, strlen(q + 8))) == NULL)
            goto free_parts;
    }
    if (d->user == NULL && (d->user = dup_n("root", 4)) == NULL)
        goto free_parts;
    if ((d->host == NULL && d->socket == NULL) || (d->socket && d->n_more))
        goto free_parts;
    return FL_OK;
free_parts:
    fl_dsn_mysql_free(d);
    return FL_EINVAL;
}

void fl_dsn_redis_free(struct fl_redis_dsn *d)
{
    free(d->host);
    free(d->socket);
    free(d->password);
    free(d->master_name);
    hosts_free(d->sentinels, d->n_sentinels);
    memset(d, 0, sizeof(*d));
}

/* *dst = a copy of src (NULL stays NULL); false when out of memory. */
static bool copy_str(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return src == NULL || *dst != NULL;
}

/* Copies n hosts into a new *dst (NULL for none); false when out of memory, with *copied
 * of them in *dst to free. */
static bool copy_hosts(struct fl_dsn_host **dst, size_t *copied, const struct fl_dsn_host *src,
                       size_t n)
{
    *copied = 0;
    if (n && (*dst = calloc(n, sizeof(**dst))) == NULL)
        return false;
    for (; *copied < n; (*copied)++) {
        (*dst)[*copied].port = src[*copied].port;
        if (!copy_str(&(*dst)[*copied].host, src[*copied].host))
            return false;
    }
    return true;
}

enum fl_err fl_dsn_mysql_copy(struct fl_mysql_dsn *dst, const struct fl_mysql_dsn *src)
{
    *dst = (struct fl_mysql_dsn){.port = src->port};
    if (copy_str(&dst->host, src->host) && copy_str(&dst->user, src->user) &&
        copy_str(&dst->password, src->password) && copy_str(&dst->database, src->database) &&
        copy_str(&dst->socket, src->socket) &&
        copy_hosts(&dst->more, &dst->n_more, src->more, src->n_more))
        return FL_OK;
    fl_dsn_mysql_free(dst);
    return FL_ENOMEM;
}

enum fl_err fl_dsn_redis_copy(struct fl_redis_dsn *dst, const struct fl_redis_dsn *src)
{
    *dst = (struct fl_redis_dsn){.port = src->port, .db = src->db};
    if (copy_str(&dst->host, src->host) && copy_str(&dst->socket, src->socket) &&
        copy_str(&dst->password, src->password) && copy_str(&dst->master_name, src->master_name) &&
        copy_hosts(&dst->sentinels, &dst->n_sentinels, src->sentinels, src->n_sentinels))
        return FL_OK;
    fl_dsn_redis_free(dst);
    return FL_ENOMEM;
}

/* Parses a database number in [s, end), which must not be empty. */
static enum fl_err parse_db(const char *s, const char *end, unsigned *db)
{
    uint64_t u;

    if (fl_str_to_u64((struct fl_str){s, (size_t)(end - s)}, 0, REDIS_DB_MAX, &u) != FL_OK)
        return FL_EINVAL;
    *db = (unsigned)u;
    return FL_OK;
}

/* unix:///path[?db=N] */
static enum fl_err parse_unix(const char *url, struct fl_redis_dsn *d)
{
    const char *path = url + 7, *q = strchr(path, '?');
    size_t n = q ? (size_t)(q - path) : strlen(path);

    if (*path != '/' || (d->socket = dup_n(path, n)) == NULL)
        return FL_EINVAL;
    if (q && (strncmp(q, "?db=", 4) != 0 || parse_db(q + 4, q + strlen(q), &d->db) != FL_OK))
        return FL_EINVAL;
    return FL_OK;
}

/*
 * Takes "[[user]:pass@]" off the front of [*p, end) into d->password: "redis://:pass@host"
 * has the password after the colon, and a lone word is a password too (Redis before ACLs).
 */
static enum fl_err split_password(const char **p, const char *end, struct fl_redis_dsn *d)
{
    char *user = NULL;

    if (split_userinfo(p, end, &user, &d->password) != FL_OK) {
        free(user);
        return FL_EINVAL;
    }
    if (d->password == NULL && user && *user) {
        d->password = user;
        user = NULL;
    }
    free(user);
    return FL_OK;
}

/* The part after "redis://": [[user]:pass@]host[:port][/db] */
static enum fl_err parse_tcp(const char *p, struct fl_redis_dsn *d)
{
    const char *end = p + strlen(p), *slash = memchr(p, '/', (size_t)(end - p));
    const char *hend = slash ? slash : end;

    if (split_password(&p, hend, d) != FL_OK)
        return FL_EINVAL;
    if (split_hostport(p, hend, &d->host, &d->port) != FL_OK || d->host == NULL)
        return FL_EINVAL;
    if (slash && slash + 1 < end && parse_db(slash + 1, end, &d->db) != FL_OK)
        return FL_EINVAL;
    return FL_OK;
}

static bool master_name_valid(const char *p, size_t n)
{
    if (n == 0 || n > MASTER_NAME_MAX_BYTES)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* The part after "redis-sentinel://": [[user]:pass@]h[:p],h[:p].../master-name[/db] */
static enum fl_err parse_sentinel(const char *p, struct fl_redis_dsn *d)
{
    const char *end = p + strlen(p), *slash = memchr(p, '/', (size_t)(end - p)), *name_end;

    if (slash == NULL || split_password(&p, slash, d) != FL_OK)
        return FL_EINVAL;
    d->sentinels = calloc(FL_DSN_LIST_MAX, sizeof(*d->sentinels));
    if (d->sentinels == NULL)
        return FL_ENOMEM;
    for (const char *h = p, *comma; h <= slash; h = comma + 1) {
        struct fl_dsn_host *s = &d->sentinels[d->n_sentinels];
        comma = memchr(h, ',', (size_t)(slash - h));
        comma = comma ? comma : slash;
        if (d->n_sentinels == FL_DSN_LIST_MAX)
            return FL_EINVAL;
        d->n_sentinels++;
        s->port = FL_DSN_SENTINEL_PORT;
        if (split_hostport(h, comma, &s->host, &s->port) != FL_OK || s->host == NULL)
            return FL_EINVAL;
    }
    name_end = memchr(slash + 1, '/', (size_t)(end - slash - 1));
    name_end = name_end ? name_end : end;
    if (!master_name_valid(slash + 1, (size_t)(name_end - slash - 1)))
        return FL_EINVAL;
    if ((d->master_name = dup_n(slash + 1, (size_t)(name_end - slash - 1))) == NULL)
        return FL_ENOMEM;
    if (name_end + 1 < end && parse_db(name_end + 1, end, &d->db) != FL_OK)
        return FL_EINVAL;
    return FL_OK;
}

enum fl_err fl_dsn_parse_redis(const char *url, struct fl_redis_dsn *d)
{
    enum fl_err err = FL_EINVAL;

    memset(d, 0, sizeof(*d));
    d->port = 6379;
    if (strncmp(url, "unix://", 7) == 0)
        err = parse_unix(url, d);
    else if (strncmp(url, "redis://", 8) == 0)
        err = parse_tcp(url + 8, d);
    else if (strncmp(url, "redis-sentinel://", 17) == 0)
        err = parse_sentinel(url + 17, d);
    if (err != FL_OK)
        fl_dsn_redis_free(d);
    return err == FL_ENOMEM ? FL_ENOMEM : err ? FL_EINVAL : FL_OK;
}

void fl_dsn_mysql_list_free(struct fl_mysql_dsn *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        fl_dsn_mysql_free(&list[i]);
    free(list);
}

enum fl_err fl_dsn_parse_mysql_list(const char *urls, struct fl_mysql_dsn **out, size_t *n)
{
    struct fl_mysql_dsn *list = calloc(FL_DSN_LIST_MAX, sizeof(*list));
    enum fl_err err = FL_OK;
    size_t count = 0;

    if (list == NULL)
        return FL_ENOMEM;
    for (const char *p = urls, *comma; err == FL_OK; p = comma + 1) {
        char *one;
        comma = strchr(p, ',');
        if (count == FL_DSN_LIST_MAX) {
            err = FL_EINVAL;
            break;
        }
        one = dup_n(p, comma ? (size_t)(comma - p) : strlen(p));
        err = one ? fl_dsn_parse_mysql(one, &list[count]) : FL_ENOMEM;
        free(one);
        count += err == FL_OK;
        if (comma == NULL)
            break;
    }
    if (err != FL_OK) {
        fl_dsn_mysql_list_free(list, count);
        return err;
    }
    *out = list;
    *n = count;
    return FL_OK;
}

size_t fl_dsn_mysql_hosts(const struct fl_mysql_dsn *d)
{
    return 1 + d->n_more;
}

struct fl_dsn_host fl_dsn_mysql_host(const struct fl_mysql_dsn *d, size_t i)
{
    return i == 0 ? (struct fl_dsn_host){d->host, d->port} : d->more[i - 1];
}

void fl_dsn_mysql_host_address(const struct fl_mysql_dsn *d, size_t i, struct fl_buf *out)
{
    struct fl_dsn_host h = fl_dsn_mysql_host(d, i);

    if (d->socket)
        fl_buf_puts(out, d->socket);
    else
        fl_buf_appendf(out, "%s:%u", h.host, h.port ? h.port : 3306);
}

void fl_dsn_mysql_address(const struct fl_mysql_dsn *d, struct fl_buf *out)
{
    for (size_t i = 0; i < fl_dsn_mysql_hosts(d); i++) {
        if (i)
            fl_buf_putc(out, ',');
        fl_dsn_mysql_host_address(d, i, out);
    }
}
