/* SPDX-License-Identifier: MIT */
/*
 * Configuration: every FL_* setting, read from the environment and from an optional
 * KEY=VALUE file (systemd EnvironmentFile syntax); the environment wins. The original's
 * names (DB_HOST, REDIS_URL, EXTERNAL_API_URL, ...) are honoured when the FL_ form is unset.
 * Loading validates everything, so nothing starts half-configured. Owns no connections.
 */
#ifndef FL_CONFIG_H
#define FL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "fl_buf.h"
#include "fl_dsn.h"
#include "fl_err.h"
#include "fl_log.h"

/* An address range of FL_TRUSTED_PROXIES. */
struct fl_cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network address, in network byte order */
    unsigned prefix_bits;   /* 0..32 or 0..128 */
};

struct fl_config {
    struct fl_mysql_dsn mysql;
    struct fl_mysql_dsn *mysql_read; /* owned array: the replicas of FL_MYSQL_READ_URL */
    size_t n_mysql_read;             /* 0 without replicas, at most FL_DSN_LIST_MAX */
    struct fl_redis_dsn redis;
    char *base_path;                 /* owned, "" or "/prefix" without a trailing slash */
    unsigned cache_ttl_s;            /* listing cache entry lifetime, 1..86400 */
    unsigned rate_limit;             /* requests per second per client; 0 = limiting off */
    unsigned rate_burst;             /* requests allowed at once */
    struct fl_cidr *trusted_proxies; /* owned array */
    size_t n_trusted_proxies;
    char *oauth_token_url;          /* owned or NULL */
    char *oauth_client_id;          /* owned or NULL */
    char *oauth_client_secret;      /* owned or NULL; never logged */
    char *oauth_scope;              /* owned or NULL */
    char *api_a_url;                /* owned or NULL, without a trailing slash */
    unsigned api_a_timeout_ms;      /* one try's total timeout */
    unsigned api_a_retries;         /* retries after the first try */
    unsigned api_a_deadline_ms;     /* whole request budget */
    unsigned api_a_breaker_open_ms; /* how long the breaker stays open */
    unsigned api_a_max_inflight;    /* requests of a pool waiting on API A at once; 0: half the
                                       pool's workers, at least 1 */
    unsigned db_read_timeout_ms;    /* a read statement's bound, enforced by the server too */
    unsigned cache_stale_s;         /* how long a cached body is kept past its fresh life */
    unsigned plan_sample_s;         /* how long the planner's sample is used (fl_catalog_stats) */
    unsigned queue_budget_ms;       /* a request queued longer is refused; 0: never */
    unsigned listen_backlog;        /* the master's listen(2) backlog */
    char *api_b_url;                /* owned or NULL */
    char *public_url;               /* owned or NULL */
    char *webhook_secret;           /* owned raw key bytes (decoded from whsec_), or NULL */
    size_t webhook_secret_len;
    char *admin_token; /* owned or NULL; never logged */
    enum fl_log_level log_level;
    char *metrics_dir; /* owned or NULL */
    unsigned workers;  /* FL_WORKERS: the pool size of the master (and of the recipes) */
    char *log_file;    /* owned or NULL: FL_LOG_FILE, where log lines go instead of stderr */
    char *warnings;    /* owned or NULL: lines about ignored settings, to log once at start */
};

/* FL_WORKERS when unset, and its largest value. */
#define FL_CONFIG_WORKERS_DEFAULT 2
#define FL_CONFIG_WORKERS_MAX     256

/*
 * Loads the configuration from the environment and, when file is not NULL, that file.
 * Returns FL_OK; FL_EINVAL with one line naming the variable in errmsg (also for an FL_* key
 * in the file that no setting has, with the nearest one); FL_EIO when the file cannot be
 * read; FL_ENOMEM. On failure cfg holds nothing to free. Unknown FL_* variables in the
 * environment are no error: they are listed in cfg->warnings.
 */
enum fl_err fl_config_load(struct fl_config *cfg, const char *file, struct fl_buf *errmsg);

/* Frees what cfg owns. Accepts NULL. */
void fl_config_free(struct fl_config *cfg);

/* Writes the effective configuration as KEY=VALUE lines, secrets masked. */
void fl_config_dump(const struct fl_config *cfg, struct fl_buf *out);

#endif
