/* SPDX-License-Identifier: MIT */
/*
 * API B's webhooks: Standard Webhooks signature verification over the raw body, and the
 * exactly-once apply. The update and the event's record are written in one MySQL
 * transaction, so webhook_events' primary key is the guarantee; Redis only remembers
 * processed ids to answer redeliveries without a transaction.
 */
#ifndef FL_WEBHOOK_H
#define FL_WEBHOOK_H

#include <stdint.h>

#include "fl_arena.h"
#include "fl_catalog_write.h"
#include "fl_db.h"
#include "fl_err.h"
#include "fl_redis.h"
#include "fl_str.h"

#define FL_WEBHOOK_TOLERANCE_S    300
#define FL_WEBHOOK_BODY_MAX_BYTES ((size_t)256 << 10)

/*
 * Checks the webhook-signature header (space-separated "v1,<base64>" entries) against
 * HMAC-SHA256(secret, id "." timestamp "." body), in constant time, and that timestamp
 * (unix seconds) is within FL_WEBHOOK_TOLERANCE_S of now_s. Returns FL_OK or FL_EAUTH.
 */
enum fl_err fl_webhook_verify(struct fl_str secret, struct fl_str id, struct fl_str timestamp,
                              struct fl_str signatures, struct fl_str body, int64_t now_s);

/* An update to apply. */
struct fl_webhook_event {
    struct fl_str event_id, type;
    int64_t occurred_us;          /* microseconds since the epoch */
    struct fl_product_input data; /* sku, and any of price, stock, name, description */
};

enum fl_webhook_outcome {
    FL_WEBHOOK_APPLIED,
    FL_WEBHOOK_STALE, /* not newer than the last event applied to the product */
    FL_WEBHOOK_UNKNOWN_PRODUCT,
    FL_WEBHOOK_DUPLICATE, /* this event_id was recorded before */
    FL_WEBHOOK__MAX
};

/*
 * Records ev and, when it is the newest for its product, applies it, exactly once whatever
 * the concurrency or Redis's state, and then invalidates the listing cache. Returns FL_OK
 * with the outcome, or FL_EDB (nothing was recorded: the sender's retry will apply it).
 */
enum fl_err fl_webhook_apply(struct fl_db *db, struct fl_redis *r, struct fl_arena *arena,
                             const struct fl_webhook_event *ev, enum fl_webhook_outcome *out);

#endif
