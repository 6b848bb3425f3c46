/* SPDX-License-Identifier: MIT */
/*
 * GET /openapi.json: the API description, app/openapi.json as embedded at build time, with
 * the mount prefix of this request as its server URL, so that a client resolves every path
 * the way this deployment serves it. The document is only ever served, never parsed here.
 */
#include "app.h"

#include <string.h>

#include "fl_cache.h"
#include "fl_json.h"

/* How long a client may reuse the document unchecked: it changes only with the binary. */
#define DOCUMENT_MAX_AGE_S 300

/* Finds the value of the first server's "url" in doc, without its quotes. */
static bool server_url(struct fl_str doc, struct fl_str *out)
{
    const char *end = doc.p + doc.len, *p = memmem(doc.p, doc.len, "\"servers\"", 9), *q;

    if (p)
        p = memmem(p, (size_t)(end - p), "\"url\"", 5);
    if (p)
        p = memchr(p + 5, ':', (size_t)(end - p - 5));
    if (p)
        p = memchr(p, '"', (size_t)(end - p));
    if (p == NULL || (q = memchr(p + 1, '"', (size_t)(end - p - 1))) == NULL)
        return false;
    *out = (struct fl_str){p + 1, (size_t)(q - p - 1)};
    return true;
}

void fl_h_openapi(struct fl_app *app, struct fl_req *req, struct fl_resp *resp)
{
    struct fl_str doc = {fl_openapi, fl_openapi_len}, url;
    const char *rest;
    char etag[35];

    (void)app;
    if (!server_url(doc, &url)) {
        fl_resp_problem(resp, req, 500, NULL, "the API description names no server");
        return;
    }
    rest = url.p + url.len;
    resp->content_type = FL_CT_JSON;
    fl_buf_append(&resp->body, doc.p, (size_t)(url.p - doc.p));
    fl_json_escape(&resp->body, req->prefix.len ? req->prefix : FL_STR("/"));
    fl_buf_append(&resp->body, rest, (size_t)(doc.p + doc.len - rest));
    fl_cache_etag(fl_buf_str(&resp->body), etag);
    fl_resp_header(resp, "ETag", "%s", etag);
    fl_resp_header(resp, "Cache-Control", "public, max-age=%d", DOCUMENT_MAX_AGE_S);
    if (fl_req_not_modified(req, fl_str_c(etag))) {
        resp->status = 304;
        resp->content_type = NULL;
        fl_buf_reset(&resp->body);
    }
}
