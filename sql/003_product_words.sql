-- SPDX-License-Identifier: MIT
-- The search index: one row per distinct word of a product's name and description
-- (lower-cased, at most 32 bytes; see lib/fl_search.c for what a word is). A query word w
-- matches the products with a row `word LIKE 'w%'`. The primary key answers "which
-- products have a word starting with w" as one range; the second index answers "does
-- product p have a word starting with w" as one short range, for scans in listing order.
-- Kept in step with products by every write (admin edits, webhooks, the seeder).
CREATE TABLE product_words (
    word       VARCHAR(32)     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    product_id BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (word, product_id),
    KEY ix_product_words_product (product_id, word)
) ENGINE=InnoDB STATS_AUTO_RECALC=0;
