/* SPDX-License-Identifier: MIT */
/*
 * farmlokal-ctl check-data: reads every product, a page at a time in id order, and reports
 * each text column that is not strict UTF-8 (fl_utf8_valid, the check every input passes
 * since issue #15). MariaDB's utf8mb4 takes surrogates (ED A0 80), so rows written before
 * that may hold bytes the API would serve as invalid JSON. It only reads and repairs
 * nothing. The statement lives here, beside the one command that runs it, as migrate's do:
 * it serves no request, so it does not belong in the catalog service.
 */
#include <inttypes.h>
#include <stdio.h>

#include "ctl.h"
#include "fl_db.h"

#define CHECK_TIMEOUT_S 60
#define CHECK_PAGE_ROWS 1000

static const char page_sql[] = "SELECT id, sku, name, description, category, unit, producer"
                               " FROM products WHERE id > ? ORDER BY id LIMIT ?";
static const char *const columns[] = {"id",       "sku",  "name",    "description",
                                      "category", "unit", "producer"};

struct check {
    uint64_t last_id; /* the page's last id, where the next page starts */
    uint64_t rows;    /* rows of the current page */
    uint64_t checked; /* rows so far */
    uint64_t bad;     /* columns that failed so far */
};

static enum fl_err check_row(void *ud, const struct fl_str *cols, size_t ncols)
{
    struct check *c = ud;

    if (ncols != FL_COUNTOF(columns) || fl_str_to_u64(cols[0], 1, UINT64_MAX, &c->last_id) != FL_OK)
        return FL_EDB;
    for (size_t i = 1; i < ncols; i++) {
        if (cols[i].p && !fl_utf8_valid(cols[i])) {
            printf("product %" PRIu64 ": %s is not valid UTF-8\n", c->last_id, columns[i]);
            c->bad++;
        }
    }
    c->rows++;
    return FL_OK;
}

int fl_ctl_check_data(const struct fl_config *cfg, int argc, char **argv)
{
    struct check c = {0, 0, 0, 0};
    struct fl_db *db;
    enum fl_err err;

    (void)argv;
    if (argc > 1) {
        fputs(fl_ctl_usage("check-data"), stderr);
        return 2;
    }
    db = fl_db_new(&cfg->mysql, CHECK_TIMEOUT_S);
    if (db == NULL)
        return 1;
    do {
        struct fl_db_arg args[2] = {FL_DB_ARG_U64(c.last_id), FL_DB_ARG_U64(CHECK_PAGE_ROWS)};

        c.rows = 0;
        err = fl_db_query(db, page_sql, args, 2, check_row, &c);
        c.checked += c.rows;
    } while (err == FL_OK && c.rows == CHECK_PAGE_ROWS);
    fl_db_free(db);
    if (err != FL_OK) {
        fputs("farmlokal-ctl: check-data: cannot read the products (see the log line above)\n",
              stderr);
        return 1;
    }
    printf("%" PRIu64 " products checked, %" PRIu64 " text columns not valid UTF-8\n", c.checked,
           c.bad);
    return c.bad ? 1 : 0;
}
