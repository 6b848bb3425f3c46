/* SPDX-License-Identifier: MIT */
/*
 * What the worker program's parts share: the process context handlers borrow, the handler
 * signature, and the entry points of the worker loop and the supervising master.
 */
#ifndef FL_APP_H
#define FL_APP_H

#include "fl_bulkhead.h"
#include "fl_config.h"
#include "fl_db.h"
#include "fl_httpc.h"
#include "fl_listing.h"
#include "fl_memo.h"
#include "fl_oauth.h"
#include "fl_ratelimit.h"
#include "fl_redis.h"
#include "fl_replica.h"
#include "fl_request.h"
#include "fl_response.h"

#ifndef FL_VERSION
#define FL_VERSION "0.0.0"
#endif

/* The largest request body any route accepts (SPEC.md: 1 MiB by default). */
#define FL_BODY_MAX_BYTES ((size_t)1 << 20)

/* Process scope: created when a worker starts, borrowed by every handler, freed at exit. */
struct fl_app {
    const struct fl_config *cfg;   /* borrowed */
    struct fl_db *db;              /* owned; the primary */
    struct fl_replica *replica;    /* owned: the replicas; NULL without FL_MYSQL_READ_URL */
    struct fl_redis *redis;        /* owned */
    struct fl_httpc *http;         /* owned: the upstream client, one reused handle */
    struct fl_oauth *oauth;        /* owned: the upstream token cache */
    struct fl_listing_svc listing; /* the listing service, over the connections above */
    struct fl_bulkhead *bulkhead;  /* owned: the pool's seats on API A; NULL: no limit */
    struct fl_memo *plain;         /* owned: pages lately sent decompressed (h_products.c) */
    struct fl_memo *near;          /* owned: near copies of cache entries (fl_cache.c) */
    struct fl_buf scratch;         /* reused by each request for error details */
};

struct fl_http;
struct fl_arena;

/* Opens nothing yet (connections are lazy). Returns FL_OK or FL_ENOMEM. */
enum fl_err fl_app_init(struct fl_app *app, const struct fl_config *cfg);

/* Closes the connections and frees what app owns. */
void fl_app_free(struct fl_app *app);

/* Fills resp for req. Handlers never free request data (it lives in req->arena). */
typedef void (*fl_handler_fn)(struct fl_app *app, struct fl_req *req, struct fl_resp *resp);

/* Route flags. */
#define FL_ROUTE_UNLIMITED     1u /* never rate limited (health, metrics) */
#define FL_ROUTE_LIMITS_ITSELF 2u /* sends the rate limit with its own Redis round trip */

/* One entry of the route table. */
struct fl_route {
    enum fl_method method;
    const char *pattern; /* "/products/{id}": at most one {segment} */
    fl_handler_fn handler;
    const char *const *params; /* allowed query parameters, NULL-terminated; NULL: none */
    size_t max_body_bytes;     /* 0: no body allowed */
    unsigned flags;            /* FL_ROUTE_* */
};

/* A stable index of route's template (routes sharing a template share it), from 1. */
unsigned fl_route_index(const struct fl_route *route);

/* Labels for fl_route_index values: names[0] "unmatched", NULL for unused indexes. */
size_t fl_route_names(const char **names, size_t cap);

/*
 * Applies the verdict of req->rate_limit (and clears it): adds the RateLimit headers and,
 * when the client is over its limit, replaces resp with a 429. Returns true when the request
 * may go on (also when Redis gave no verdict: the limit fails open).
 */
bool fl_rate_verdict(const struct fl_app *app, struct fl_req *req, struct fl_resp *resp);

/*
 * Finds the route for req's method and path and stores its {segment} in req->route_arg.
 * Returns the route; NULL with allow empty when no route has this path (404); NULL with
 * allow holding the path's methods ("GET, HEAD") when only the method is wrong (405).
 */
const struct fl_route *fl_route_match(struct fl_req *req, struct fl_buf *allow);

/* The index of the route template req's path matches, whatever its method; 0 for none. */
unsigned fl_route_path_index(const struct fl_req *req);

/* Handlers, one file per resource. */
void fl_h_health(struct fl_app *app, struct fl_req *req, struct fl_resp *resp);
void fl_h_health_live(struct fl_app *app, struct fl_req *req, struct fl_resp *resp);
void fl_h_products_list(struct fl_app *app, struct fl_req *req, struct fl_resp *resp);
void fl_h_products_get(struct fl_app *app, struct fl_req *req, struct fl_resp *resp);
void fl_h_products_create(struct fl_app *app, struct fl_req *req, struct fl_resp *resp);
void fl_h_products_update(struct fl_app *app, struct fl_req *req, struct fl_resp *resp);
void fl_h_products_external(struct fl_app *app, struct fl_req *req, struct fl_resp *resp);
void fl_h_webhooks_update(struct fl_app *app, struct fl_req *req, struct fl_resp *resp);
void fl_h_metrics(struct fl_app *app, struct fl_req *req, struct fl_resp *resp);
void fl_h_openapi(struct fl_app *app, struct fl_req *req, struct fl_resp *resp);

/* app/openapi.json, embedded by app/embed.cmake: fl_openapi_len bytes and a NUL. */
extern const char fl_openapi[];
extern const size_t fl_openapi_len;

/* API A's call policy, from the configuration (the handler's and the metrics' view). */
struct fl_upstream_policy;
void fl_api_a_policy(const struct fl_config *cfg, struct fl_upstream_policy *out);

/*
 * Serves one request without sending it: builds req from env in arena, routes it, reads
 * its body through http, runs the handler and leaves the complete response, with the
 * X-Request-Id and Server-Timing headers, in resp. Testable with http in CGI mode.
 */
void fl_serve(struct fl_app *app, struct fl_http *http, const char *const *env,
              struct fl_arena *arena, struct fl_req *req, struct fl_resp *resp);

/*
 * Serves requests on listen_fd (a listening socket; -1 for one CGI request) until told to
 * stop by SIGTERM, SIGINT or SIGHUP, finishing the request in hand first.
 * Returns the process exit status.
 */
int fl_worker_run(const struct fl_config *cfg, int listen_fd);

/* True when spec is "unix:/path" (a path that fits) or "host:port" with a port of 0..65535. */
bool fl_master_listen_valid(const char *spec);

/*
 * Binds listen_spec ("unix:/path" or "host:port"), runs n_workers workers and supervises
 * them until SIGTERM or SIGINT. SIGHUP reloads config_file (when not NULL), reopens the log
 * file and replaces the workers one at a time; SIGUSR1 reopens the log file. Takes ownership
 * of cfg. Returns the process exit status: 2 at once, starting nothing, when a MySQL
 * server's max_connections is too small for the pool.
 */
int fl_master_run(const char *listen_spec, unsigned n_workers, const char *config_file,
                  struct fl_config *cfg);

#endif
