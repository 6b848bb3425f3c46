/* SPDX-License-Identifier: MIT */
/*
 * The catalogue's writes: a new product, and a change to one, each with its search index
 * (product_words, vocabulary) kept in step in the same transaction. The admin routes and
 * the webhook service both change products through fl_catalog_write_change, so a product
 * is updated and re-indexed one way. It validates nothing (the caller has) and reads no
 * listing.
 */
#ifndef FL_CATALOG_WRITE_H
#define FL_CATALOG_WRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "fl_db.h"
#include "fl_err.h"
#include "fl_str.h"

/* The fields of a write; a NULL p means "not given". */
struct fl_product_input {
    struct fl_str sku, name, description, category, price, unit, producer;
    bool has_stock;
    uint64_t stock;
};

/*
 * Creates a product from in (every field but stock required, validated by the caller) and
 * indexes its words, in one transaction, run again after a certification conflict or a
 * lost node (fl_db_transact). Returns FL_OK with the new id, FL_ECONFLICT when the sku
 * exists (also when a first try's commit landed but its answer was lost), or FL_EDB.
 */
enum fl_err fl_catalog_write_create(struct fl_db *db, const struct fl_product_input *in,
                                    uint64_t *id);

/*
 * Changes the given fields of product id (fl_catalog_write_change), in a transaction of
 * its own that locks the row first, run again after a certification conflict or a lost
 * node (fl_db_transact; the same change twice is the change once). Returns FL_OK,
 * FL_ENOTFOUND, FL_ENOMEM or FL_EDB.
 */
enum fl_err fl_catalog_write_update(struct fl_db *db, uint64_t id,
                                    const struct fl_product_input *in);

/*
 * Inside the caller's transaction, which holds product id's row lock: sets the fields in
 * gives (all but sku), updated_at, and last_event_at when event_at.p is not NULL
 * ("YYYY-MM-DD HH:MM:SS.ffffff" UTC); then rewrites the product's words when its name or
 * description changed (name and description are the row's texts as locked, for the one
 * not given), or copies its price, name and category into its words when one of those
 * changed. Returns FL_OK, FL_ENOMEM or FL_EDB.
 */
enum fl_err fl_catalog_write_change(struct fl_db *db, uint64_t id,
                                    const struct fl_product_input *in, struct fl_str event_at,
                                    struct fl_str name, struct fl_str description);

/*
 * Inside the caller's transaction: rewrites product id's search rows from its name and
 * description (adding new words to the vocabulary), as every write above does; for
 * farmlokal-ctl reindex. Returns FL_OK, FL_ENOMEM or FL_EDB.
 */
enum fl_err fl_catalog_write_words(struct fl_db *db, uint64_t id, struct fl_str name,
                                   struct fl_str description);

#endif
