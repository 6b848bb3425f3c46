/* SPDX-License-Identifier: MIT */
/*
 * farmlokal-ctl webhook-register: subscribes FL_PUBLIC_URL + FL_BASE_PATH +
 * /webhooks/update to API B's product.updated events with an OAuth token, and keeps the
 * subscription in webhook_subscriptions. A second run finds it there and registers nothing.
 * It prints the signing secret once, as the FL_WEBHOOK_SECRET line to configure.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "fl_arena.h"
#include "fl_buf.h"
#include "fl_db.h"
#include "fl_httpc.h"
#include "fl_json.h"
#include "fl_oauth.h"
#include "fl_redis.h"
#include "fl_time.h"

#define CALL_TIMEOUT_MS 10000

struct subscription {
    struct fl_buf id, secret;
    bool found;
};

static enum fl_err read_subscription(void *ud, const struct fl_str *c, size_t n)
{
    struct subscription *s = ud;

    if (n != 2 || c[0].p == NULL || c[1].p == NULL)
        return FL_EDB;
    fl_buf_put(&s->id, c[0]);
    fl_buf_put(&s->secret, c[1]);
    s->found = true;
    return FL_OK;
}

/* POSTs the subscription to API B; fills s from its answer. */
/* Reads API B's answer to a registration into s; false (with a message) when it lacks one. */
static bool read_registration(const struct fl_httpc_response *resp, struct fl_arena *arena,
                              struct subscription *s)
{
    struct fl_json_field f[2] = {{"id", 0, {0}}, {"secret", 0, {0}}};
    struct fl_buf detail;
    enum fl_err err;

    fl_buf_init(&detail, 256);
    err =
        fl_json_parse_object(fl_buf_str(&resp->body), arena, f, 2, FL_JSON_IGNORE_UNKNOWN, &detail);
    fl_buf_free(&detail);
    if (err != FL_OK || f[0].type != FL_JSON_STRING || f[1].type != FL_JSON_STRING ||
        f[0].text.len == 0 || f[0].text.len > 128 ||
        !fl_str_has_prefix(f[1].text, FL_STR("whsec_")) || f[1].text.len > 255) {
        fputs("farmlokal-ctl: webhook-register: API B's answer lacks an id and a secret\n", stderr);
        return false;
    }
    fl_buf_put(&s->id, f[0].text);
    fl_buf_put(&s->secret, f[1].text);
    return true;
}

static int register_at_api_b(const struct fl_config *cfg, struct fl_str url, struct subscription *s)
{
    const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
    struct fl_redis *r = fl_redis_new(&cfg->redis, 1000);
    struct fl_httpc *http = fl_httpc_new((size_t)1 << 20);
    struct fl_oauth *oauth = fl_oauth_new(cfg);
    struct fl_arena *arena = fl_arena_new((size_t)4 << 20);
    struct fl_httpc_response resp;
    struct fl_buf body, endpoint, auth;
    struct fl_str token;
    int status = 1;

    fl_buf_init(&body, 4096);
    fl_buf_init(&endpoint, 4096);
    fl_buf_init(&auth, 8192);
    fl_buf_init(&resp.body, (size_t)1 << 20);
    if (r == NULL || http == NULL || oauth == NULL || arena == NULL)
        goto free_all;
    if (fl_oauth_token(oauth, r, http, arena, fl_time_mono_us() + CALL_TIMEOUT_MS * 1000LL,
                       &token) != FL_OK) {
        fputs("farmlokal-ctl: webhook-register: no OAuth token from FL_OAUTH_TOKEN_URL\n", stderr);
        goto free_all;
    }
    fl_buf_puts(&body, "{\"url\":");
    fl_json_str(&body, url);
    fl_buf_puts(&body, ",\"events\":[\"product.updated\"]}");
    fl_buf_appendf(&endpoint, "%s/webhooks", cfg->api_b_url);
    fl_buf_appendf(&auth, "Authorization: Bearer %.*s", (int)token.len, token.p);
    headers[1] = auth.p;
    if (fl_httpc_do(http,
                    &(struct fl_httpc_request){"POST", endpoint.p, headers, fl_buf_str(&body), NULL,
                                               NULL, CALL_TIMEOUT_MS},
                    &resp) != FL_OK ||
        (resp.status != 200 && resp.status != 201)) {
        fprintf(stderr, "farmlokal-ctl: webhook-register: API B answered %ld\n", resp.status);
        goto free_all;
    }
    status = read_registration(&resp, arena, s) ? 0 : 1;
free_all:
    fl_buf_free(&body);
    fl_buf_free(&endpoint);
    fl_buf_free(&auth);
    fl_buf_free(&resp.body);
    fl_arena_free(arena);
    fl_oauth_free(oauth);
    fl_httpc_free(http);
    fl_redis_free(r);
    return status;
}

int fl_ctl_webhook_register(const struct fl_config *cfg, int argc, char **argv)
{
    static const char find[] =
        "SELECT subscription_id, secret FROM webhook_subscriptions WHERE url = ?";
    static const char keep[] =
        "INSERT INTO webhook_subscriptions (url, subscription_id, secret) VALUES (?, ?, ?)";
    struct subscription s = {.found = false};
    struct fl_buf url;
    struct fl_db *db;
    int status = 1;

    (void)argv;
    if (argc > 1) {
        fputs(fl_ctl_usage("webhook-register"), stderr);
        return 2;
    }
    if (cfg->api_b_url == NULL || cfg->public_url == NULL || cfg->oauth_token_url == NULL) {
        fputs("farmlokal-ctl: webhook-register needs FL_API_B_URL, FL_PUBLIC_URL and the "
              "FL_OAUTH_* settings\n",
              stderr);
        return 2;
    }
    fl_buf_init(&url, 1024);
    fl_buf_init(&s.id, 256);
    fl_buf_init(&s.secret, 512);
    fl_buf_appendf(&url, "%s%s/webhooks/update", cfg->public_url, cfg->base_path);
    db = fl_db_new(&cfg->mysql, 30);
    struct fl_db_arg a[3] = {FL_DB_ARG_STR(fl_buf_str(&url))};
    if (db == NULL || fl_db_query(db, find, a, 1, read_subscription, &s) != FL_OK) {
        fputs("farmlokal-ctl: webhook-register: cannot read webhook_subscriptions (migrate "
              "first)\n",
              stderr);
        goto free_all;
    }
    if (!s.found) {
        if (register_at_api_b(cfg, fl_buf_str(&url), &s) != 0)
            goto free_all;
        a[1] = FL_DB_ARG_STR(fl_buf_str(&s.id));
        a[2] = FL_DB_ARG_STR(fl_buf_str(&s.secret));
        if (fl_db_exec(db, keep, a, 3, NULL, NULL) != FL_OK) {
            fputs("farmlokal-ctl: webhook-register: registered, but could not store it\n", stderr);
            goto free_all;
        }
    }
    printf("%s subscription %s for %s\nFL_WEBHOOK_SECRET=%s\n", s.found ? "existing" : "new",
           s.id.p, url.p, s.secret.p);
    status = 0;
free_all:
    fl_db_free(db);
    fl_buf_free(&url);
    fl_buf_free(&s.id);
    fl_buf_free(&s.secret);
    return status;
}
