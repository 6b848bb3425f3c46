/* SPDX-License-Identifier: MIT */
/*
 * The route table: every path the API answers, with its method, handler, the query
 * parameters it accepts and its body limit. Matching is a linear scan: the table is small
 * and the scan costs less than the hashing would.
 */
#include "app.h"

#include <string.h>

#include "fl_webhook.h"

static const char *const no_params[] = {NULL};
static const char *const listing_params[] = {"limit",  "cursor", "category", "minPrice", "maxPrice",
                                             "search", "q",      "sort",     NULL};

static const struct fl_route routes[] = {
    {FL_METHOD_GET, "/health", fl_h_health, no_params, 0, FL_ROUTE_UNLIMITED},
    {FL_METHOD_GET, "/health/live", fl_h_health_live, no_params, 0, FL_ROUTE_UNLIMITED},
    {FL_METHOD_GET, "/metrics", fl_h_metrics, no_params, 0, FL_ROUTE_UNLIMITED},
    {FL_METHOD_GET, "/products", fl_h_products_list, listing_params, 0, FL_ROUTE_LIMITS_ITSELF},
    {FL_METHOD_POST, "/products", fl_h_products_create, no_params, FL_BODY_MAX_BYTES, 0},
    {FL_METHOD_GET, "/products/{id}", fl_h_products_get, no_params, 0, FL_ROUTE_LIMITS_ITSELF},
    {FL_METHOD_GET, "/products/external/{id}", fl_h_products_external, no_params, 0, 0},
    /* Signed machine traffic from API B: its volume is the partner's, not a client's. */
    {FL_METHOD_POST, "/webhooks/update", fl_h_webhooks_update, no_params, FL_WEBHOOK_BODY_MAX_BYTES,
     FL_ROUTE_UNLIMITED},
    {FL_METHOD_PATCH, "/products/{id}", fl_h_products_update, no_params, FL_BODY_MAX_BYTES, 0},
    {FL_METHOD_GET, "/openapi.json", fl_h_openapi, no_params, 0, 0},
};

#define N_ROUTES (FL_COUNTOF(routes))

unsigned fl_route_index(const struct fl_route *route)
{
    for (size_t i = 0; i < N_ROUTES; i++)
        if (strcmp(routes[i].pattern, route->pattern) == 0)
            return (unsigned)i + 1;
    return 0;
}

size_t fl_route_names(const char **names, size_t cap)
{
    size_t n = N_ROUTES + 1 < cap ? N_ROUTES + 1 : cap;

    names[0] = "unmatched";
    for (size_t i = 1; i < n; i++)
        names[i] = fl_route_index(&routes[i - 1]) == i ? routes[i - 1].pattern : NULL;
    return n;
}

/* Matches path against pattern segment by segment; "{x}" takes one non-empty segment. */
static bool match(const char *pattern, struct fl_str path, struct fl_str *arg)
{
    const char *p = pattern;
    size_t i = 0;

    while (*p && i <= path.len) {
        if (*p == '{') {
            size_t start = i;
            while (i < path.len && path.p[i] != '/')
                i++;
            if (i == start)
                return false;
            *arg = (struct fl_str){path.p + start, i - start};
            p = strchr(p, '}');
            if (p == NULL)
                return false;
            p++;
            continue;
        }
        if (i == path.len || *p != path.p[i])
            return false;
        p++, i++;
    }
    return *p == '\0' && i == path.len;
}

/* req's path as routes see it: "/health/" is "/health", a trailing slash is no resource. */
static struct fl_str route_path(const struct fl_req *req)
{
    struct fl_str path = req->path;

    if (path.len > 1 && path.p[path.len - 1] == '/')
        path.len--;
    return path;
}

unsigned fl_route_path_index(const struct fl_req *req)
{
    struct fl_str arg;

    for (size_t i = 0; i < N_ROUTES; i++)
        if (match(routes[i].pattern, route_path(req), &arg))
            return fl_route_index(&routes[i]);
    return 0;
}

const struct fl_route *fl_route_match(struct fl_req *req, struct fl_buf *allow)
{
    struct fl_str path = route_path(req);
    enum fl_method m = req->method == FL_METHOD_HEAD ? FL_METHOD_GET : req->method;
    unsigned methods = 0;

    for (size_t i = 0; i < N_ROUTES; i++) {
        struct fl_str arg = FL_STR_NULL;
        if (!match(routes[i].pattern, path, &arg))
            continue;
        if (routes[i].method == m) {
            req->route_arg = arg;
            return &routes[i];
        }
        methods |= 1u << routes[i].method;
    }
    for (int k = 0; k < FL_METHOD__MAX; k++) {
        if (!(methods & (1u << k)))
            continue;
        if (allow->len)
            fl_buf_append(allow, ", ", 2);
        fl_buf_puts(allow, fl_method_name((enum fl_method)k));
        if (k == FL_METHOD_GET)
            fl_buf_puts(allow, ", HEAD");
    }
    return NULL;
}
