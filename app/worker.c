/* SPDX-License-Identifier: MIT */
/*
 * The worker: one request at a time, from accept to finish. SIGTERM, SIGINT and SIGHUP are
 * blocked while a request is served (so no system call of MySQL, Redis or curl is
 * interrupted) and unblocked only around accept; the handler wakes the accept (fl_http),
 * so a pending signal can never be lost between the check of the stop flag and the wait,
 * and the worker leaves once it has served what was already queued to it.
 */
#include "app.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_arena.h"
#include "fl_cache.h"
#include "fl_catalog_stats.h"
#include "fl_http.h"
#include "fl_log.h"
#include "fl_metrics.h"
#include "fl_time.h"

#define ARENA_MAX_BYTES         ((size_t)8 << 20)
#define RESPONSE_MAX_BYTES      ((size_t)8 << 20)
#define DB_TIMEOUT_S            1
#define REDIS_TIMEOUT_MS        50
#define UPSTREAM_BODY_MAX_BYTES ((size_t)1 << 20)
/* Decompressed pages kept for clients that do not take gzip: the hot pages of a listing
 * (a 20-product page is 6.5 KB, a 100-product one about 32 KB); at most 2 MiB a worker. */
#define PLAIN_MEMO_SLOTS     32
#define PLAIN_MEMO_MAX_BYTES ((size_t)64 << 10)
/* Near copies of cache entries (gzip, with their header): the same hot pages, a third of
 * the size; at most 1 MiB a worker. */
#define NEAR_MEMO_SLOTS     32
#define NEAR_MEMO_MAX_BYTES ((size_t)32 << 10)

enum fl_err fl_app_init(struct fl_app *app, const struct fl_config *cfg)
{
    memset(app, 0, sizeof(*app));
    app->cfg = cfg;
    fl_buf_init(&app->scratch, 4096);
    app->db = fl_db_new(&cfg->mysql, DB_TIMEOUT_S);
    if (cfg->n_mysql_read &&
        (app->replica = fl_replica_new(cfg->mysql_read, cfg->n_mysql_read, DB_TIMEOUT_S)) == NULL) {
        fl_app_free(app);
        return FL_ENOMEM;
    }
    app->redis = fl_redis_new(&cfg->redis, REDIS_TIMEOUT_MS);
    app->http = fl_httpc_new(UPSTREAM_BODY_MAX_BYTES);
    app->oauth = fl_oauth_new(cfg);
    app->plain = fl_memo_new(PLAIN_MEMO_SLOTS, PLAIN_MEMO_MAX_BYTES);
    app->near = fl_memo_new(NEAR_MEMO_SLOTS, NEAR_MEMO_MAX_BYTES);
    if (app->db == NULL || app->redis == NULL || app->http == NULL || app->oauth == NULL ||
        app->plain == NULL || app->near == NULL) {
        fl_app_free(app);
        return FL_ENOMEM;
    }
    /* A failed-over Redis may lack the last invalidations: drop every listing built before. */
    fl_redis_on_new_primary(app->redis, fl_cache_invalidate_cmd());
    fl_cache_watch(app->redis);
    fl_catalog_stats_every(cfg->plan_sample_s);
    fl_db_bound_statements(app->db, cfg->db_read_timeout_ms);
    for (size_t i = 0; i < fl_replica_count(app->replica); i++)
        fl_db_bound_statements(fl_replica_db(app->replica, i), cfg->db_read_timeout_ms);
    app->listing = (struct fl_listing_svc){
        app->redis, app->db, app->replica, cfg->cache_ttl_s, cfg->cache_stale_s, app->near};
    return FL_OK;
}

void fl_app_free(struct fl_app *app)
{
    fl_db_free(app->db);
    fl_replica_free(app->replica);
    fl_redis_free(app->redis);
    fl_httpc_free(app->http);
    fl_oauth_free(app->oauth);
    fl_bulkhead_close(app->bulkhead);
    fl_memo_free(app->plain);
    fl_memo_free(app->near);
    fl_buf_free(&app->scratch);
    memset(app, 0, sizeof(*app));
}

static struct fl_http *the_http; /* for the signal handler */

static void on_stop(int sig)
{
    (void)sig;
    if (the_http)
        fl_http_stop(the_http);
}

static void install_signals(sigset_t *stop_set)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop; /* no SA_RESTART: accept must return on a signal */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL); /* multiwatch's "graceful stop" (libfcgi's own otherwise) */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(stop_set);
    sigaddset(stop_set, SIGTERM);
    sigaddset(stop_set, SIGINT);
    sigaddset(stop_set, SIGHUP);
    sigaddset(stop_set, SIGUSR1);
}

bool fl_rate_verdict(const struct fl_app *app, struct fl_req *req, struct fl_resp *resp)
{
    const struct fl_ratelimit *rl = req->rate_limit;

    req->rate_limit = NULL;
    if (!rl->decided) {
        fl_metrics_add(FL_M_RATELIMIT_FAIL_OPEN, 1);
        return true; /* Redis gave no verdict: fail open, the API stays up */
    }
    if (!rl->allowed) {
        fl_metrics_add(FL_M_RATELIMITED, 1);
        fl_resp_problem(resp, req, 429, "quota-exceeded",
                        "too many requests; allowed: %u per second, bursts of %u",
                        app->cfg->rate_limit, app->cfg->rate_burst);
        fl_resp_header(resp, "Retry-After", "%lld", rl->retry_after_s);
    }
    /* A page the edge may store is sent to other clients too: it carries no client's count
     * (nginx's limit_req guards the edge path). */
    if (rl->allowed && fl_req_edge_ttl_s(req))
        return true;
    fl_resp_header(resp, "RateLimit-Policy", "\"default\";q=%u;w=1", app->cfg->rate_limit);
    fl_resp_header(resp, "RateLimit", "\"default\";r=%lld;t=%lld", rl->remaining, rl->reset_s);
    return rl->allowed;
}

/*
 * Refuses, before any work, a request that waited past the queue budget (its client has
 * likely given up) or whose body is over the largest any route takes. Returns true when
 * resp holds the refusal.
 */
static bool refused_at_the_door(const struct fl_app *app, const struct fl_req *req,
                                struct fl_resp *resp)
{
    int64_t queued_ms = fl_req_queued_ms(req, fl_time_wall_ms());

    if (app->cfg->queue_budget_ms && queued_ms > (int64_t)app->cfg->queue_budget_ms) {
        fl_metrics_add(FL_M_SHED, 1);
        fl_resp_problem(resp, req, 503, "overloaded", "the request waited %lld ms for a worker",
                        (long long)queued_ms);
        fl_resp_header(resp, "Retry-After", "1");
        return true;
    }
    if (req->content_length > FL_BODY_MAX_BYTES) {
        fl_resp_problem(resp, req, 413, NULL, "the request body is over %zu bytes",
                        FL_BODY_MAX_BYTES);
        return true;
    }
    return false;
}

/* Finds req's route, or answers 404, or 405 with Allow (the methods listed in scratch). */
static const struct fl_route *route_or_refuse(struct fl_req *req, struct fl_resp *resp,
                                              struct fl_buf *scratch)
{
    const struct fl_route *route;
    const char *m;

    fl_buf_reset(scratch);
    route = fl_route_match(req, scratch);
    if (route != NULL) {
        req->route_index = fl_route_index(route);
    } else if (scratch->len == 0) {
        fl_resp_problem(resp, req, 404, NULL, "no such resource");
    } else {
        m = fl_req_env(req, "REQUEST_METHOD");
        req->route_index = fl_route_path_index(req); /* counted under its path's route */
        fl_resp_problem(resp, req, 405, NULL, "%.32s is not allowed here",
                        m ? m : fl_method_name(req->method));
        fl_resp_header(resp, "Allow", "%s", scratch->p);
    }
    return route;
}

/* Everything between accept and send: routing, limits, query, body, handler. */
static void dispatch(struct fl_app *app, struct fl_http *http, struct fl_req *req,
                     struct fl_resp *resp, struct fl_buf *scratch)
{
    const struct fl_route *route;
    struct fl_ratelimit rl; /* lives until the handler returns */
    enum fl_err err;

    if (refused_at_the_door(app, req, resp) ||
        (route = route_or_refuse(req, resp, scratch)) == NULL)
        return;
    /* The client's address is resolved only when a limit applies to this request. */
    if (!(route->flags & FL_ROUTE_UNLIMITED) && app->cfg->rate_limit > 0 &&
        fl_ratelimit_prepare(
            app->cfg,
            fl_req_client_addr(req, app->cfg->trusted_proxies, app->cfg->n_trusted_proxies), &rl)) {
        req->rate_limit = &rl;
        if (!(route->flags & FL_ROUTE_LIMITS_ITSELF)) {
            fl_ratelimit_check(app->redis, req->arena, &rl);
            if (!fl_rate_verdict(app, req, resp))
                return;
        }
    }
    fl_buf_reset(scratch);
    err = fl_req_parse_query(req, route->params, scratch);
    if (err != FL_OK) {
        fl_resp_error(resp, req, err == FL_ETOOBIG ? FL_EINVAL : err, scratch->p);
        return;
    }
    if (req->content_length > 0) {
        err = fl_http_read_body(http, req, route->max_body_bytes);
        if (err == FL_ETOOBIG) {
            fl_resp_problem(resp, req, 413, NULL, "the request body is over %zu bytes",
                            route->max_body_bytes);
            return;
        }
        if (err != FL_OK) {
            fl_resp_error(resp, req, err,
                          err == FL_EINVAL ? "the request body is incomplete" : NULL);
            return;
        }
    }
    route->handler(app, req, resp);
    req->rate_limit = NULL; /* rl ends here */
}

/* Time spent in MySQL, on the primary and the replicas. */
static int64_t db_busy_us(const struct fl_app *app)
{
    int64_t us = fl_db_busy_us(app->db);

    for (size_t i = 0; i < fl_replica_count(app->replica); i++)
        us += fl_db_busy_us(fl_replica_db(app->replica, i));
    return us;
}

/* Sets the MySQL counters from every connection's own counts. */
static void count_db(const struct fl_app *app)
{
    uint64_t queries = fl_db_queries(app->db), errors = fl_db_errors(app->db),
             skipped = fl_db_skipped(app->db);

    for (size_t i = 0; i < fl_replica_count(app->replica); i++) {
        const struct fl_db *db = fl_replica_db(app->replica, i);
        queries += fl_db_queries(db);
        errors += fl_db_errors(db);
        skipped += fl_db_skipped(db);
    }
    fl_metrics_set(FL_M_DB_QUERIES, queries);
    fl_metrics_set(FL_M_DB_ERRORS, errors);
    fl_metrics_set(FL_M_DB_SKIPPED, skipped);
    fl_metrics_set(FL_M_DB_TX_RETRIES, fl_db_tx_retries(app->db));
}

/* A duration in whole microseconds (>= 0) as the two parts of "%lld.%03lld" ms. */
#define MS_PART(us) (long long)((us) / 1000), (long long)((us) % 1000)

/* Adds the headers every response carries and logs server errors. */
static void finish_headers(struct fl_app *app, const struct fl_req *req, struct fl_resp *resp,
                           int64_t t0, int64_t db0, int64_t redis0, int64_t up0)
{
    int64_t total_us = fl_time_mono_us() - t0, cache_us = fl_redis_busy_us(app->redis) - redis0;
    int64_t db_us = db_busy_us(app) - db0, up_us = fl_httpc_busy_us(app->http) - up0;
    double total = (double)total_us / 1000.0;

    fl_resp_header(resp, "X-Request-Id", "%s", req->id);
    /* Milliseconds with three decimals, from whole microseconds: no float formatting, which
     * was a few percent of a worker's CPU on a Redis hit. */
    fl_resp_header(resp, "Server-Timing",
                   "cache;dur=%lld.%03lld, db;dur=%lld.%03lld, upstream;dur=%lld.%03lld, "
                   "total;dur=%lld.%03lld",
                   MS_PART(cache_us), MS_PART(db_us), MS_PART(up_us), MS_PART(total_us));
    if (fl_buf_err(&resp->body) || fl_buf_err(&resp->headers)) {
        fl_log(FL_LOG_ERROR, "event=response_overflow status=%d", resp->status);
        fl_resp_problem(resp, req, 500, NULL, "the response could not be built");
        fl_resp_header(resp, "X-Request-Id", "%s", req->id);
    }
    fl_metrics_request(req->route_index, (unsigned)req->method, resp->status, total / 1000.0);
    count_db(app);
    fl_metrics_set(FL_M_REDIS_ERRORS, fl_redis_errors(app->redis));
    fl_metrics_set(FL_M_TOKEN_FETCHES, fl_oauth_fetches(app->oauth));
    if (resp->status >= 500)
        fl_log(FL_LOG_WARN, "event=server_error status=%d method=%s path=\"%.*s\" ms=%.3f",
               resp->status, fl_method_name(req->method), (int)req->path.len,
               req->path.p ? req->path.p : "", total);
}

void fl_serve(struct fl_app *app, struct fl_http *http, const char *const *env,
              struct fl_arena *arena, struct fl_req *req, struct fl_resp *resp)
{
    int64_t t0 = fl_time_mono_us(), db0 = db_busy_us(app);
    int64_t redis0 = fl_redis_busy_us(app->redis), up0 = fl_httpc_busy_us(app->http);
    enum fl_err err;

    fl_buf_reset(&app->scratch);
    err = fl_req_init(req, arena, env, fl_str_c(app->cfg->base_path), &app->scratch);
    fl_log_set_request_id(req->id);
    if (err != FL_OK)
        fl_resp_error(resp, req, err, app->scratch.p);
    else
        dispatch(app, http, req, resp, &app->scratch);
    finish_headers(app, req, resp, t0, db0, redis0, up0);
}

int fl_worker_run(const struct fl_config *cfg, int listen_fd)
{
    struct fl_app app;
    struct fl_arena *arena = fl_arena_new(ARENA_MAX_BYTES);
    struct fl_resp resp;
    sigset_t stop_set;
    int status = 0;

    fl_resp_init(&resp, RESPONSE_MAX_BYTES);
    the_http = fl_http_open(listen_fd);
    if (fl_app_init(&app, cfg) != FL_OK || arena == NULL || the_http == NULL) {
        fl_log(FL_LOG_ERROR, "event=worker_init_failed");
        status = 1;
        goto close_all;
    }
    if (fl_metrics_open(cfg->metrics_dir) != FL_OK)
        fl_log(FL_LOG_WARN, "event=metrics_unavailable dir=%s action=\"counting in memory\"",
               cfg->metrics_dir);
    app.bulkhead = fl_bulkhead_open(cfg->metrics_dir, listen_fd, cfg->api_a_max_inflight);
    install_signals(&stop_set);
    sigprocmask(SIG_BLOCK, &stop_set, NULL);
    for (;;) {
        const char *const *env;
        struct fl_req req;
        enum fl_err err;

        /* A signal pending since the last request is delivered here and stops accept. */
        sigprocmask(SIG_UNBLOCK, &stop_set, NULL);
        err = fl_http_accept(the_http, &env);
        sigprocmask(SIG_BLOCK, &stop_set, NULL);
        if (err != FL_OK) {
            /* Asked to stop, or the one CGI request is done: a clean exit. Otherwise accept
             * itself failed: exit non-zero, so a master backs off before replacing us. */
            if (!fl_http_done(the_http)) {
                fl_log(FL_LOG_ERROR, "event=accept_failed");
                status = 1;
            }
            break;
        }
        fl_serve(&app, the_http, env, arena, &req, &resp);
        fl_http_send(the_http, &req, &resp);
        fl_http_finish(the_http);
        fl_log_set_request_id(NULL);
        fl_resp_reset(&resp);
        fl_arena_reset(arena);
    }
close_all:
    fl_http_close(the_http);
    the_http = NULL;
    fl_metrics_close();
    fl_app_free(&app);
    fl_resp_free(&resp);
    fl_arena_free(arena);
    return status;
}
