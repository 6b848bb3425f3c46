/* SPDX-License-Identifier: MIT */
/*
 * Webhook verification and apply. The Redis key fl:webhook:<event_id> is set only after
 * the transaction committed, so a lost Redis never loses an update, and a failed
 * transaction never marks an event done. Concurrent deliveries of one event serialise on
 * the product row (SELECT ... FOR UPDATE) and the event's primary key: the second one finds
 * the key taken and rolls back. On a Galera cluster two deliveries on two nodes conflict at
 * commit instead: the loser is run again (fl_db_transact) and finds the key taken.
 */
#include "fl_webhook.h"

#include <string.h>

#include "fl_buf.h"
#include "fl_cache.h"
#include "fl_catalog_write.h"
#include "fl_crypto.h"
#include "fl_log.h"
#include "fl_time.h"

#define SEEN_TTL_S "604800"

enum fl_err fl_webhook_verify(struct fl_str secret, struct fl_str id, struct fl_str timestamp,
                              struct fl_str signatures, struct fl_str body, int64_t now_s)
{
    struct fl_str parts[5] = {id, FL_STR("."), timestamp, FL_STR("."), body};
    unsigned char mac[32];
    struct fl_buf expected;
    int64_t ts;
    bool ok = false;

    if (secret.len == 0 || id.len == 0 ||
        fl_str_to_i64(timestamp, 0, INT64_MAX / 2, &ts) != FL_OK ||
        ts < now_s - FL_WEBHOOK_TOLERANCE_S || ts > now_s + FL_WEBHOOK_TOLERANCE_S ||
        fl_crypto_hmac_sha256(secret, parts, 5, mac) != FL_OK)
        return FL_EAUTH;
    fl_buf_init(&expected, 64);
    fl_crypto_base64_encode((struct fl_str){(const char *)mac, sizeof(mac)}, &expected);
    for (size_t i = 0; i < signatures.len;) {
        const char *sp = memchr(signatures.p + i, ' ', signatures.len - i);
        size_t end = sp ? (size_t)(sp - signatures.p) : signatures.len;
        struct fl_str sig = {signatures.p + i, end - i};

        /* Check every entry, so the time taken does not tell which one matched. */
        if (fl_str_has_prefix(sig, FL_STR("v1,")) &&
            fl_crypto_equal((struct fl_str){sig.p + 3, sig.len - 3}, fl_buf_str(&expected)))
            ok = true;
        i = end + 1;
    }
    fl_buf_free(&expected);
    return ok ? FL_OK : FL_EAUTH;
}

struct target {
    uint64_t id;
    bool found, has_last;
    int64_t last_us;
    struct fl_str name, description;
    struct fl_arena *arena;
};

static enum fl_err read_target(void *ud, const struct fl_str *c, size_t n)
{
    struct target *t = ud;

    if (n != 4 || fl_str_to_u64(c[0], 1, UINT64_MAX, &t->id) != FL_OK)
        return FL_EDB;
    t->found = true;
    t->has_last = c[1].p != NULL;
    if (t->has_last && fl_time_parse_rfc3339(c[1], &t->last_us) != FL_OK)
        return FL_EDB;
    t->name = fl_arena_strdup(t->arena, c[2].p ? c[2] : FL_STR(""));
    t->description = fl_arena_strdup(t->arena, c[3].p ? c[3] : FL_STR(""));
    return t->name.p && t->description.p ? FL_OK : FL_ENOMEM;
}

static bool seen(struct fl_redis *r, struct fl_arena *arena, struct fl_str key)
{
    struct fl_redis_cmd cmd = FL_REDIS_CMD(FL_STR("EXISTS"), key);
    struct fl_redis_reply rep;

    return fl_redis_pipeline(r, arena, &cmd, 1, &rep) == FL_OK && rep.type == FL_REDIS_INT &&
           rep.integer == 1;
}

/* The outcome of an event for the product it names, as locked. */
static enum fl_webhook_outcome judge(const struct fl_webhook_event *ev, const struct target *t)
{
    if (!t->found)
        return FL_WEBHOOK_UNKNOWN_PRODUCT;
    if (t->has_last && ev->occurred_us <= t->last_us)
        return FL_WEBHOOK_STALE;
    return FL_WEBHOOK_APPLIED;
}

/* One event's transaction: what it works on, and its outcome. */
struct apply {
    struct fl_arena *arena;
    const struct fl_webhook_event *ev;
    enum fl_webhook_outcome out;
};

/*
 * The transaction's body (fl_db_transact runs it again after a certification conflict or a
 * lost node): locks the product, applies the event when it is the newest for it, and
 * records the event with its outcome. Returns FL_OK, FL_ECONFLICT when the event was
 * recorded before (by an earlier or concurrent delivery, or by an earlier try whose
 * commit landed although its answer was lost), or FL_EDB.
 */
static enum fl_err apply_in_tx(struct fl_db *db, void *ud)
{
    static const char lock[] =
        "SELECT id, DATE_FORMAT(last_event_at, '%Y-%m-%dT%H:%i:%s.%fZ'), name, description "
        "FROM products WHERE sku = ? FOR UPDATE";
    static const char record[] = "INSERT INTO webhook_events (event_id, type, occurred_at, outcome)"
                                 " VALUES (?, ?, ?, ?)";
    static const char *const outcome_names[FL_WEBHOOK__MAX] = {
        [FL_WEBHOOK_APPLIED] = "applied",
        [FL_WEBHOOK_STALE] = "stale",
        [FL_WEBHOOK_UNKNOWN_PRODUCT] = "unknown_product",
        [FL_WEBHOOK_DUPLICATE] = "duplicate"};
    struct apply *a = ud;
    const struct fl_webhook_event *ev = a->ev;
    struct target t = {.arena = a->arena};
    struct fl_db_arg sku = FL_DB_ARG_STR(ev->data.sku);
    char occurred[64];
    enum fl_err err;

    fl_time_format_db(ev->occurred_us, occurred);
    err = fl_db_query(db, lock, &sku, 1, read_target, &t);
    if (err == FL_OK)
        a->out = judge(ev, &t);
    if (err == FL_OK && a->out == FL_WEBHOOK_APPLIED)
        err =
            fl_catalog_write_change(db, t.id, &ev->data, fl_str_c(occurred), t.name, t.description);
    if (err == FL_OK) {
        struct fl_db_arg args[4] = {FL_DB_ARG_STR(ev->event_id), FL_DB_ARG_STR(ev->type),
                                    FL_DB_ARG_STR(fl_str_c(occurred)),
                                    FL_DB_ARG_STR(fl_str_c(outcome_names[a->out]))};
        err = fl_db_exec(db, record, args, 4, NULL, NULL);
    }
    return err;
}

enum fl_err fl_webhook_apply(struct fl_db *db, struct fl_redis *r, struct fl_arena *arena,
                             const struct fl_webhook_event *ev, enum fl_webhook_outcome *out)
{
    struct apply a = {arena, ev, FL_WEBHOOK_APPLIED};
    struct fl_buf key;
    enum fl_err err;

    fl_buf_init(&key, 256);
    fl_buf_puts(&key, "fl:webhook:");
    fl_buf_put(&key, ev->event_id);
    if (seen(r, arena, fl_buf_str(&key))) {
        *out = FL_WEBHOOK_DUPLICATE;
        fl_buf_free(&key);
        return FL_OK;
    }
    err = fl_db_transact(db, apply_in_tx, &a);
    *out = a.out;
    if (err == FL_ECONFLICT) {
        *out = FL_WEBHOOK_DUPLICATE; /* recorded by an earlier or concurrent delivery */
        err = FL_OK;
    }
    if (err == FL_OK) {
        /* Remember the event and, when it changed a product, invalidate every cached
         * listing: one round trip. */
        struct fl_redis_cmd cmds[2] = {FL_REDIS_CMD(FL_STR("SET"), fl_buf_str(&key), FL_STR("1"),
                                                    FL_STR("EX"), FL_STR(SEEN_TTL_S)),
                                       fl_cache_invalidate_cmd()};
        struct fl_redis_reply rep[2];
        if (fl_redis_pipeline(r, arena, cmds, *out == FL_WEBHOOK_APPLIED ? 2 : 1, rep) != FL_OK &&
            *out == FL_WEBHOOK_APPLIED)
            fl_log(FL_LOG_ERROR, "event=cache_invalidate_failed error=\"redis unreachable\"");
    }
    fl_buf_free(&key);
    return err;
}
