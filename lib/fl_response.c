/* SPDX-License-Identifier: MIT */
/* Responses and problem details; see fl_response.h. */
#include "fl_response.h"

#include <stdarg.h>
#include <stdio.h>

#include "fl_json.h"

#define HEADERS_MAX_BYTES ((size_t)16 << 10)
#define DETAIL_MAX_BYTES  512

void fl_resp_init(struct fl_resp *resp, size_t max_body_bytes)
{
    resp->status = 200;
    resp->content_type = NULL;
    fl_buf_init(&resp->headers, HEADERS_MAX_BYTES);
    fl_buf_init(&resp->body, max_body_bytes);
}

void fl_resp_reset(struct fl_resp *resp)
{
    resp->status = 200;
    resp->content_type = NULL;
    fl_buf_reset(&resp->headers);
    fl_buf_reset(&resp->body);
}

void fl_resp_free(struct fl_resp *resp)
{
    if (resp == NULL)
        return;
    fl_buf_free(&resp->headers);
    fl_buf_free(&resp->body);
}

void fl_resp_header(struct fl_resp *resp, const char *name, const char *fmt, ...)
{
    va_list ap;

    fl_buf_puts(&resp->headers, name);
    fl_buf_append(&resp->headers, ": ", 2);
    va_start(ap, fmt);
    fl_buf_vappendf(&resp->headers, fmt, ap);
    va_end(ap);
    fl_buf_append(&resp->headers, "\r\n", 2);
}

const char *fl_status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

static void problem(struct fl_resp *resp, const struct fl_req *req, int status, const char *slug,
                    struct fl_str detail)
{
    struct fl_buf *b = &resp->body;

    resp->status = status;
    resp->content_type = FL_CT_PROBLEM;
    fl_buf_reset(&resp->headers);
    fl_buf_reset(b);
    fl_buf_puts(b, "{\"type\":");
    if (slug)
        fl_buf_appendf(b, "\"https://farmlokal.dev/problems/%s\"", slug);
    else
        fl_buf_puts(b, "\"about:blank\"");
    fl_buf_appendf(b, ",\"title\":\"%s\",\"status\":%d,", fl_status_text(status), status);
    fl_json_key(b, "detail");
    fl_json_str(b, detail);
    fl_buf_append(b, ",\"instance\":\"", 13);
    fl_json_escape(b, req->prefix);
    fl_json_escape(b, req->path);
    fl_buf_append(b, "\",\"request_id\":", 15);
    fl_json_str(b, fl_str_c(req->id));
    fl_buf_append(b, "}\n", 2);
}

void fl_resp_problem(struct fl_resp *resp, const struct fl_req *req, int status, const char *slug,
                     const char *fmt, ...)
{
    /* Room for the bytes after the cut, so that it can land on a character boundary. */
    char detail[DETAIL_MAX_BYTES + 4];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    problem(resp, req, status, slug,
            fl_utf8_clip((struct fl_str){detail, (size_t)n < sizeof(detail) ? (size_t)n
                                                                            : sizeof(detail) - 1},
                         DETAIL_MAX_BYTES));
}

void fl_resp_error(struct fl_resp *resp, const struct fl_req *req, enum fl_err err,
                   const char *detail)
{
    int status;
    const char *generic;

    switch (err) {
    case FL_EINVAL:
        status = 400, generic = "the request is invalid";
        break;
    case FL_ENOTFOUND:
        status = 404, generic = "no such resource";
        break;
    case FL_ECONFLICT:
        status = 409, generic = "the resource already exists";
        break;
    case FL_ETOOBIG:
        status = 413, generic = "the request body is too large";
        break;
    case FL_EAUTH:
        status = 401, generic = "missing or invalid credentials";
        break;
    case FL_ETIMEOUT:
        status = 504, generic = "an upstream service did not answer in time";
        break;
    case FL_EUPSTREAM:
        status = 502, generic = "an upstream service failed";
        break;
    case FL_EDB:
        status = 503, generic = "the database is unavailable";
        break;
    case FL_ECACHE:
        status = 503, generic = "the cache is unavailable";
        break;
    case FL_ELIMITED:
        status = 429, generic = "too many requests";
        break;
    case FL_EUNAVAIL:
        status = 503, generic = "a service this needs is unavailable for now";
        break;
    default:
        status = 500, generic = "internal error";
        break;
    }
    fl_resp_problem(resp, req, status, NULL, "%s", detail ? detail : generic);
    /* A dependency is down: its breaker probes again within a second. */
    if (status == 503)
        fl_resp_header(resp, "Retry-After", "1");
}
