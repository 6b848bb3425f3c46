/* SPDX-License-Identifier: MIT */
/*
 * Calls to an upstream JSON API with the policy SPEC.md gives API A: an OAuth bearer token
 * (refreshed once on a 401), transient failures retried with full-jitter exponential
 * backoff honouring Retry-After, everything inside one deadline, and a circuit breaker
 * shared by every worker through Redis (open after consecutive failed requests, one trial
 * request after the open period).
 */
#ifndef FL_UPSTREAM_H
#define FL_UPSTREAM_H

#include <stdint.h>

#include "fl_arena.h"
#include "fl_buf.h"
#include "fl_err.h"
#include "fl_httpc.h"
#include "fl_oauth.h"
#include "fl_redis.h"

struct fl_upstream_policy {
    const char *name;          /* breaker key part, e.g. "api_a" */
    unsigned timeout_ms;       /* one try */
    unsigned retries;          /* tries after the first */
    unsigned deadline_ms;      /* the whole call */
    unsigned backoff_base_ms;  /* 100 */
    unsigned backoff_cap_ms;   /* 2000 */
    unsigned breaker_failures; /* consecutive failed calls that open it: 5 */
    unsigned breaker_open_ms;  /* 30000 */
};

enum fl_upstream_outcome {
    FL_UPSTREAM_OK,        /* 2xx with a JSON body: in body */
    FL_UPSTREAM_NOT_FOUND, /* the upstream said 404 */
    FL_UPSTREAM_FAILED,    /* gave up: 502 */
    FL_UPSTREAM_TIMED_OUT, /* the deadline ran out: 504 */
    FL_UPSTREAM_OPEN,      /* the breaker is open: 503 with retry_after_s */
    FL_UPSTREAM__MAX
};

struct fl_upstream_result {
    enum fl_upstream_outcome outcome;
    unsigned tries;         /* requests sent */
    unsigned retry_after_s; /* for FL_UPSTREAM_OPEN */
    struct fl_buf body;     /* initialised by the caller; the JSON on FL_UPSTREAM_OK */
};

/*
 * GETs url under policy p. out->body must be initialised (its cap bounds the body). Never
 * takes longer than the deadline plus a few milliseconds.
 */
void fl_upstream_get(const struct fl_upstream_policy *p, struct fl_httpc *http,
                     struct fl_oauth *oauth, struct fl_redis *r, struct fl_arena *arena,
                     const char *url, struct fl_upstream_result *out);

/* The breaker's state for metrics: 0 closed, 1 open, 2 half-open, -1 unknown (no Redis). */
int fl_upstream_breaker_state(const struct fl_upstream_policy *p, struct fl_redis *r,
                              struct fl_arena *arena);

#endif
