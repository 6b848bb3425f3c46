/* SPDX-License-Identifier: MIT */
/*
 * The response a handler builds: status, content type, extra headers and body, all in
 * buffers reused from request to request. Also the one place where errors become HTTP:
 * RFC 9457 problem+json bodies, and the mapping from enum fl_err to a status.
 */
#ifndef FL_RESPONSE_H
#define FL_RESPONSE_H

#include "fl_buf.h"
#include "fl_err.h"
#include "fl_request.h"

#define FL_CT_JSON    "application/json; charset=utf-8"
#define FL_CT_PROBLEM "application/problem+json"

struct fl_resp {
    int status;               /* HTTP status; 200 unless set */
    const char *content_type; /* static string; NULL for no body */
    struct fl_buf headers;    /* extra "Name: value\r\n" lines */
    struct fl_buf body;
};

/* Initialises an empty 200 response whose body may grow to max_body_bytes. */
void fl_resp_init(struct fl_resp *resp, size_t max_body_bytes);

/* Empties resp for the next request, keeping its buffers. */
void fl_resp_reset(struct fl_resp *resp);

/* Frees the buffers. Accepts NULL. */
void fl_resp_free(struct fl_resp *resp);

/* Adds a header line; the value is formatted (never pass client data as fmt). */
void fl_resp_header(struct fl_resp *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The standard reason phrase for status ("Not Found"), or "Unknown". */
const char *fl_status_text(int status);

/*
 * Replaces the response with an RFC 9457 problem: status, type (about:blank when slug is
 * NULL, else https://farmlokal.dev/problems/<slug>), title, the formatted detail (valid
 * UTF-8; caller data is escaped), instance (prefix + path) and request_id.
 */
void fl_resp_problem(struct fl_resp *resp, const struct fl_req *req, int status, const char *slug,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Replaces the response with the problem that err stands for: FL_EINVAL 400, FL_ENOTFOUND
 * 404, FL_ECONFLICT 409, FL_ETOOBIG 413, FL_EAUTH 401, FL_ETIMEOUT 504, FL_EUPSTREAM 502,
 * FL_EDB, FL_ECACHE and FL_EUNAVAIL 503 (with Retry-After), FL_ELIMITED 429, anything else
 * 500. detail may be NULL for a generic one.
 */
void fl_resp_error(struct fl_resp *resp, const struct fl_req *req, enum fl_err err,
                   const char *detail);

#endif
