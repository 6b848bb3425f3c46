/* SPDX-License-Identifier: MIT */
/*
 * GET /products/external/{id}: a product from API A, through the upstream policy (OAuth
 * token, retries, deadline, breaker), wrapped as the original wrapped it. Only as many of
 * the pool's workers as the bulkhead seats wait on API A at once; the others refuse.
 */
#include "app.h"

#include "fl_bulkhead.h"
#include "fl_metrics.h"
#include "fl_upstream.h"

#define ID_MAX_BYTES 64
/* What a refusal at a full bulkhead suggests: calls end within the deadline, most sooner. */
#define BULKHEAD_RETRY_AFTER_S 1

static bool valid_id(struct fl_str id)
{
    if (id.len == 0 || id.len > ID_MAX_BYTES)
        return false;
    for (size_t i = 0; i < id.len; i++) {
        char c = id.p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

void fl_api_a_policy(const struct fl_config *cfg, struct fl_upstream_policy *out)
{
    *out = (struct fl_upstream_policy){
        .name = "api_a",
        .timeout_ms = cfg->api_a_timeout_ms,
        .retries = cfg->api_a_retries,
        .deadline_ms = cfg->api_a_deadline_ms,
        .backoff_base_ms = 100,
        .backoff_cap_ms = 2000,
        .breaker_failures = 5,
        .breaker_open_ms = cfg->api_a_breaker_open_ms,
    };
}

/* The outcome counter of a call that ended with err (fl_upstream_get's results). */
static const enum fl_metric outcome_metric[FL_ERR__MAX] = {
    [FL_OK] = FL_M_UPSTREAM_OK,
    [FL_ENOTFOUND] = FL_M_UPSTREAM_NOT_FOUND,
    [FL_EUPSTREAM] = FL_M_UPSTREAM_FAILED,
    [FL_ETIMEOUT] = FL_M_UPSTREAM_TIMED_OUT,
    [FL_EUNAVAIL] = FL_M_UPSTREAM_REJECTED,
};

void fl_h_products_external(struct fl_app *app, struct fl_req *req, struct fl_resp *resp)
{
    const struct fl_config *cfg = app->cfg;
    struct fl_upstream_policy policy;
    struct fl_upstream_result r;
    struct fl_buf url;
    enum fl_err err;

    if (!valid_id(req->route_arg)) {
        fl_resp_problem(resp, req, 400, "invalid-parameter",
                        "id must be 1 to 64 letters, digits, '_' or '-'");
        return;
    }
    if (cfg->api_a_url == NULL || cfg->oauth_token_url == NULL) {
        fl_resp_problem(resp, req, 503, NULL, "the external product API is not configured");
        return;
    }
    if (!fl_bulkhead_enter(app->bulkhead)) {
        fl_metrics_add(FL_M_UPSTREAM_BULKHEAD_FULL, 1);
        fl_resp_problem(resp, req, 503, "upstream-busy",
                        "%u requests are already waiting on the external API; try again shortly",
                        fl_bulkhead_seats(app->bulkhead));
        fl_resp_header(resp, "Retry-After", "%d", BULKHEAD_RETRY_AFTER_S);
        return;
    }
    fl_api_a_policy(cfg, &policy);
    fl_buf_init(&url, 4096);
    fl_buf_appendf(&url, "%s/%.*s", cfg->api_a_url, (int)req->route_arg.len, req->route_arg.p);
    fl_buf_init(&r.body, (size_t)1 << 20);
    err = fl_upstream_get(&policy, app->http, app->oauth, app->redis, req->arena, url.p, &r);
    fl_bulkhead_leave(app->bulkhead);
    fl_metrics_add(outcome_metric[err], 1);
    if (r.tries > 1)
        fl_metrics_add(FL_M_UPSTREAM_RETRIES, r.tries - 1);
    switch (err) {
    case FL_OK:
        resp->content_type = FL_CT_JSON;
        fl_buf_puts(&resp->body, "{\"status\":\"success\",\"source\":\"external_api\",\"data\":");
        fl_buf_put(&resp->body, fl_buf_str(&r.body));
        fl_buf_puts(&resp->body, "}\n");
        break;
    case FL_ENOTFOUND:
        fl_resp_problem(resp, req, 404, NULL, "the external API has no product with this id");
        break;
    case FL_ETIMEOUT:
        fl_resp_problem(resp, req, 504, "upstream-timeout",
                        "the external API did not answer within %u ms", cfg->api_a_deadline_ms);
        break;
    case FL_EUNAVAIL:
        fl_resp_problem(resp, req, 503, "upstream-unavailable",
                        "the external API is failing; try again later");
        fl_resp_header(resp, "Retry-After", "%u", r.retry_after_s);
        break;
    default:
        fl_resp_problem(resp, req, 502, "upstream-failed", "the external API failed");
        break;
    }
    fl_buf_free(&url);
    fl_buf_free(&r.body);
}
