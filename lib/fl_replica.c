/* SPDX-License-Identifier: MIT */
#include "fl_replica.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fl_log.h"
#include "fl_metrics.h"
#include "fl_time.h"

/*
 * How long a read waits for a replica to apply the primary's position. A replica that is
 * keeping up applies a write within a millisecond or two; one further behind costs this
 * once, and is then passed over for PASS_OVER_US. One second (not a growing backoff) so a
 * replica that recovered serves again within two: the pass-over, then the connection's own
 * probe interval (fl_db).
 */
#define WAIT_MS            20
#define PASS_OVER_US       1000000
#define POSITION_MAX_BYTES 1024 /* "domain-server-seqno" per replication domain */
#define ADDRESS_MAX_BYTES  256

_Static_assert(FL_DSN_LIST_MAX <= FL_METRICS_REPLICAS_MAX, "a counter row per replica");

struct member {
    struct fl_db *db;
    int64_t pass_over_until_us; /* monotonic; 0 when the replica is in use */
    char address[ADDRESS_MAX_BYTES];
};

struct fl_replica {
    struct member *members; /* n, in FL_MYSQL_READ_URL's order */
    size_t n;
    size_t next; /* the member the next read asks first */
    char position[POSITION_MAX_BYTES];
};

struct fl_replica *fl_replica_new(const struct fl_mysql_dsn *dsns, size_t n, unsigned timeout_s)
{
    struct fl_replica *set = calloc(1, sizeof(*set));

    if (set == NULL || (set->members = calloc(n, sizeof(*set->members))) == NULL) {
        free(set);
        return NULL;
    }
    set->n = n;
    set->next = (size_t)getpid() % n; /* the workers of a pool start on different replicas */
    for (size_t i = 0; i < n; i++) {
        struct fl_buf addr;
        fl_buf_init(&addr, ADDRESS_MAX_BYTES - 1);
        fl_dsn_mysql_address(&dsns[i], &addr);
        memcpy(set->members[i].address, addr.p ? addr.p : "", addr.p ? addr.len + 1 : 1);
        fl_buf_free(&addr);
        if ((set->members[i].db = fl_db_new(&dsns[i], timeout_s)) == NULL) {
            fl_replica_free(set);
            return NULL;
        }
    }
    return set;
}

void fl_replica_free(struct fl_replica *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n; i++)
        fl_db_free(set->members[i].db);
    free(set->members);
    free(set);
}

size_t fl_replica_count(const struct fl_replica *set)
{
    return set ? set->n : 0;
}

struct fl_db *fl_replica_db(const struct fl_replica *set, size_t i)
{
    return set->members[i].db;
}

const char *fl_replica_address(const struct fl_replica *set, size_t i)
{
    return set->members[i].address;
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

static bool passed_over(const struct member *m, int64_t now_us)
{
    return m->pass_over_until_us != 0 && now_us < m->pass_over_until_us;
}

static void pass_over(struct fl_replica *set, size_t i, const char *why,
                      enum fl_metric_replica counted)
{
    struct member *m = &set->members[i];

    if (m->pass_over_until_us == 0)
        fl_log(FL_LOG_WARN, "event=replica_passed_over replica=%s reason=%s for_ms=%d", m->address,
               why, PASS_OVER_US / 1000);
    m->pass_over_until_us = fl_time_mono_us() + PASS_OVER_US;
    fl_metrics_replica_add((unsigned)i, counted);
}

struct fl_db *fl_replica_any(struct fl_replica *set)
{
    int64_t now = fl_time_mono_us();

    if (set == NULL)
        return NULL;
    for (size_t k = 0; k < set->n; k++) {
        size_t i = (set->next + k) % set->n;
        if (!passed_over(&set->members[i], now)) {
            set->next = (i + 1) % set->n;
            return set->members[i].db;
        }
    }
    return set->members[set->next].db;
}

/* Asks each replica in turn, from set->next, to reach set->position; the first that does. */
static struct fl_db *caught_up(struct fl_replica *set)
{
    static const char wait[] = "SELECT MASTER_GTID_WAIT(?, ? / 1000)";
    struct fl_db_arg args[2] = {FL_DB_ARG_STR(fl_str_c(set->position)), FL_DB_ARG_I64(WAIT_MS)};
    int64_t now = fl_time_mono_us();

    for (size_t k = 0; k < set->n; k++) {
        size_t i = (set->next + k) % set->n;
        struct member *m = &set->members[i];
        bool reached = false;

        if (passed_over(m, now))
            continue;
        if (fl_db_query(m->db, wait, args, 2, read_reached, &reached) != FL_OK) {
            pass_over(set, i, "down", FL_MR_PASSED_DOWN);
            continue;
        }
        if (!reached) {
            pass_over(set, i, "behind", FL_MR_PASSED_BEHIND);
            continue;
        }
        if (m->pass_over_until_us != 0)
            fl_log(FL_LOG_INFO, "event=replica_caught_up replica=%s", m->address);
        m->pass_over_until_us = 0;
        set->next = (i + 1) % set->n;
        fl_metrics_replica_add((unsigned)i, FL_MR_READS);
        return m->db;
    }
    return NULL;
}

struct fl_db *fl_replica_reader(struct fl_replica *set, struct fl_db *primary,
                                enum fl_read_from *from)
{
    static const char position[] = "SELECT @@global.gtid_binlog_pos";
    int64_t now = fl_time_mono_us();
    struct fl_db *db;
    size_t open = 0;
    enum fl_err err;

    *from = FL_READ_PRIMARY;
    if (set == NULL)
        return primary;
    for (size_t i = 0; i < set->n; i++)
        open += !passed_over(&set->members[i], now);
    *from = FL_READ_PASSED_OVER;
    if (open == 0)
        return primary; /* every replica is out: no need to ask the primary its position */
    err = fl_db_query(primary, position, NULL, 0, read_position, set->position);
    if (err == FL_ETOOBIG) {
        for (size_t i = 0; i < set->n; i++)
            pass_over(set, i, "unknown_position", FL_MR_PASSED_BEHIND);
        return primary;
    }
    if (err != FL_OK) {
        *from = FL_READ_REPLICA_BEHIND; /* the primary is down: nothing newer gets written */
        return fl_replica_any(set);
    }
    db = caught_up(set);
    if (db == NULL)
        return primary;
    *from = FL_READ_REPLICA;
    return db;
}
