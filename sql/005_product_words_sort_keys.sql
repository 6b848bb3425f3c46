-- SPDX-License-Identifier: MIT
-- The search index carries each product's sort keys and category, so that one word's
-- products can be read in listing order and cut by LIMIT, the way the listing reads
-- products: (word, created_at, product_id) is the primary key (newest/oldest), and
-- (word, price, product_id) and (word, name, product_id) serve the other sorts, each
-- covering the price and category filters so that a filter reads no rows. Reading a word
-- in order costs the page, not the word's frequency: FULLTEXT or a join to products would
-- sort every match first. (product_id, word) is unique, so "does product p have
-- word w" is one eq_ref lookup. The copies are kept in step by every write
-- (lib/fl_catalog.c); created_at never changes after insert.
--
-- vocabulary lists every word product_words has held, so that the words a query prefix
-- matches ("tomato" -> tomato, tomatoes) are one short range of a small table. (A
-- DISTINCT over product_words needs the optimizer to choose a loose index scan, which it
-- sometimes did not: 116 ms for a prefix in half the products.) Words are added by every
-- write and never removed: a word no product has any more only costs an empty branch.
ALTER TABLE product_words
    ADD COLUMN created_at DATETIME(6)   NOT NULL DEFAULT '1970-01-01 00:00:00',
    ADD COLUMN price      DECIMAL(10,2) NOT NULL DEFAULT 0,
    ADD COLUMN name       VARCHAR(200)  NOT NULL DEFAULT '',
    ADD COLUMN category   VARCHAR(64)   NOT NULL DEFAULT '';

UPDATE product_words w JOIN products p ON p.id = w.product_id
   SET w.created_at = p.created_at, w.price = p.price, w.name = p.name, w.category = p.category;

ALTER TABLE product_words
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (word, created_at, product_id),
    DROP KEY ix_product_words_product,
    ADD UNIQUE KEY ix_product_words_product (product_id, word),
    ADD KEY ix_product_words_price (word, price, product_id, category),
    ADD KEY ix_product_words_name (word, name, product_id, price, category);

CREATE TABLE vocabulary (
    word VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY
) ENGINE=InnoDB;

INSERT INTO vocabulary (word) SELECT DISTINCT word FROM product_words;

-- Two partitions by word, split at 'hi' so that each holds half the seeded entries:
-- farmlokal-ctl seed loads and indexes both halves at once, one per core, and exchanges
-- them in (ALTER TABLE builds a table's indexes on one core). Every key holds word, as
-- partitioning requires, and a query on one word or prefix reads one partition.
ALTER TABLE product_words
    PARTITION BY RANGE COLUMNS (word) (
        PARTITION p0 VALUES LESS THAN ('hi'),
        PARTITION p1 VALUES LESS THAN (MAXVALUE)
    );
