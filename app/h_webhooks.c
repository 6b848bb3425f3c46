/* SPDX-License-Identifier: MIT */
/*
 * POST /webhooks/update: API B's product updates. The signature is checked over the raw
 * body before anything is parsed; then the event is validated and applied exactly once.
 * 400s are final for senders, so only a malformed event gets one; a database outage is a
 * 503, which senders retry.
 */
#include "app.h"

#include <string.h>

#include "fl_metrics.h"
#include "fl_time.h"
#include "fl_webhook.h"
#include "product_input.h"

#define EVENT_ID_MAX_BYTES 128

static const char *const messages[FL_WEBHOOK__MAX] = {
    [FL_WEBHOOK_APPLIED] = NULL,
    [FL_WEBHOOK_STALE] = "Stale event",
    [FL_WEBHOOK_UNKNOWN_PRODUCT] = "Unknown product",
    [FL_WEBHOOK_DUPLICATE] = "Already processed",
};

static const enum fl_metric outcome_metric[FL_WEBHOOK__MAX] = {
    [FL_WEBHOOK_APPLIED] = FL_M_WEBHOOK_APPLIED,
    [FL_WEBHOOK_STALE] = FL_M_WEBHOOK_STALE,
    [FL_WEBHOOK_UNKNOWN_PRODUCT] = FL_M_WEBHOOK_UNKNOWN,
    [FL_WEBHOOK_DUPLICATE] = FL_M_WEBHOOK_DUPLICATE,
};

static bool visible_ascii(struct fl_str s)
{
    for (size_t i = 0; i < s.len; i++)
        if (s.p[i] <= 0x20 || s.p[i] >= 0x7f)
            return false;
    return s.len > 0;
}

/* Validates the parsed event into ev; on failure the 400 is in resp. */
static bool read_event(struct fl_req *req, struct fl_resp *resp, struct fl_str header_id,
                       int64_t header_ts, struct fl_webhook_event *ev)
{
    struct fl_json_field top[4] = {
        {"event_id", 0, {0}}, {"type", 0, {0}}, {"occurred_at", 0, {0}}, {"data", 0, {0}}};
    struct fl_json_field f[FL_PF__MAX];
    struct fl_buf detail;
    enum fl_err err;

    fl_buf_init(&detail, 512);
    /* Unknown top-level fields are the sender's metadata: tolerated. Unknown data fields
     * would be changes we cannot apply: refused. */
    err = fl_json_parse_object(req->body, req->arena, top, 4, FL_JSON_IGNORE_UNKNOWN, &detail);
    if (err == FL_OK && top[3].type == FL_JSON_OBJECT) {
        fl_pfields_init(f);
        fl_buf_puts(&detail, "data: ");
        err = fl_json_parse_object(top[3].text, req->arena, f, FL_PF__MAX, 0, &detail);
    }
    if (err != FL_OK) {
        fl_resp_problem(resp, req, 400, "invalid-body", "%s", detail.p ? detail.p : "");
        fl_buf_free(&detail);
        return false;
    }
    fl_buf_free(&detail);
    ev->event_id = top[0].text;
    ev->type = top[1].text;
    if (top[0].type != FL_JSON_STRING || top[0].text.len > EVENT_ID_MAX_BYTES ||
        !visible_ascii(top[0].text)) {
        fl_resp_problem(resp, req, 400, "invalid-body",
                        "event_id must be 1 to 128 visible ASCII characters");
        return false;
    }
    if (!fl_str_eq(top[0].text, header_id)) {
        fl_resp_problem(resp, req, 400, "invalid-body", "event_id must equal webhook-id");
        return false;
    }
    if (top[1].type != FL_JSON_STRING || !fl_str_eq(top[1].text, FL_STR("product.updated"))) {
        fl_resp_problem(resp, req, 400, "invalid-body", "type must be product.updated");
        return false;
    }
    ev->occurred_us = header_ts * 1000000;
    if (top[2].type != FL_JSON_MISSING &&
        (top[2].type != FL_JSON_STRING ||
         fl_time_parse_rfc3339(top[2].text, &ev->occurred_us) != FL_OK)) {
        fl_resp_problem(resp, req, 400, "invalid-body", "occurred_at must be an RFC 3339 time");
        return false;
    }
    if (top[3].type != FL_JSON_OBJECT) {
        fl_resp_problem(resp, req, 400, "invalid-body", "data must be an object");
        return false;
    }
    for (int i = 0; i < FL_PF__MAX; i++) {
        if (f[i].type != FL_JSON_MISSING &&
            (i == FL_PF_CATEGORY || i == FL_PF_UNIT || i == FL_PF_PRODUCER)) {
            fl_resp_problem(resp, req, 400, "invalid-body", "data.%s cannot be updated by events",
                            f[i].name);
            return false;
        }
    }
    if (f[FL_PF_SKU].type == FL_JSON_MISSING) {
        fl_resp_problem(resp, req, 400, "invalid-body", "data.sku is required");
        return false;
    }
    if (!fl_product_input_parse(req, resp, f, 1u << FL_PF_SKU, "data.", &ev->data))
        return false;
    if (!ev->data.price.p && !ev->data.has_stock && !ev->data.name.p && !ev->data.description.p) {
        fl_resp_problem(resp, req, 400, "invalid-body",
                        "data must change price, stock, name or description");
        return false;
    }
    return true;
}

void fl_h_webhooks_update(struct fl_app *app, struct fl_req *req, struct fl_resp *resp)
{
    const struct fl_config *cfg = app->cfg;
    struct fl_str id = fl_str_c(fl_req_env(req, "HTTP_WEBHOOK_ID"));
    struct fl_str ts = fl_str_c(fl_req_env(req, "HTTP_WEBHOOK_TIMESTAMP"));
    struct fl_str sig = fl_str_c(fl_req_env(req, "HTTP_WEBHOOK_SIGNATURE"));
    struct fl_str secret = {cfg->webhook_secret, cfg->webhook_secret_len};
    struct fl_webhook_event ev;
    enum fl_webhook_outcome outcome;
    int64_t header_ts = 0;
    enum fl_err err;

    if (fl_webhook_verify(secret, id, ts, sig, req->body, fl_time_wall_ms() / 1000) != FL_OK) {
        fl_metrics_add(FL_M_WEBHOOK_REJECTED, 1);
        fl_resp_problem(resp, req, 401, "invalid-signature",
                        "the webhook signature is missing, wrong or too old");
        return;
    }
    fl_str_to_i64(ts, 0, INT64_MAX / 2000000, &header_ts);
    if (!fl_json_body(req, resp) || !read_event(req, resp, id, header_ts, &ev))
        return;
    err = fl_webhook_apply(app->db, app->redis, req->arena, &ev, &outcome);
    if (err != FL_OK) {
        fl_resp_error(resp, req, err, NULL);
        return;
    }
    fl_metrics_add(outcome_metric[outcome], 1);
    resp->content_type = FL_CT_JSON;
    if (messages[outcome])
        fl_buf_appendf(&resp->body, "{\"status\":\"ignored\",\"message\":\"%s\"}\n",
                       messages[outcome]);
    else
        fl_buf_puts(&resp->body, "{\"status\":\"success\"}\n");
}
