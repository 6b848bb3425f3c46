/* SPDX-License-Identifier: MIT */
/*
 * The request as handlers see it, built from FastCGI/CGI parameters: method, mount prefix
 * and route path, strict query parameters, body, request id. Knows nothing of FastCGI
 * itself (fl_http reads the socket), so handlers and their tests can fill a request from a
 * plain environment array. Everything it allocates lives in the request's arena.
 */
#ifndef FL_REQUEST_H
#define FL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl_arena.h"
#include "fl_buf.h"
#include "fl_config.h"
#include "fl_err.h"
#include "fl_str.h"

#define FL_REQ_QUERY_MAX_BYTES 8192
#define FL_REQ_PARAMS_MAX      64
#define FL_REQ_ID_MAX_BYTES    128
#define FL_REQ_PATH_MAX_BYTES  2048

enum fl_method {
    FL_METHOD_GET,
    FL_METHOD_HEAD,
    FL_METHOD_POST,
    FL_METHOD_PUT,
    FL_METHOD_PATCH,
    FL_METHOD_DELETE,
    FL_METHOD_OPTIONS,
    FL_METHOD_OTHER,
    FL_METHOD__MAX
};

struct fl_param {
    struct fl_str name;  /* decoded, valid UTF-8 */
    struct fl_str value; /* decoded, valid UTF-8, no control characters */
};

struct fl_ratelimit;

struct fl_req {
    struct fl_arena *arena; /* borrowed; owns everything below */
    const char *const *env; /* borrowed NAME=VALUE parameters, NULL-terminated */
    enum fl_method method;
    struct fl_str prefix;    /* mount prefix: "" or "/api" (no trailing slash) */
    struct fl_str path;      /* route path, starts with '/' */
    struct fl_str query;     /* raw QUERY_STRING */
    struct fl_param *params; /* after fl_req_parse_query */
    size_t n_params;
    struct fl_str route_arg;          /* the {id} segment of the matched route, if any */
    unsigned route_index;             /* the matched route's metrics index (0: none matched) */
    struct fl_ratelimit *rate_limit;  /* a verdict the route sends in its own Redis round trip;
                                         NULL when none is pending (owned by the dispatcher) */
    uint64_t content_length;          /* 0 when absent */
    struct fl_str body;               /* after fl_http_read_body */
    char id[FL_REQ_ID_MAX_BYTES + 1]; /* request id, NUL-terminated */
};

/*
 * Fills req from env. base_path (FL_BASE_PATH) is the prefix when SCRIPT_NAME is empty.
 * The path comes from PATH_INFO, or from REQUEST_URI minus the prefix when PATH_INFO is
 * absent. Returns FL_OK; FL_EINVAL with a reason in detail when the path or Content-Length
 * is malformed (req is usable for an error response even then).
 */
enum fl_err fl_req_init(struct fl_req *req, struct fl_arena *arena, const char *const *env,
                        struct fl_str base_path, struct fl_buf *detail);

/*
 * The client's address: REMOTE_ADDR, or, when that is inside one of the n ranges of trusted
 * (FL_TRUSTED_PROXIES), the last X-Forwarded-For hop that is not. Borrowed from req.
 */
struct fl_str fl_req_client_addr(const struct fl_req *req, const struct fl_cidr *trusted, size_t n);

/* Returns the value of parameter name (e.g. "CONTENT_TYPE", "HTTP_X_REQUEST_ID") or NULL. */
const char *fl_req_env(const struct fl_req *req, const char *name);

/* True when the request's If-None-Match lists etag (a quoted ETag) or is "*". */
bool fl_req_not_modified(const struct fl_req *req, struct fl_str etag);

/*
 * Parses the query string, keeping only names listed in allowed (NULL-terminated; NULL
 * allows none). Returns FL_OK; FL_EINVAL with a reason in detail for malformed
 * percent-encoding, invalid UTF-8, control characters, an unknown or a repeated parameter;
 * FL_ETOOBIG for a query over FL_REQ_QUERY_MAX_BYTES or FL_REQ_PARAMS_MAX parameters;
 * FL_ENOMEM.
 */
enum fl_err fl_req_parse_query(struct fl_req *req, const char *const *allowed,
                               struct fl_buf *detail);

/* Returns the decoded value of query parameter name, or NULL when it was not sent. */
const struct fl_str *fl_req_param(const struct fl_req *req, const char *name);

/*
 * How long the request waited for a worker, in milliseconds: now_ms (wall clock, since the
 * epoch) minus FL_REQUEST_START, the time the web server passed the request on, in seconds
 * with up to three decimals (nginx: `fastcgi_param FL_REQUEST_START $msec;`). Returns -1
 * when the parameter is absent or malformed, 0 when it lies in the future (clock skew).
 */
int64_t fl_req_queued_ms(const struct fl_req *req, int64_t now_ms);

/* The longest edge lifetime FL_EDGE_TTL_S may give, seconds. */
#define FL_REQ_EDGE_TTL_MAX_S 3600

/*
 * How long nginx's edge cache may keep this response, in seconds: FL_EDGE_TTL_S, which the
 * shipped nginx configs pass only for an anonymous GET/HEAD the edge may store (SPEC
 * "Caching tiers"). Returns 0 when the parameter is absent, 0, or not a whole number from 1
 * to FL_REQ_EDGE_TTL_MAX_S: then no edge stores the response.
 */
int64_t fl_req_edge_ttl_s(const struct fl_req *req);

/*
 * True when the request's Accept-Encoding takes gzip: a "gzip" or "x-gzip" coding whose
 * q is not 0 (RFC 9110 12.5.3). The shipped nginx configs pass "gzip" or nothing here, the
 * same value they key the edge cache by.
 */
bool fl_req_accepts_gzip(const struct fl_req *req);

/* The method's name ("GET"), for Allow headers and logs. */
const char *fl_method_name(enum fl_method m);

#endif
