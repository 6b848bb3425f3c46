-- SPDX-License-Identifier: MIT
-- The catalogue. Money is DECIMAL, never a float; timestamps are UTC with microseconds.
-- Every listing order is (sort key, id), so each (filter, sort) pair the API offers has a
-- composite index on (filter, sort key, id): keyset pages are index range scans at any
-- depth. The sort indexes carry price after id so a price range is checked inside the
-- index (covering) instead of one row lookup per skipped entry.
-- Statistics are recalculated on demand (ANALYZE after bulk loads), not by the background
-- thread, which would otherwise burn a core during a seed.
CREATE TABLE products (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    sku           VARCHAR(64)     NOT NULL,
    name          VARCHAR(200)    NOT NULL,
    description   VARCHAR(2000)   NOT NULL DEFAULT '',
    category      VARCHAR(64)     NOT NULL,
    price         DECIMAL(10,2)   NOT NULL,
    unit          VARCHAR(32)     NOT NULL,
    stock         INT UNSIGNED    NOT NULL DEFAULT 0,
    producer      VARCHAR(200)    NOT NULL,
    created_at    DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at    DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    last_event_at DATETIME(6)     NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_products_sku (sku),
    KEY ix_products_created (created_at, id, price),
    KEY ix_products_price (price, id),
    KEY ix_products_name (name, id, price),
    KEY ix_products_cat_created (category, created_at, id, price),
    KEY ix_products_cat_price (category, price, id),
    KEY ix_products_cat_name (category, name, id, price)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci STATS_AUTO_RECALC=0;
