/* SPDX-License-Identifier: MIT */
/*
 * GET /health and GET /health/live. /health pings MySQL and Redis (each bounded by its
 * connection timeouts): MySQL down is a failure (503), Redis down only degrades (200), as
 * the API still serves from MySQL. /health/live checks nothing: it shows the worker answers.
 */
#include "app.h"

#include "fl_buf.h"
#include "fl_time.h"

/* /health answers within a second even when MySQL and Redis both hang (Redis: 250 ms). */
#define DB_PING_BUDGET_MS 700

static void check(struct fl_buf *b, const char *name, enum fl_err err, int64_t us)
{
    fl_buf_appendf(b, "\"%s\":{\"status\":\"%s\",\"ms\":%.3f}", name, err ? "fail" : "ok",
                   (double)us / 1000.0);
}

void fl_h_health(struct fl_app *app, struct fl_req *req, struct fl_resp *resp)
{
    int64_t t0 = fl_time_mono_us(), t1, t2;
    enum fl_err db_err = fl_db_ping(app->db, DB_PING_BUDGET_MS), redis_err;
    const char *status;

    (void)req;
    t1 = fl_time_mono_us();
    redis_err = fl_redis_ping(app->redis);
    t2 = fl_time_mono_us();
    status = db_err ? "fail" : redis_err ? "degraded" : "ok";
    resp->status = db_err ? 503 : 200;
    resp->content_type = FL_CT_JSON;
    fl_resp_header(resp, "Cache-Control", "no-store");
    fl_buf_appendf(&resp->body, "{\"status\":\"%s\",\"checks\":{", status);
    check(&resp->body, "mysql", db_err, t1 - t0);
    fl_buf_putc(&resp->body, ',');
    check(&resp->body, "redis", redis_err, t2 - t1);
    fl_buf_puts(&resp->body, "},\"version\":\"" FL_VERSION "\"}\n");
}

void fl_h_health_live(struct fl_app *app, struct fl_req *req, struct fl_resp *resp)
{
    (void)app;
    (void)req;
    resp->content_type = FL_CT_JSON;
    fl_resp_header(resp, "Cache-Control", "no-store");
    fl_buf_puts(&resp->body, "{\"status\":\"ok\",\"version\":\"" FL_VERSION "\"}\n");
}
