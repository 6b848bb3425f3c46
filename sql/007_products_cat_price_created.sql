-- SPDX-License-Identifier: MIT
-- The (category, price) index also carries created_at, so that a price range of one
-- category listed newest or oldest first is read and sorted from the index alone when the
-- planner finds the range small (lib/fl_catalog.c, by_price), the way sql/006 lets the
-- price index do it for every category. A price window past a category's prices then
-- reads the few entries in the window, not the whole category in date order.
-- (category, price, id) stays its prefix, so the price sorts read it as before.
ALTER TABLE products
    DROP INDEX ix_products_cat_price,
    ADD KEY ix_products_cat_price (category, price, id, created_at);
