/* SPDX-License-Identifier: MIT */
/*
 * fl_catalog_write without MySQL: a create, an update, a change inside a transaction and
 * a re-index are each FL_EDB, never FL_OK or "not found", and leave no id behind. What
 * they write needs a server: tests/integration covers it.
 */
#include "fl_catalog_write.h"
#include "offline.h"
#include "test.h"

static void test_without_mysql(void)
{
    struct fl_db *db = offline_db();
    struct fl_product_input in = {
        .sku = FL_STR("TOM-1"),
        .name = FL_STR("Cherry tomatoes"),
        .category = FL_STR("vegetables"),
        .price = FL_STR("3.50"),
        .unit = FL_STR("kg"),
        .producer = FL_STR("Green Acres"),
        .has_stock = true,
        .stock = 12,
    };
    uint64_t id = 0;

    ASSERT_EQ(fl_catalog_write_create(db, &in, &id), FL_EDB);
    ASSERT_EQ(id, 0);
    ASSERT_EQ(fl_catalog_write_update(db, 7, &in), FL_EDB);
    ASSERT_EQ(fl_catalog_write_change(db, 7, &in, FL_STR("2026-11-24 14:42:29.123456"), in.name,
                                      FL_STR("")),
              FL_EDB);
    ASSERT_EQ(fl_catalog_write_words(db, 7, in.name, FL_STR("sweet and red")), FL_EDB);
    fl_db_free(db);
}

int main(void)
{
    test_without_mysql();
    return fl_test_done("test_catalog_write");
}
