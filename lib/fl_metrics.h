/* SPDX-License-Identifier: MIT */
/*
 * Metrics: each worker counts into its own file in FL_METRICS_DIR, mapped into memory, so
 * counting is a plain add and a worker killed at any moment loses nothing it counted. A
 * scrape sums every file in the directory (workers alive, or exited since a master last
 * cleared it) into Prometheus text format 0.0.4. Without FL_METRICS_DIR the counters live in
 * ordinary memory and /metrics shows this worker only.
 */
#ifndef FL_METRICS_H
#define FL_METRICS_H

#include <stdint.h>

#include "fl_buf.h"
#include "fl_err.h"

/* Plain counters. */
enum fl_metric {
    FL_M_CACHE_HIT,
    FL_M_CACHE_MISS,
    FL_M_CACHE_BYPASS,
    FL_M_CACHE_STALE, /* a kept body served because MySQL failed or another worker builds */
    FL_M_DB_QUERIES,  /* set from the connection's own count */
    FL_M_DB_ERRORS,
    FL_M_DB_SKIPPED,    /* set from the connections' own count: refused by an open breaker */
    FL_M_DB_TX_RETRIES, /* set from the connection's own count: transactions run again */
    FL_M_REDIS_ERRORS,
    FL_M_UPSTREAM_OK,
    FL_M_UPSTREAM_NOT_FOUND,
    FL_M_UPSTREAM_FAILED,
    FL_M_UPSTREAM_TIMED_OUT,
    FL_M_UPSTREAM_REJECTED,      /* refused by the open breaker, no call made */
    FL_M_UPSTREAM_BULKHEAD_FULL, /* refused: the pool's seats on API A were taken */
    FL_M_UPSTREAM_RETRIES,
    FL_M_TOKEN_FETCHES, /* set from the token cache's own count */
    FL_M_WEBHOOK_APPLIED,
    FL_M_WEBHOOK_STALE,
    FL_M_WEBHOOK_UNKNOWN,
    FL_M_WEBHOOK_DUPLICATE,
    FL_M_WEBHOOK_REJECTED, /* bad signature */
    FL_M_RATELIMITED,
    FL_M_RATELIMIT_FAIL_OPEN,
    FL_M_READS_REPLICA,        /* reads run on the replica, which had caught up */
    FL_M_READS_PASSED_OVER,    /* the replica was behind or down: the primary served */
    FL_M_READS_REPLICA_BEHIND, /* the primary was down: the replica served, maybe behind */
    FL_M_SHED,                 /* refused unserved: queued longer than FL_QUEUE_BUDGET_MS */
    FL_M_CACHE_NEAR_HIT,       /* a hit served from the worker's near copy (also a hit) */
    FL_M_LISTING_STOPPED,      /* a listing statement its guard stopped: the page read again */
    FL_M__MAX
};

#define FL_METRICS_ROUTES_MAX   16 /* route index 0 is "unmatched" */
#define FL_METRICS_REPLICAS_MAX 8  /* replicas counted one by one, in FL_MYSQL_READ_URL order */

/* Counters kept per replica. */
enum fl_metric_replica {
    FL_MR_READS,         /* reads run on this replica, which had caught up */
    FL_MR_PASSED_DOWN,   /* it failed to answer: passed over */
    FL_MR_PASSED_BEHIND, /* it had not applied the primary's position in time: passed over */
    FL_MR__MAX
};

/* The labels a scrape renders counters under; all borrowed. */
struct fl_metrics_labels {
    const char *const *routes; /* routes[i] labels route i; NULL entries are skipped */
    size_t n_routes;
    const char *const *methods; /* methods[i] labels method i */
    size_t n_methods;
    const char *const *replicas; /* replicas[i] labels replica i (its address) */
    size_t n_replicas;
};

/*
 * Opens this process's counters: a new file named for its pid in dir, or, when dir is
 * NULL, anonymous memory. Call once per worker, after fork. Returns FL_OK or FL_EIO.
 */
enum fl_err fl_metrics_open(const char *dir);

/* Unmaps (and keeps) the file. */
void fl_metrics_close(void);

/* Removes the files of exited workers in dir (a new master's fresh start). */
void fl_metrics_clear(const char *dir);

void fl_metrics_add(enum fl_metric m, uint64_t n);
void fl_metrics_set(enum fl_metric m, uint64_t value);

/* Adds one to replica's (< FL_METRICS_REPLICAS_MAX) counter m; other indexes are ignored. */
void fl_metrics_replica_add(unsigned replica, enum fl_metric_replica m);

/* Counts one request: route index (< FL_METRICS_ROUTES_MAX), method index, status, time. */
void fl_metrics_request(unsigned route, unsigned method, int status, double seconds);

/*
 * Appends the sum over dir's files (or this process's counters without a dir) in
 * Prometheus text format, under labels. circuit_open is the breaker's state (0 closed,
 * 1 open, 2 half-open) read by the caller. farmlokal_workers_alive counts the live workers
 * of dir's files, or, without a dir, pool_workers: the caller's count of its pool (which no
 * file here can see).
 */
void fl_metrics_render(const char *dir, const struct fl_metrics_labels *labels, int circuit_open,
                       unsigned pool_workers, struct fl_buf *out);

#endif
