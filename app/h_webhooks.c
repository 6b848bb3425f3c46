/* SPDX-License-Identifier: MIT */
/*
 * POST /webhooks/update: API B's product updates. The signature is checked over the raw
 * body before anything is parsed; then the event is validated and applied exactly once.
 * 400s are final for senders, so only a malformed event gets one; a database outage is a
 * 503, which senders retry.
 */
#include "app.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fl_metrics.h"
#include "fl_time.h"
#include "fl_webhook.h"
#include "product_input.h"

#define EVENT_ID_MAX_BYTES 128

/* The event's top-level fields. */
enum { TOP_EVENT_ID, TOP_TYPE, TOP_OCCURRED_AT, TOP_DATA, TOP__MAX };

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

/* Answers 400 invalid-body with the formatted detail; returns false. */
static bool invalid_body(struct fl_resp *resp, const struct fl_req *req, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool invalid_body(struct fl_resp *resp, const struct fl_req *req, const char *fmt, ...)
{
    char detail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    fl_resp_problem(resp, req, 400, "invalid-body", "%s", detail);
    return false;
}

/* Parses the body: the envelope into top (TOP__MAX fields), its data object into f. */
static bool parse_event(struct fl_req *req, struct fl_resp *resp, struct fl_json_field *top,
                        struct fl_json_field *f)
{
    struct fl_buf detail;
    enum fl_err err;
    bool ok;

    fl_buf_init(&detail, 512);
    /* Unknown top-level fields are the sender's metadata: tolerated. Unknown data fields
     * would be changes we cannot apply: refused. */
    err =
        fl_json_parse_object(req->body, req->arena, top, TOP__MAX, FL_JSON_IGNORE_UNKNOWN, &detail);
    if (err == FL_OK && top[TOP_DATA].type == FL_JSON_OBJECT) {
        fl_pfields_init(f);
        fl_buf_puts(&detail, "data: ");
        err = fl_json_parse_object(top[TOP_DATA].text, req->arena, f, FL_PF__MAX, 0, &detail);
    }
    ok = err == FL_OK || invalid_body(resp, req, "%s", detail.p ? detail.p : "");
    fl_buf_free(&detail);
    return ok;
}

/* The envelope: event_id (equal to webhook-id), type, occurred_at (default: the header's). */
static bool read_envelope(struct fl_req *req, struct fl_resp *resp, const struct fl_json_field *top,
                          struct fl_str header_id, int64_t header_ts, struct fl_webhook_event *ev)
{
    const struct fl_json_field *at = &top[TOP_OCCURRED_AT];

    ev->event_id = top[TOP_EVENT_ID].text;
    ev->type = top[TOP_TYPE].text;
    if (top[TOP_EVENT_ID].type != FL_JSON_STRING || ev->event_id.len > EVENT_ID_MAX_BYTES ||
        !visible_ascii(ev->event_id))
        return invalid_body(resp, req, "event_id must be 1 to 128 visible ASCII characters");
    if (!fl_str_eq(ev->event_id, header_id))
        return invalid_body(resp, req, "event_id must equal webhook-id");
    if (top[TOP_TYPE].type != FL_JSON_STRING || !fl_str_eq(ev->type, FL_STR("product.updated")))
        return invalid_body(resp, req, "type must be product.updated");
    ev->occurred_us = header_ts * 1000000;
    if (at->type != FL_JSON_MISSING &&
        (at->type != FL_JSON_STRING || fl_time_parse_rfc3339(at->text, &ev->occurred_us) != FL_OK))
        return invalid_body(resp, req, "occurred_at must be an RFC 3339 time");
    if (top[TOP_DATA].type != FL_JSON_OBJECT)
        return invalid_body(resp, req, "data must be an object");
    return true;
}

/* The data: the sku, and at least one of the fields events may change. */
static bool read_data(struct fl_req *req, struct fl_resp *resp, const struct fl_json_field *f,
                      struct fl_webhook_event *ev)
{
    for (int i = 0; i < FL_PF__MAX; i++)
        if (f[i].type != FL_JSON_MISSING &&
            (i == FL_PF_CATEGORY || i == FL_PF_UNIT || i == FL_PF_PRODUCER))
            return invalid_body(resp, req, "data.%s cannot be updated by events", f[i].name);
    if (f[FL_PF_SKU].type == FL_JSON_MISSING)
        return invalid_body(resp, req, "data.sku is required");
    if (!fl_product_input_parse(req, resp, f, 1u << FL_PF_SKU, "data.", &ev->data))
        return false;
    if (!ev->data.price.p && !ev->data.has_stock && !ev->data.name.p && !ev->data.description.p)
        return invalid_body(resp, req, "data must change price, stock, name or description");
    return true;
}

/* Validates the event into ev; on failure the 400 is in resp. */
static bool read_event(struct fl_req *req, struct fl_resp *resp, struct fl_str header_id,
                       int64_t header_ts, struct fl_webhook_event *ev)
{
    struct fl_json_field top[TOP__MAX] = {[TOP_EVENT_ID] = {"event_id", 0, {0}},
                                          [TOP_TYPE] = {"type", 0, {0}},
                                          [TOP_OCCURRED_AT] = {"occurred_at", 0, {0}},
                                          [TOP_DATA] = {"data", 0, {0}}};
    struct fl_json_field f[FL_PF__MAX];

    return parse_event(req, resp, top, f) &&
           read_envelope(req, resp, top, header_id, header_ts, ev) && read_data(req, resp, f, ev);
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
