/* SPDX-License-Identifier: MIT */
#include "fl_galera.h"

#include <stdbool.h>

#include "fl_str.h"

/* The two status variables, as SHOW GLOBAL STATUS rows. */
struct wsrep {
    bool provider; /* wsrep_provider_name is set: a provider is loaded */
    bool ready;    /* wsrep_ready is ON */
};

static enum fl_err read_status(void *ud, const struct fl_str *c, size_t n)
{
    struct wsrep *w = ud;

    if (n != 2 || c[0].p == NULL)
        return FL_EDB;
    if (fl_str_eq(c[0], FL_STR("wsrep_provider_name")))
        w->provider = c[1].p && c[1].len > 0;
    else if (fl_str_eq(c[0], FL_STR("wsrep_ready")))
        w->ready = c[1].p && fl_str_eq(c[1], FL_STR("ON"));
    return FL_OK;
}

enum fl_err fl_galera_node(struct fl_db *db, enum fl_galera_node *out)
{
    static const char sql[] =
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_provider_name', 'wsrep_ready')";
    struct wsrep w = {false, false};
    enum fl_err err;

    *out = FL_GALERA_NONE;
    if (fl_db_hosts(db) < 2 || fl_db_breaker_open(db))
        return FL_OK;
    if ((err = fl_db_query(db, sql, NULL, 0, read_status, &w)) != FL_OK)
        return err;
    *out = !w.provider ? FL_GALERA_NONE : w.ready ? FL_GALERA_READY : FL_GALERA_NOT_READY;
    if (*out == FL_GALERA_NOT_READY)
        fl_db_move_on(db); /* as a statement refused with 1047 would */
    return FL_OK;
}
