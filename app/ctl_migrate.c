/* SPDX-License-Identifier: MIT */
/*
 * farmlokal-ctl migrate: applies the embedded sql/NNN_*.sql files that schema_migrations
 * does not list yet, in order, each recorded as it succeeds. A named lock keeps two
 * concurrent runs (two hosts deploying at once) from applying the same file twice, and a
 * rerun applies nothing.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "ctl.h"
#include "fl_db.h"

#define MIGRATE_TIMEOUT_S 600

static const char create_table[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                   " version INT UNSIGNED NOT NULL PRIMARY KEY,"
                                   " name VARCHAR(255) NOT NULL,"
                                   " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
                                   ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
static const char take_lock[] = "SELECT GET_LOCK('farmlokal.migrate', 60)";
static const char release_lock[] = "SELECT RELEASE_LOCK('farmlokal.migrate')";
static const char is_applied[] = "SELECT 1 FROM schema_migrations WHERE version = ?";
static const char record[] = "INSERT INTO schema_migrations (version, name) VALUES (?, ?)";

static enum fl_err set_flag(void *ud, const struct fl_str *cols, size_t ncols)
{
    *(bool *)ud = ncols > 0 && cols[0].p && cols[0].len == 1 && cols[0].p[0] == '1';
    return FL_OK;
}

int fl_ctl_migrate(const struct fl_config *cfg, int argc, char **argv)
{
    struct fl_db *db;
    bool locked = false;
    unsigned applied = 0;
    int status = 1;

    (void)argv;
    if (argc > 1) {
        fputs(fl_ctl_usage("migrate"), stderr);
        return 2;
    }
    db = fl_db_new(&cfg->mysql, MIGRATE_TIMEOUT_S);
    if (db == NULL)
        return 1;
    if (fl_db_exec(db, create_table, NULL, 0, NULL, NULL) != FL_OK ||
        fl_db_query(db, take_lock, NULL, 0, set_flag, &locked) != FL_OK || !locked) {
        fputs("farmlokal-ctl: migrate: cannot reach the database or take the migration lock\n",
              stderr);
        goto unlock;
    }
    for (size_t i = 0; i < fl_n_migrations; i++) {
        const struct fl_migration *m = &fl_migrations[i];
        struct fl_db_arg args[2] = {FL_DB_ARG_U64(m->version), FL_DB_ARG_STR(fl_str_c(m->name))};
        bool done = false;

        if (fl_db_query(db, is_applied, args, 1, set_flag, &done) != FL_OK)
            goto unlock;
        if (done)
            continue;
        if (fl_db_exec_script(db, (struct fl_str){m->sql, m->len}) != FL_OK ||
            fl_db_exec(db, record, args, 2, NULL, NULL) != FL_OK) {
            fprintf(stderr, "farmlokal-ctl: migrate: %s failed (see the log line above)\n",
                    m->name);
            goto unlock;
        }
        printf("applied %s\n", m->name);
        applied++;
    }
    printf("schema up to date (%u applied, %zu known)\n", applied, fl_n_migrations);
    status = 0;
unlock:
    if (locked)
        fl_db_query(db, release_lock, NULL, 0, set_flag, &locked);
    fl_db_free(db);
    return status;
}
