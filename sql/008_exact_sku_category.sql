-- SPDX-License-Identifier: MIT
-- sku and category compare exactly, byte for byte, as SPEC says ("exact category", "sku
-- unique"). Under the table's utf8mb4_unicode_ci, "VEG-1" and "veg-1" were one sku (a 409),
-- category=Fruits listed "fruits", and a zero-width space before a category name still
-- matched it (U+200B weighs nothing there). utf8mb4_nopad_bin is byte order with no trailing
-- space padding, the order fl_str_cmp sorts in. product_words keeps its copy of category for
-- filtered searches, so it changes too. name keeps the case-insensitive collation: name_asc
-- sorts as people read.
--
-- Every index holding these columns (uq_products_sku, ix_products_cat_*, and product_words'
-- ix_product_words_price and ix_product_words_name) is rebuilt by the ALTER. On a filled
-- table that is a copy of the table (tens of seconds for 1M products); it cannot fail on
-- existing rows, since values distinct under the old collation stay distinct under a
-- binary one.
ALTER TABLE products
    MODIFY sku      VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    MODIFY category VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE product_words
    MODIFY category VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL
        DEFAULT '';
