/* SPDX-License-Identifier: MIT */
/*
 * Configuration loading. Values are looked up by name in the environment, then in the
 * file's lines; each setting has one parser, and the first bad value ends loading with a
 * message naming the variable (the value itself is not echoed, it may be a secret, unless it
 * is a malformed number).
 */
#include "fl_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fl_config_check.h"
#include "fl_config_file.h"
#include "fl_crypto.h"

#define USERINFO_HINT                                                                              \
    "has a user or password with a reserved character: percent-encode it ('@' as %40, '/' as "     \
    "%2F, '?' as %3F, '#' as %23, '%' as %25)"

extern char **environ;

struct loader {
    struct fl_buf file; /* the --config file's KEY=VALUE lines, NUL-separated */
    struct fl_buf *errmsg;
    struct fl_config_names names; /* every name looked up: the known keys */
};

/* name is a string literal: it is remembered as a known key. */
static const char *lookup(struct loader *l, const char *name)
{
    const char *v = getenv(name);
    size_t n = strlen(name);

    fl_config_names_add(&l->names, name);
    if (v)
        return v;
    for (size_t i = 0; i < l->file.len;) {
        const char *line = l->file.p + i;
        size_t len = strlen(line);
        if (len > n && line[n] == '=' && memcmp(line, name, n) == 0)
            v = line + n + 1; /* later lines win, as in a shell */
        i += len + 1;
    }
    return v;
}

static enum fl_err bad(struct loader *l, const char *name, const char *why)
{
    fl_buf_reset(l->errmsg);
    fl_buf_appendf(l->errmsg, "configuration: %s %s", name, why);
    return FL_EINVAL;
}

static enum fl_err get_str(struct loader *l, const char *name, const char *fallback, char **out)
{
    const char *v = lookup(l, name);

    if (v == NULL || *v == '\0')
        v = fallback;
    *out = NULL;
    if (v == NULL)
        return FL_OK;
    if (!fl_utf8_valid(fl_str_c(v)))
        return bad(l, name, "is not valid UTF-8");
    *out = strdup(v);
    return *out ? FL_OK : FL_ENOMEM;
}

static enum fl_err get_uint(struct loader *l, const char *name, unsigned def, unsigned min,
                            unsigned max, unsigned *out)
{
    const char *v = lookup(l, name);
    uint64_t u;

    if (v == NULL || *v == '\0') {
        *out = def;
        return FL_OK;
    }
    if (fl_str_to_u64(fl_str_c(v), min, max, &u) != FL_OK) {
        char why[160];
        bool printable = strlen(v) <= 32;
        for (const char *c = v; printable && *c; c++)
            printable = *c > 0x20 && *c < 0x7f && *c != '"';
        /* A number is no secret: echoing it shows a stray unit or quote at once. */
        snprintf(why, sizeof(why), "must be an integer from %u to %u%s%s%s", min, max,
                 printable ? ", not \"" : "", printable ? v : "", printable ? "\"" : "");
        return bad(l, name, why);
    }
    *out = (unsigned)u;
    return FL_OK;
}

static enum fl_err get_mysql(struct loader *l, const char *name, struct fl_mysql_dsn *d)
{
    const char *v = lookup(l, name);
    enum fl_err err;

    if (v == NULL || *v == '\0') {
        /* The original's DB_* variables, then the default. */
        char url[1024];
        const char *h = lookup(l, "DB_HOST"), *port = lookup(l, "DB_PORT"),
                   *user = lookup(l, "DB_USER"), *name_ = lookup(l, "DB_NAME");
        if (h == NULL && port == NULL && user == NULL && name_ == NULL) {
            v = "mysql://farmlokal@127.0.0.1:3306/farmlokal";
        } else {
            snprintf(url, sizeof(url), "mysql://x@%s:%s/%s", h ? h : "127.0.0.1",
                     port ? port : "3306", name_ ? name_ : "farmlokal");
            if (fl_dsn_parse_mysql(url, d) != FL_OK)
                return bad(l, "DB_HOST/DB_PORT/DB_NAME", "do not form a valid MySQL address");
            free(d->user);
            d->user = strdup(user ? user : "root");
            v = lookup(l, "DB_PASSWORD");
            if (v && *v && (d->password = strdup(v)) == NULL)
                return FL_ENOMEM;
            return d->user ? FL_OK : FL_ENOMEM;
        }
    }
    if (fl_config_userinfo_unencoded(v))
        return bad(l, name, USERINFO_HINT);
    err = fl_dsn_parse_mysql(v, d);
    if (err != FL_OK)
        return bad(l, name,
                   "must be mysql://user:pass@host:port[,host:port...]/db (1 to 8 hosts) or "
                   "mysql://user:pass@localhost/db?socket=/path");
    return FL_OK;
}

/* FL_MYSQL_READ_URL: the replicas, a comma list; unset or empty for none. */
static enum fl_err get_mysql_read(struct loader *l, struct fl_config *cfg)
{
    const char *v = lookup(l, "FL_MYSQL_READ_URL");
    enum fl_err err;

    if (v == NULL || *v == '\0')
        return FL_OK;
    if (fl_config_userinfo_unencoded(v))
        return bad(l, "FL_MYSQL_READ_URL", USERINFO_HINT);
    err = fl_dsn_parse_mysql_list(v, &cfg->mysql_read, &cfg->n_mysql_read);
    if (err == FL_EINVAL)
        return bad(l, "FL_MYSQL_READ_URL", "must be a comma list of 1 to 8 mysql:// URLs");
    return err;
}

static enum fl_err get_redis(struct loader *l, struct fl_redis_dsn *d)
{
    const char *v = lookup(l, "FL_REDIS_URL"), *name = "FL_REDIS_URL";
    char url[1024];
    enum fl_err err;

    if (v == NULL || *v == '\0') {
        name = "REDIS_URL";
        v = lookup(l, name);
    }
    if (v == NULL || *v == '\0') {
        const char *h = lookup(l, "REDIS_HOST"), *port = lookup(l, "REDIS_PORT");
        name = "REDIS_HOST/REDIS_PORT";
        snprintf(url, sizeof(url), "redis://%s:%s/0", h && *h ? h : "127.0.0.1",
                 port && *port ? port : "6379");
        v = url;
    }
    if (fl_config_userinfo_unencoded(v))
        return bad(l, name, USERINFO_HINT);
    err = fl_dsn_parse_redis(v, d);
    if (err == FL_EINVAL)
        return bad(l, name,
                   "must be redis://[:pass@]host:port[/db], unix:///path or "
                   "redis-sentinel://host:port,host:port/master-name[/db]");
    return err;
}

static enum fl_err get_http_url(struct loader *l, const char *name, const char *fallback,
                                char **out)
{
    enum fl_err err = get_str(l, name, fallback ? lookup(l, fallback) : NULL, out);
    size_t n;

    if (err != FL_OK || *out == NULL)
        return err;
    if (strncmp(*out, "http://", 7) != 0 && strncmp(*out, "https://", 8) != 0) {
        free(*out);
        *out = NULL;
        return bad(l, name, "must be an http:// or https:// URL");
    }
    n = strlen(*out);
    while (n > 8 && (*out)[n - 1] == '/')
        (*out)[--n] = '\0';
    return FL_OK;
}

static enum fl_err parse_cidr(const char *s, size_t n, struct fl_cidr *c)
{
    char text[64];
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    uint64_t bits;

    if (alen == 0 || alen >= sizeof(text))
        return FL_EINVAL;
    memcpy(text, s, alen);
    text[alen] = '\0';
    memset(c, 0, sizeof(*c));
    if (inet_pton(AF_INET, text, c->addr) == 1) {
        c->family = AF_INET;
        c->prefix_bits = 32;
    } else if (inet_pton(AF_INET6, text, c->addr) == 1) {
        c->family = AF_INET6;
        c->prefix_bits = 128;
    } else {
        return FL_EINVAL;
    }
    if (slash) {
        if (fl_str_to_u64((struct fl_str){slash + 1, n - alen - 1}, 0, c->prefix_bits, &bits))
            return FL_EINVAL;
        c->prefix_bits = (unsigned)bits;
    }
    return FL_OK;
}

static enum fl_err get_proxies(struct loader *l, struct fl_config *cfg)
{
    const char *v = lookup(l, "FL_TRUSTED_PROXIES");
    size_t n = 1;

    if (v == NULL || *v == '\0')
        return FL_OK;
    for (const char *p = v; *p; p++)
        n += *p == ',';
    cfg->trusted_proxies = calloc(n, sizeof(*cfg->trusted_proxies));
    if (cfg->trusted_proxies == NULL)
        return FL_ENOMEM;
    for (const char *p = v; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && *p == ' ')
            p++, len--;
        while (len && p[len - 1] == ' ')
            len--;
        if (parse_cidr(p, len, &cfg->trusted_proxies[cfg->n_trusted_proxies]) != FL_OK)
            return bad(l, "FL_TRUSTED_PROXIES",
                       "must be a comma-separated list of IP addresses or CIDR ranges");
        cfg->n_trusted_proxies++;
        p = e ? e + 1 : p + len;
    }
    return FL_OK;
}

static enum fl_err get_webhook_secret(struct loader *l, struct fl_config *cfg)
{
    const char *v = lookup(l, "FL_WEBHOOK_SECRET");
    struct fl_buf key;
    enum fl_err err;

    if (v == NULL || *v == '\0')
        return FL_OK;
    if (strncmp(v, "whsec_", 6) != 0)
        return bad(l, "FL_WEBHOOK_SECRET", "must be whsec_ followed by base64");
    fl_buf_init(&key, 1024);
    err = fl_crypto_base64_decode(fl_str_c(v + 6), &key);
    if (err != FL_OK || key.len < 16) {
        fl_buf_free(&key);
        return bad(l, "FL_WEBHOOK_SECRET",
                   "must be whsec_ followed by base64 of at least 16 bytes");
    }
    cfg->webhook_secret = key.p;
    cfg->webhook_secret_len = key.len;
    return FL_OK;
}

static enum fl_err get_base_path(struct loader *l, struct fl_config *cfg)
{
    enum fl_err err = get_str(l, "FL_BASE_PATH", "", &cfg->base_path);
    size_t n;

    if (err != FL_OK)
        return err;
    n = strlen(cfg->base_path);
    while (n > 0 && cfg->base_path[n - 1] == '/')
        cfg->base_path[--n] = '\0';
    if (n > 0 && cfg->base_path[0] != '/')
        return bad(l, "FL_BASE_PATH", "must start with '/' (for example /api)");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)cfg->base_path[i];
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '%')
            return bad(l, "FL_BASE_PATH", "must be a plain URL path");
    }
    return FL_OK;
}

static enum fl_err load(struct loader *l, struct fl_config *cfg)
{
    const char *lv;
    enum fl_err err;

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        if ((err = (expr)) != FL_OK)                                                               \
            return err;                                                                            \
    } while (0)
    TRY(get_mysql(l, "FL_MYSQL_URL", &cfg->mysql));
    TRY(get_mysql_read(l, cfg));
    TRY(get_redis(l, &cfg->redis));
    TRY(get_base_path(l, cfg));
    TRY(get_uint(l, "FL_CACHE_TTL", 60, 1, 86400, &cfg->cache_ttl_s));
    TRY(get_uint(l, "FL_RATE_LIMIT", 100, 0, 1000000, &cfg->rate_limit));
    TRY(get_uint(l, "FL_RATE_BURST", cfg->rate_limit * 2 > 200 ? cfg->rate_limit * 2 : 200, 1,
                 10000000, &cfg->rate_burst));
    TRY(get_proxies(l, cfg));
    TRY(get_http_url(l, "FL_OAUTH_TOKEN_URL", NULL, &cfg->oauth_token_url));
    TRY(get_str(l, "FL_OAUTH_CLIENT_ID", NULL, &cfg->oauth_client_id));
    TRY(get_str(l, "FL_OAUTH_CLIENT_SECRET", NULL, &cfg->oauth_client_secret));
    TRY(get_str(l, "FL_OAUTH_SCOPE", NULL, &cfg->oauth_scope));
    TRY(get_http_url(l, "FL_API_A_URL", "EXTERNAL_API_URL", &cfg->api_a_url));
    TRY(get_uint(l, "FL_API_A_TIMEOUT_MS", 2000, 10, 60000, &cfg->api_a_timeout_ms));
    TRY(get_uint(l, "FL_API_A_RETRIES", 3, 0, 10, &cfg->api_a_retries));
    TRY(get_uint(l, "FL_API_A_DEADLINE_MS", 5000, 10, 120000, &cfg->api_a_deadline_ms));
    TRY(get_uint(l, "FL_API_A_BREAKER_OPEN_MS", 30000, 100, 3600000, &cfg->api_a_breaker_open_ms));
    TRY(get_uint(l, "FL_API_A_MAX_INFLIGHT", 0, 0, 65535, &cfg->api_a_max_inflight));
    TRY(get_uint(l, "FL_DB_READ_TIMEOUT_MS", 500, 10, 60000, &cfg->db_read_timeout_ms));
    TRY(get_uint(l, "FL_CACHE_STALE_S", 600, 0, 86400, &cfg->cache_stale_s));
    TRY(get_uint(l, "FL_PLAN_SAMPLE_S", 300, 1, 86400, &cfg->plan_sample_s));
    TRY(get_uint(l, "FL_QUEUE_BUDGET_MS", 2000, 0, 600000, &cfg->queue_budget_ms));
    TRY(get_uint(l, "FL_LISTEN_BACKLOG", 1024, 1, 65535, &cfg->listen_backlog));
    TRY(get_http_url(l, "FL_API_B_URL", NULL, &cfg->api_b_url));
    TRY(get_http_url(l, "FL_PUBLIC_URL", NULL, &cfg->public_url));
    TRY(get_webhook_secret(l, cfg));
    TRY(get_str(l, "FL_ADMIN_TOKEN", NULL, &cfg->admin_token));
    TRY(get_str(l, "FL_METRICS_DIR", NULL, &cfg->metrics_dir));
    TRY(get_uint(l, "FL_WORKERS", FL_CONFIG_WORKERS_DEFAULT, 1, FL_CONFIG_WORKERS_MAX,
                 &cfg->workers));
    TRY(get_str(l, "FL_LOG_FILE", NULL, &cfg->log_file));
#undef TRY
    if (cfg->admin_token && strlen(cfg->admin_token) < 16)
        return bad(l, "FL_ADMIN_TOKEN", "must be at least 16 characters");
    if (cfg->oauth_token_url && (cfg->oauth_client_id == NULL || cfg->oauth_client_secret == NULL))
        return bad(l, "FL_OAUTH_CLIENT_ID",
                   "and FL_OAUTH_CLIENT_SECRET are required with FL_OAUTH_TOKEN_URL");
    lv = lookup(l, "FL_LOG_LEVEL");
    cfg->log_level = FL_LOG_INFO;
    if (lv && *lv && fl_log_parse_level(fl_str_c(lv), &cfg->log_level) != FL_OK)
        return bad(l, "FL_LOG_LEVEL", "must be debug, info, warn or error");
    return FL_OK;
}

enum fl_err fl_config_load(struct fl_config *cfg, const char *file, struct fl_buf *errmsg)
{
    struct loader l = {.errmsg = errmsg};
    struct fl_buf warnings;
    enum fl_err err;

    memset(cfg, 0, sizeof(*cfg));
    fl_buf_init(&l.file, FL_CONFIG_FILE_MAX_BYTES);
    fl_buf_init(&warnings, FL_CONFIG_FILE_MAX_BYTES);
    err = file ? fl_config_file_read(file, &l.file, errmsg) : FL_OK;
    if (err == FL_OK)
        err = load(&l, cfg);
    if (err == FL_OK)
        err =
            fl_config_check_names(&l.names, file, l.file.p, l.file.len, environ, errmsg, &warnings);
    if (err == FL_OK && warnings.len) {
        cfg->warnings = warnings.p; /* handed over */
        fl_buf_init(&warnings, 0);
    }
    fl_buf_free(&warnings);
    if (err == FL_ENOMEM && errmsg->len == 0)
        fl_buf_puts(errmsg, "configuration: out of memory");
    fl_buf_free(&l.file);
    if (err != FL_OK)
        fl_config_free(cfg);
    return err;
}

void fl_config_free(struct fl_config *cfg)
{
    if (cfg == NULL)
        return;
    fl_dsn_mysql_free(&cfg->mysql);
    fl_dsn_mysql_list_free(cfg->mysql_read, cfg->n_mysql_read);
    fl_dsn_redis_free(&cfg->redis);
    free(cfg->base_path);
    free(cfg->trusted_proxies);
    free(cfg->oauth_token_url);
    free(cfg->oauth_client_id);
    free(cfg->oauth_client_secret);
    free(cfg->oauth_scope);
    free(cfg->api_a_url);
    free(cfg->api_b_url);
    free(cfg->public_url);
    free(cfg->webhook_secret);
    free(cfg->admin_token);
    free(cfg->metrics_dir);
    free(cfg->log_file);
    free(cfg->warnings);
    memset(cfg, 0, sizeof(*cfg));
}

static const char *or_unset(const char *s)
{
    return s ? s : "";
}

static const char *masked(const void *secret)
{
    return secret ? "********" : "";
}

/* The ranges as an admin would write them: "10.0.0.0/8,::1/128". */
static void dump_proxies(const struct fl_config *cfg, struct fl_buf *out)
{
    fl_buf_puts(out, "FL_TRUSTED_PROXIES=");
    for (size_t i = 0; i < cfg->n_trusted_proxies; i++) {
        const struct fl_cidr *c = &cfg->trusted_proxies[i];
        char text[INET6_ADDRSTRLEN];
        if (inet_ntop(c->family, c->addr, text, sizeof(text)))
            fl_buf_appendf(out, "%s%s/%u", i ? "," : "", text, c->prefix_bits);
    }
    fl_buf_putc(out, '\n');
}

void fl_config_dump(const struct fl_config *cfg, struct fl_buf *out)
{
    const struct fl_mysql_dsn *m = &cfg->mysql;
    const struct fl_redis_dsn *r = &cfg->redis;
    static const char *const levels[] = {"debug", "info", "warn", "error"};

    fl_buf_appendf(out, "FL_MYSQL_URL=mysql://%s%s@%s", m->user, m->password ? ":********" : "",
                   m->host ? m->host : "localhost");
    if (m->port)
        fl_buf_appendf(out, ":%u", m->port);
    for (size_t i = 1; i < fl_dsn_mysql_hosts(m); i++) {
        fl_buf_putc(out, ',');
        fl_dsn_mysql_host_address(m, i, out);
    }
    fl_buf_appendf(out, "/%s%s%s\n", m->database, m->socket ? "?socket=" : "", or_unset(m->socket));
    fl_buf_puts(out, "FL_MYSQL_READ_URL=");
    for (size_t i = 0; i < cfg->n_mysql_read; i++) {
        if (i)
            fl_buf_putc(out, ',');
        fl_dsn_mysql_address(&cfg->mysql_read[i], out);
    }
    fl_buf_putc(out, '\n');
    if (r->master_name) {
        fl_buf_appendf(out, "FL_REDIS_URL=redis-sentinel://%s", r->password ? ":********@" : "");
        for (size_t i = 0; i < r->n_sentinels; i++)
            fl_buf_appendf(out, "%s%s:%u", i ? "," : "", r->sentinels[i].host,
                           r->sentinels[i].port);
        fl_buf_appendf(out, "/%s/%u\n", r->master_name, r->db);
    } else if (r->socket)
        fl_buf_appendf(out, "FL_REDIS_URL=unix://%s?db=%u\n", r->socket, r->db);
    else
        fl_buf_appendf(out, "FL_REDIS_URL=redis://%s%s:%u/%u\n", r->password ? ":********@" : "",
                       r->host, r->port, r->db);
    fl_buf_appendf(out, "FL_BASE_PATH=%s\n", cfg->base_path);
    fl_buf_appendf(out, "FL_CACHE_TTL=%u\n", cfg->cache_ttl_s);
    fl_buf_appendf(out, "FL_RATE_LIMIT=%u\nFL_RATE_BURST=%u\n", cfg->rate_limit, cfg->rate_burst);
    dump_proxies(cfg, out);
    fl_buf_appendf(out, "FL_OAUTH_TOKEN_URL=%s\n", or_unset(cfg->oauth_token_url));
    fl_buf_appendf(out, "FL_OAUTH_CLIENT_ID=%s\n", or_unset(cfg->oauth_client_id));
    fl_buf_appendf(out, "FL_OAUTH_CLIENT_SECRET=%s\n", masked(cfg->oauth_client_secret));
    fl_buf_appendf(out, "FL_OAUTH_SCOPE=%s\n", or_unset(cfg->oauth_scope));
    fl_buf_appendf(out, "FL_API_A_URL=%s\n", or_unset(cfg->api_a_url));
    fl_buf_appendf(out, "FL_API_A_TIMEOUT_MS=%u\nFL_API_A_RETRIES=%u\nFL_API_A_DEADLINE_MS=%u\n",
                   cfg->api_a_timeout_ms, cfg->api_a_retries, cfg->api_a_deadline_ms);
    fl_buf_appendf(out, "FL_API_A_BREAKER_OPEN_MS=%u\n", cfg->api_a_breaker_open_ms);
    fl_buf_appendf(out, "FL_API_A_MAX_INFLIGHT=%u\n", cfg->api_a_max_inflight);
    fl_buf_appendf(out, "FL_DB_READ_TIMEOUT_MS=%u\nFL_CACHE_STALE_S=%u\nFL_PLAN_SAMPLE_S=%u\n",
                   cfg->db_read_timeout_ms, cfg->cache_stale_s, cfg->plan_sample_s);
    fl_buf_appendf(out, "FL_QUEUE_BUDGET_MS=%u\nFL_LISTEN_BACKLOG=%u\n", cfg->queue_budget_ms,
                   cfg->listen_backlog);
    fl_buf_appendf(out, "FL_API_B_URL=%s\n", or_unset(cfg->api_b_url));
    fl_buf_appendf(out, "FL_PUBLIC_URL=%s\n", or_unset(cfg->public_url));
    fl_buf_appendf(out, "FL_WEBHOOK_SECRET=%s\n", masked(cfg->webhook_secret));
    fl_buf_appendf(out, "FL_ADMIN_TOKEN=%s\n", masked(cfg->admin_token));
    fl_buf_appendf(out, "FL_LOG_LEVEL=%s\n", levels[cfg->log_level]);
    fl_buf_appendf(out, "FL_METRICS_DIR=%s\n", or_unset(cfg->metrics_dir));
    fl_buf_appendf(out, "FL_WORKERS=%u\n", cfg->workers);
    fl_buf_appendf(out, "FL_LOG_FILE=%s\n", or_unset(cfg->log_file));
}
