/* SPDX-License-Identifier: MIT */
/* GET /metrics: every worker's counters on this host, in Prometheus text format 0.0.4. */
#include "app.h"

#include "fl_galera.h"
#include "fl_metrics.h"
#include "fl_upstream.h"

void fl_h_metrics(struct fl_app *app, struct fl_req *req, struct fl_resp *resp)
{
    const char *routes[FL_METRICS_ROUTES_MAX], *methods[FL_METHOD__MAX];
    const char *replicas[FL_METRICS_REPLICAS_MAX];
    struct fl_metrics_labels labels = {routes,   fl_route_names(routes, FL_METRICS_ROUTES_MAX),
                                       methods,  FL_METHOD__MAX,
                                       replicas, fl_replica_count(app->replica)};
    struct fl_upstream_policy policy;
    enum fl_breaker_state circuit;
    enum fl_galera_node node;

    for (int m = 0; m < FL_METHOD__MAX; m++)
        methods[m] = fl_method_name((enum fl_method)m);
    for (size_t r = 0; r < labels.n_replicas; r++)
        replicas[r] = fl_replica_address(app->replica, r);
    fl_api_a_policy(app->cfg, &policy);
    if (fl_upstream_breaker_state(&policy, app->redis, req->arena, &circuit) != FL_OK)
        circuit = FL_BREAKER_CLOSED; /* Redis is down: no breaker is shared, none is open */
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    fl_resp_header(resp, "Cache-Control", "no-store");
    /* Without FL_METRICS_DIR only the pool's table knows its workers (NULL: a pool of one). */
    fl_metrics_render(app->cfg->metrics_dir, &labels, (int)circuit,
                      app->bulkhead ? fl_bulkhead_members(app->bulkhead) : 1, &resp->body);
    if (fl_galera_node(app->db, &node) == FL_OK && node != FL_GALERA_NONE)
        fl_buf_appendf(&resp->body,
                       "# HELP farmlokal_mysql_wsrep_ready 1 when the Galera node this worker "
                       "uses takes queries.\n# TYPE farmlokal_mysql_wsrep_ready gauge\n"
                       "farmlokal_mysql_wsrep_ready %d\n",
                       node == FL_GALERA_READY);
}
