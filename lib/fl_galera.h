/* SPDX-License-Identifier: MIT */
/*
 * What a MySQL server says of its place in a MariaDB Galera cluster, for /health and
 * /metrics: whether it is a Galera node at all and, if so, whether it takes queries
 * (wsrep_ready). A node that does not is left for the next host of FL_MYSQL_URL, as fl_db
 * leaves one that refuses a statement with error 1047.
 */
#ifndef FL_GALERA_H
#define FL_GALERA_H

#include "fl_db.h"
#include "fl_err.h"

enum fl_galera_node {
    FL_GALERA_NONE,      /* a plain server (no Galera provider loaded), or not asked */
    FL_GALERA_READY,     /* wsrep_ready ON: in the cluster's primary component */
    FL_GALERA_NOT_READY, /* wsrep_ready OFF: refuses queries until it rejoins */
};

/*
 * Asks db's server (one SHOW statement, which a node that is not ready still answers) when
 * db's URL names several hosts (a cluster's nodes) and its breaker is closed; otherwise
 * sends nothing and says FL_GALERA_NONE, so that a plain server is asked nothing more than
 * before and the question is never the breaker's probe (a locked server answers it at
 * once, which would close the breaker on a server its reads still wait for). A node that
 * is not ready is left: db's next call connects to the next host. Returns FL_OK with *out,
 * or FL_EDB.
 */
enum fl_err fl_galera_node(struct fl_db *db, enum fl_galera_node *out);

#endif
