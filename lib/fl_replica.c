/* SPDX-License-Identifier: MIT */
#include "fl_replica.h"

#include <stdlib.h>
#include <string.h>

#include "fl_log.h"
#include "fl_time.h"

/*
 * How long a read waits for the replica to apply the primary's position. A replica that is
 * keeping up applies a write within a millisecond or two; one further behind costs this
 * once, and is then passed over for PASS_OVER_US.
 */
#define WAIT_MS            20
#define PASS_OVER_US       1000000
#define POSITION_MAX_BYTES 1024 /* "domain-server-seqno" per replication domain */

struct fl_replica {
    struct fl_db *db;
    int64_t pass_over_until_us; /* monotonic; 0 when the replica is in use */
    char position[POSITION_MAX_BYTES];
};

struct fl_replica *fl_replica_new(const struct fl_mysql_dsn *dsn, unsigned timeout_s)
{
    struct fl_replica *rep = calloc(1, sizeof(*rep));

    if (rep == NULL)
        return NULL;
    rep->db = fl_db_new(dsn, timeout_s);
    if (rep->db == NULL) {
        free(rep);
        return NULL;
    }
    return rep;
}

void fl_replica_free(struct fl_replica *rep)
{
    if (rep == NULL)
        return;
    fl_db_free(rep->db);
    free(rep);
}

struct fl_db *fl_replica_db(const struct fl_replica *rep)
{
    return rep ? rep->db : NULL;
}

/* Copies the one text column into the buffer ud (POSITION_MAX_BYTES). */
static enum fl_err read_position(void *ud, const struct fl_str *cols, size_t ncols)
{
    char *out = ud;

    if (ncols < 1 || cols[0].p == NULL || cols[0].len >= POSITION_MAX_BYTES)
        return FL_ETOOBIG;
    memcpy(out, cols[0].p, cols[0].len);
    out[cols[0].len] = '\0';
    return FL_OK;
}

/* MASTER_GTID_WAIT's answer: 0 reached, -1 timed out, NULL not a replica. */
static enum fl_err read_reached(void *ud, const struct fl_str *cols, size_t ncols)
{
    *(bool *)ud = ncols >= 1 && fl_str_eq(cols[0], FL_STR("0"));
    return FL_OK;
}

static struct fl_db *pass_over(struct fl_replica *rep, struct fl_db *primary, const char *why,
                               enum fl_read_from *from)
{
    if (rep->pass_over_until_us == 0)
        fl_log(FL_LOG_WARN, "event=replica_passed_over reason=%s for_ms=%d", why,
               PASS_OVER_US / 1000);
    rep->pass_over_until_us = fl_time_mono_us() + PASS_OVER_US;
    *from = FL_READ_PASSED_OVER;
    return primary;
}

struct fl_db *fl_replica_reader(struct fl_replica *rep, struct fl_db *primary,
                                enum fl_read_from *from)
{
    static const char position[] = "SELECT @@global.gtid_binlog_pos";
    static const char wait[] = "SELECT MASTER_GTID_WAIT(?, ? / 1000)";
    struct fl_db_arg args[2];
    bool reached = false;
    enum fl_err err;

    if (rep == NULL) {
        *from = FL_READ_PRIMARY;
        return primary;
    }
    if (rep->pass_over_until_us != 0 && fl_time_mono_us() < rep->pass_over_until_us) {
        *from = FL_READ_PASSED_OVER;
        return primary;
    }
    err = fl_db_query(primary, position, NULL, 0, read_position, rep->position);
    if (err == FL_ETOOBIG)
        return pass_over(rep, primary, "unknown_position", from);
    if (err != FL_OK) {
        *from = FL_READ_REPLICA_BEHIND; /* the primary is down: nothing newer gets written */
        return rep->db;
    }
    args[0] = FL_DB_ARG_STR(fl_str_c(rep->position));
    args[1] = FL_DB_ARG_I64(WAIT_MS);
    if (fl_db_query(rep->db, wait, args, 2, read_reached, &reached) != FL_OK)
        return pass_over(rep, primary, "down", from);
    if (!reached)
        return pass_over(rep, primary, "behind", from);
    if (rep->pass_over_until_us != 0)
        fl_log(FL_LOG_INFO, "event=replica_caught_up");
    rep->pass_over_until_us = 0;
    *from = FL_READ_REPLICA;
    return rep->db;
}
