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

struct fl_upstream_result {
    unsigned tries;         /* requests sent */
    unsigned retry_after_s; /* for FL_EUNAVAIL: when the breaker lets a call through */
    struct fl_buf body;     /* initialised by the caller; the JSON on FL_OK */
};

/*
 * GETs url under policy p. out->body must be initialised (its cap bounds the body). Never
 * takes longer than the deadline plus a few milliseconds. Returns FL_OK (a 2xx with a JSON
 * body, in out->body); FL_ENOTFOUND when the upstream said 404; FL_ETIMEOUT when the
 * deadline ran out; FL_EUNAVAIL when the breaker is open (out->retry_after_s); FL_EUPSTREAM
 * when it gave up otherwise.
 */
enum fl_err fl_upstream_get(const struct fl_upstream_policy *p, struct fl_httpc *http,
                            struct fl_oauth *oauth, struct fl_redis *r, struct fl_arena *arena,
                            const char *url, struct fl_upstream_result *out);

enum fl_breaker_state { FL_BREAKER_CLOSED, FL_BREAKER_OPEN, FL_BREAKER_HALF_OPEN };

/* Reads the breaker's state into out. Returns FL_OK, or FL_ECACHE when Redis is down. */
enum fl_err fl_upstream_breaker_state(const struct fl_upstream_policy *p, struct fl_redis *r,
                                      struct fl_arena *arena, enum fl_breaker_state *out);

#endif
