-- SPDX-License-Identifier: MIT
-- Our subscriptions at API B, one per callback URL, written by
-- `farmlokal-ctl webhook-register` so that a second run reuses the first one's.
CREATE TABLE webhook_subscriptions (
    url             VARCHAR(512)  NOT NULL,
    subscription_id VARCHAR(128)  NOT NULL,
    secret          VARCHAR(255)  NOT NULL,
    created_at      DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (url)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
