-- SPDX-License-Identifier: MIT
-- Every webhook event received, written in the same transaction as the update it applies:
-- the primary key on event_id is what guarantees an event is applied at most once, whatever
-- Redis remembers. outcome is applied, stale or unknown_product.
CREATE TABLE webhook_events (
    event_id    VARCHAR(128)  NOT NULL,
    type        VARCHAR(64)   NOT NULL,
    occurred_at DATETIME(6)   NOT NULL,
    received_at DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    outcome     VARCHAR(32)   NOT NULL,
    PRIMARY KEY (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
