/* SPDX-License-Identifier: MIT */
/*
 * The HTTP client for upstream services, over one reusable libcurl easy handle per process
 * (so connections are kept alive between requests). One call is one attempt with a total
 * timeout; retries, backoff and breakers are the upstream module's business. The response
 * body is capped. The only module that includes curl.
 */
#ifndef FL_HTTPC_H
#define FL_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include "fl_buf.h"
#include "fl_err.h"
#include "fl_str.h"

struct fl_httpc;

struct fl_httpc_request {
    const char *method; /* "GET" or "POST" */
    const char *url;
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    struct fl_str body;         /* for POST */
    const char *basic_user;     /* HTTP Basic credentials, or NULL */
    const char *basic_password;
    unsigned timeout_ms; /* the whole attempt, connecting included */
};

struct fl_httpc_response {
    long status;            /* 0 when no response arrived */
    int64_t retry_after_ms; /* from Retry-After (seconds form), or -1 */
    struct fl_buf body;     /* capped at the client's maximum; owned by the caller */
};

/* Returns a client whose responses may be up to max_body_bytes, or NULL. */
struct fl_httpc *fl_httpc_new(size_t max_body_bytes);

/* Frees the client. Accepts NULL. */
void fl_httpc_free(struct fl_httpc *c);

/*
 * Performs one request. resp->body must be initialised by the caller (it is reset first).
 * Returns FL_OK when a response arrived (any status); FL_ETIMEOUT when the timeout ran out;
 * FL_ETOOBIG when the body exceeded the cap; FL_EUPSTREAM for connection and protocol
 * errors.
 */
enum fl_err fl_httpc_do(struct fl_httpc *c, const struct fl_httpc_request *req,
                        struct fl_httpc_response *resp);

/* Microseconds spent in requests since the client was created (for Server-Timing). */
int64_t fl_httpc_busy_us(const struct fl_httpc *c);

#endif
