/* SPDX-License-Identifier: MIT */
/*
 * GET /health and GET /health/live. /health pings MySQL, the replica when one is configured,
 * and Redis (each bounded by its connection timeouts): MySQL down is a failure (503); the
 * replica or Redis down only degrades (200), as the API still serves from the primary.
 * /health/live checks nothing: it shows the worker answers.
 */
#include "app.h"

#include "fl_buf.h"
#include "fl_time.h"

/*
 * /health answers within a second even when MySQL, its replica and Redis all hang (Redis:
 * 250 ms): the two MySQL pings share DB_PING_BUDGET_MS, and the replica's gets at least
 * REPLICA_PING_MIN_MS.
 */
#define DB_PING_BUDGET_MS   600
#define REPLICA_PING_MIN_MS 100

static void check(struct fl_buf *b, const char *name, enum fl_err err, int64_t us)
{
    fl_buf_appendf(b, "\"%s\":{\"status\":\"%s\",\"ms\":%.3f}", name, err ? "fail" : "ok",
                   (double)us / 1000.0);
}

void fl_h_health(struct fl_app *app, struct fl_req *req, struct fl_resp *resp)
{
    struct fl_db *replica = fl_replica_db(app->replica);
    int64_t t0 = fl_time_mono_us(), t1, t2, t3;
    enum fl_err db_err = fl_db_ping(app->db, DB_PING_BUDGET_MS), replica_err = FL_OK, redis_err;
    const char *status;

    (void)req;
    t1 = fl_time_mono_us();
    if (replica) {
        int64_t left_ms = DB_PING_BUDGET_MS - (t1 - t0) / 1000;

        replica_err = fl_db_ping(
            replica, (unsigned)(left_ms > REPLICA_PING_MIN_MS ? left_ms : REPLICA_PING_MIN_MS));
    }
    t2 = fl_time_mono_us();
    redis_err = fl_redis_ping(app->redis);
    t3 = fl_time_mono_us();
    status = db_err ? "fail" : (replica_err || redis_err) ? "degraded" : "ok";
    resp->status = db_err ? 503 : 200;
    resp->content_type = FL_CT_JSON;
    fl_resp_header(resp, "Cache-Control", "no-store");
    fl_buf_appendf(&resp->body, "{\"status\":\"%s\",\"checks\":{", status);
    check(&resp->body, "mysql", db_err, t1 - t0);
    if (replica) {
        fl_buf_putc(&resp->body, ',');
        check(&resp->body, "mysql_replica", replica_err, t2 - t1);
    }
    fl_buf_putc(&resp->body, ',');
    check(&resp->body, "redis", redis_err, t3 - t2);
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
