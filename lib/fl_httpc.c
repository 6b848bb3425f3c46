/* SPDX-License-Identifier: MIT */
/*
 * libcurl easy handle, reset between requests (curl_easy_reset keeps the connection cache,
 * so keep-alive survives). Signals are off (CURLOPT_NOSIGNAL): the worker owns them.
 */
#include "fl_httpc.h"

#include <curl/curl.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fl_log.h"
#include "fl_time.h"

struct fl_httpc {
    CURL *curl;
    size_t max_body;
    int64_t busy_us;
};

struct sink {
    struct fl_httpc_response *resp;
    size_t max;
    bool too_big;
};

struct fl_httpc *fl_httpc_new(size_t max_body_bytes)
{
    struct fl_httpc *c = calloc(1, sizeof(*c));
    static bool initialised;

    if (c == NULL)
        return NULL;
    if (!initialised) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        initialised = true;
    }
    c->curl = curl_easy_init();
    c->max_body = max_body_bytes;
    if (c->curl == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void fl_httpc_free(struct fl_httpc *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->curl);
    free(c);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t len = size * n;

    if (s->resp->body.len + len > s->max) {
        s->too_big = true;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    fl_buf_append(&s->resp->body, p, len);
    return fl_buf_err(&s->resp->body) ? 0 : len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t len = size * n;

    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        struct fl_str v = {p + 12, len - 12};
        uint64_t secs;
        while (v.len && (v.p[0] == ' ' || v.p[0] == '\t'))
            v.p++, v.len--;
        while (v.len && (v.p[v.len - 1] == '\r' || v.p[v.len - 1] == '\n' || v.p[v.len - 1] == ' '))
            v.len--;
        if (fl_str_to_u64(v, 0, 86400, &secs) == FL_OK)
            s->resp->retry_after_ms = (int64_t)secs * 1000;
    }
    return len;
}

enum fl_err fl_httpc_do(struct fl_httpc *c, const struct fl_httpc_request *req,
                        struct fl_httpc_response *resp)
{
    struct sink s = {resp, c->max_body, false};
    struct curl_slist *headers = NULL;
    int64_t t0 = fl_time_mono_us();
    enum fl_err err = FL_OK;
    CURLcode rc;

    resp->status = 0;
    resp->retry_after_ms = -1;
    fl_buf_reset(&resp->body);
    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, req->url);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "farmlokal/" FL_VERSION);
    for (const char *const *h = req->headers; h && *h; h++) {
        struct curl_slist *next = curl_slist_append(headers, *h);
        if (next == NULL) {
            curl_slist_free_all(headers);
            return FL_ENOMEM;
        }
        headers = next;
    }
    if (headers)
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
    if (req->basic_user) {
        curl_easy_setopt(c->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c->curl, CURLOPT_USERNAME, req->basic_user);
        curl_easy_setopt(c->curl, CURLOPT_PASSWORD, req->basic_password ? req->basic_password : "");
    }
    if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, req->body.p ? req->body.p : "");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body.len);
    }
    rc = curl_easy_perform(c->curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    } else if (s.too_big) {
        err = FL_ETOOBIG;
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        err = FL_ETIMEOUT;
    } else {
        /* The URL may carry an id from the client: log curl's code, not its message. */
        fl_log(FL_LOG_WARN, "event=upstream_error curl=%d", (int)rc);
        err = FL_EUPSTREAM;
    }
    curl_slist_free_all(headers);
    c->busy_us += fl_time_mono_us() - t0;
    return err;
}

int64_t fl_httpc_busy_us(const struct fl_httpc *c)
{
    return c->busy_us;
}
