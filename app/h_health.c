/* SPDX-License-Identifier: MIT */
/*
 * GET /health and GET /health/live. /health pings MySQL (and asks a cluster's node whether
 * it is ready), each replica of FL_MYSQL_READ_URL,
 * and Redis (each bounded by its connection timeouts): MySQL down is a failure (503); a
 * replica or Redis down only degrades (200), as the API still serves from the primary.
 * /health/live checks nothing: it shows the worker answers.
 */
#include "app.h"

#include <stdio.h>

#include "fl_buf.h"
#include "fl_galera.h"
#include "fl_json.h"
#include "fl_time.h"

/*
 * /health answers within a second even when MySQL, its replicas and Redis all hang (Redis:
 * 250 ms): the MySQL pings share DB_PING_BUDGET_MS, the replicas' at least
 * REPLICAS_PING_MIN_MS in all, split evenly, and each at least REPLICA_PING_FLOOR_MS.
 */
#define DB_PING_BUDGET_MS     600
#define REPLICAS_PING_MIN_MS  150
#define REPLICA_PING_FLOOR_MS 20

static void check(struct fl_buf *b, const char *name, enum fl_err err, int64_t us)
{
    fl_buf_appendf(b, "\"%s\":{\"status\":\"%s\",\"ms\":%.3f", name, err ? "fail" : "ok",
                   (double)us / 1000.0);
}

/*
 * Pings each replica within what is left of the budget at t0 and writes its check,
 * "mysql_replica_<n>" (n from 1, in FL_MYSQL_READ_URL's order) with its address. Returns
 * whether any failed.
 */
static bool check_replicas(struct fl_app *app, int64_t t0, struct fl_buf *b)
{
    size_t n = fl_replica_count(app->replica);
    int64_t left_ms = DB_PING_BUDGET_MS - (fl_time_mono_us() - t0) / 1000;
    bool failed = false;

    if (left_ms < REPLICAS_PING_MIN_MS)
        left_ms = REPLICAS_PING_MIN_MS;
    for (size_t i = 0; i < n; i++) {
        int64_t t1 = fl_time_mono_us(), share_ms = left_ms / (int64_t)(n - i);
        enum fl_err err = fl_db_ping(
            fl_replica_db(app->replica, i),
            (unsigned)(share_ms > REPLICA_PING_FLOOR_MS ? share_ms : REPLICA_PING_FLOOR_MS));
        int64_t t2 = fl_time_mono_us();
        char name[48]; /* "mysql_replica_" and a size_t, as gcc counts it */

        left_ms -= (t2 - t1) / 1000;
        failed |= err != FL_OK;
        snprintf(name, sizeof(name), "mysql_replica_%zu", i + 1);
        fl_buf_putc(b, ',');
        check(b, name, err, t2 - t1);
        fl_buf_puts(b, ",\"address\":");
        fl_json_str(b, fl_str_c(fl_replica_address(app->replica, i)));
        fl_buf_putc(b, '}');
    }
    return failed;
}

/*
 * Pings MySQL within DB_PING_BUDGET_MS and, when it answers, asks whether it is a Galera
 * node (*node; asked only of a cluster's nodes, fl_galera_node); one that is not ready fails
 * the check. Returns FL_OK or FL_EDB.
 */
static enum fl_err check_mysql(struct fl_app *app, enum fl_galera_node *node)
{
    enum fl_err err = fl_db_ping(app->db, DB_PING_BUDGET_MS);

    *node = FL_GALERA_NONE;
    if (err == FL_OK)
        err = fl_galera_node(app->db, node);
    return err == FL_OK && *node == FL_GALERA_NOT_READY ? FL_EDB : err;
}

/* Ends the mysql check: the node in use when the URL lists several, and its wsrep_ready. */
static void mysql_details(struct fl_app *app, enum fl_galera_node node, struct fl_buf *b)
{
    if (fl_db_hosts(app->db) > 1) {
        struct fl_buf addr;
        fl_buf_init(&addr, 1024);
        fl_db_address(app->db, &addr);
        fl_buf_puts(b, ",\"address\":");
        fl_json_str(b, fl_buf_str(&addr));
        fl_buf_free(&addr);
    }
    if (node != FL_GALERA_NONE)
        fl_buf_appendf(b, ",\"wsrep_ready\":%s", node == FL_GALERA_READY ? "true" : "false");
    fl_buf_putc(b, '}');
}

void fl_h_health(struct fl_app *app, struct fl_req *req, struct fl_resp *resp)
{
    int64_t t0 = fl_time_mono_us(), t1, t2;
    enum fl_galera_node node;
    enum fl_err db_err = check_mysql(app, &node), redis_err;
    struct fl_buf replicas;
    bool replica_failed;

    (void)req;
    t1 = fl_time_mono_us();
    fl_buf_init(&replicas, 4096);
    replica_failed = check_replicas(app, t0, &replicas);
    t2 = fl_time_mono_us();
    redis_err = fl_redis_ping(app->redis);
    resp->status = db_err ? 503 : 200;
    resp->content_type = FL_CT_JSON;
    fl_resp_header(resp, "Cache-Control", "no-store");
    fl_buf_appendf(&resp->body, "{\"status\":\"%s\",\"checks\":{",
                   db_err                          ? "fail"
                   : (replica_failed || redis_err) ? "degraded"
                                                   : "ok");
    check(&resp->body, "mysql", db_err, t1 - t0);
    mysql_details(app, node, &resp->body);
    fl_buf_append(&resp->body, replicas.p, replicas.len);
    fl_buf_putc(&resp->body, ',');
    check(&resp->body, "redis", redis_err, fl_time_mono_us() - t2);
    fl_buf_puts(&resp->body, "}},\"version\":\"" FL_VERSION "\"}\n");
    fl_buf_free(&replicas);
}

void fl_h_health_live(struct fl_app *app, struct fl_req *req, struct fl_resp *resp)
{
    (void)app;
    (void)req;
    resp->content_type = FL_CT_JSON;
    fl_resp_header(resp, "Cache-Control", "no-store");
    fl_buf_puts(&resp->body, "{\"status\":\"ok\",\"version\":\"" FL_VERSION "\"}\n");
}
