/* SPDX-License-Identifier: MIT */
/*
 * farmlokal-ctl seed: fills the catalogue with N realistic, deterministic products (same
 * --seed, same rows) as fast as MariaDB allows. Rows are generated in memory (seed_gen.c), then
 * loaded into fresh copies of products, product_words and vocabulary (CREATE TABLE ... LIKE, so the
 * schema stays in sql/ alone) without their secondary indexes, in primary-key order through LOAD
 * DATA LOCAL (no temporary file): products and each partition of product_words at once, on a
 * connection each, each then indexed in one ALTER; the partitions are exchanged in, and all are
 * analysed and swapped in with one atomic RENAME: an interrupted seed leaves the live tables
 * untouched.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "fl_buf.h"
#include "fl_db.h"
#include "fl_time.h"
#include "seed_gen.h"

#define ROWS_MAX 50000000ULL

/* ---- the tables ---- */

struct ddl {
    struct fl_buf drop, add;
};

static enum fl_err collect_index(void *ud, const struct fl_str *c, size_t n)
{
    struct ddl *d = ud;

    if (n != 3 || c[0].p == NULL || c[2].p == NULL)
        return FL_EDB;
    fl_buf_appendf(&d->drop, "%sDROP INDEX `%.*s`", d->drop.len ? ", " : "", (int)c[0].len, c[0].p);
    fl_buf_appendf(&d->add, "%sADD %sKEY `%.*s` (%.*s)", d->add.len ? ", " : "",
                   c[1].len == 1 && c[1].p[0] == '0' ? "UNIQUE " : "", (int)c[0].len, c[0].p,
                   (int)c[2].len, c[2].p);
    return fl_buf_err(&d->drop) ? fl_buf_err(&d->drop) : fl_buf_err(&d->add);
}

/* The live table's secondary indexes, as DROP and ADD clauses. */
static enum fl_err read_indexes(struct fl_db *db, const char *table, struct ddl *d)
{
    static const char sql[] =
        "SELECT INDEX_NAME, MIN(NON_UNIQUE), GROUP_CONCAT(CONCAT('`', COLUMN_NAME, '`',"
        " IF(SUB_PART IS NULL, '', CONCAT('(', SUB_PART, ')'))) ORDER BY SEQ_IN_INDEX"
        " SEPARATOR ',') FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()"
        " AND TABLE_NAME = ? AND INDEX_NAME <> 'PRIMARY' GROUP BY INDEX_NAME ORDER BY INDEX_NAME";
    struct fl_db_arg a = FL_DB_ARG_STR(fl_str_c(table));

    fl_buf_init(&d->drop, 8192);
    fl_buf_init(&d->add, 8192);
    return fl_db_query(db, sql, &a, 1, collect_index, d);
}

/*
 * product_words is partitioned by word so that its halves load and index at once on two
 * cores (one ALTER builds a table's indexes on one core): each partition is filled as a
 * table of its own, then exchanged into the shadow table.
 */
#define PARTS_MAX 8

struct part {
    char name[64];  /* "p0" */
    char bound[64]; /* its words sort below this; "" for MAXVALUE */
    char table[96]; /* what the rows load into */
    char load_sql[512];
    struct seed_words ws;
};

struct parts {
    struct part p[PARTS_MAX];
    size_t n;
};

static enum fl_err collect_part(void *ud, const struct fl_str *c, size_t n)
{
    struct parts *ps = ud;
    struct part *p;

    if (n != 2 || c[0].p == NULL || c[1].p == NULL || ps->n == PARTS_MAX ||
        c[0].len >= sizeof(p->name) || c[1].len >= sizeof(p->bound))
        return FL_EDB; /* not partitioned as sql/005 makes it, or too finely */
    p = &ps->p[ps->n++];
    snprintf(p->name, sizeof(p->name), "%.*s", (int)c[0].len, c[0].p);
    /* RANGE COLUMNS bounds read "'h'" or "MAXVALUE". */
    if (c[1].len >= 2 && c[1].p[0] == '\'' && c[1].p[c[1].len - 1] == '\'')
        snprintf(p->bound, sizeof(p->bound), "%.*s", (int)c[1].len - 2, c[1].p + 1);
    else if (fl_str_eq(c[1], FL_STR("MAXVALUE")))
        p->bound[0] = '\0';
    else
        return FL_EDB;
    return FL_OK;
}

/* product_words' partitions, each with the table its rows load into. */
static enum fl_err read_parts(struct fl_db *db, struct parts *ps)
{
    static const char sql[] =
        "SELECT PARTITION_NAME, PARTITION_DESCRIPTION FROM information_schema.PARTITIONS"
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'product_words'"
        " ORDER BY PARTITION_ORDINAL_POSITION";
    enum fl_err err;

    ps->n = 0;
    if ((err = fl_db_query(db, sql, NULL, 0, collect_part, ps)) != FL_OK)
        return err;
    for (size_t i = 0; i < ps->n; i++)
        snprintf(ps->p[i].table, sizeof(ps->p[i].table), "product_words_seed_%s", ps->p[i].name);
    return ps->n ? FL_OK : FL_EDB;
}

/* Gives each part its rows of the generated words: those below its bound. */
static void split_words(struct parts *ps, const struct seed_gen *g)
{
    size_t at = 0;

    for (size_t i = 0; i < ps->n; i++) {
        at = seed_gen_words(g, at, ps->p[i].bound, &ps->p[i].ws);
        snprintf(ps->p[i].load_sql, sizeof(ps->p[i].load_sql),
                 "LOAD DATA LOCAL INFILE 'words' INTO TABLE %s CHARACTER SET utf8mb4 FIELDS "
                 "TERMINATED BY '\\t' ESCAPED BY '' LINES TERMINATED BY '\\n' (word, product_id, "
                 "created_at, price, name, category)",
                 ps->p[i].table);
    }
}

static enum fl_err run(struct fl_db *db, const char *sql)
{
    return fl_db_exec_script(db, fl_str_c(sql));
}

static enum fl_err runf(struct fl_db *db, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum fl_err runf(struct fl_db *db, const char *fmt, ...)
{
    char sql[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return run(db, sql);
}

/* Runs "ALTER TABLE <table> <clauses>" when there are clauses. */
static enum fl_err alter(struct fl_db *db, const char *table, const struct fl_buf *clauses)
{
    struct fl_buf sql;
    enum fl_err err = FL_OK;

    if (clauses->len == 0)
        return FL_OK;
    fl_buf_init(&sql, 16384);
    fl_buf_appendf(&sql, "ALTER TABLE %s %s", table, clauses->p);
    err = fl_buf_err(&sql) ? fl_buf_err(&sql) : run(db, sql.p);
    fl_buf_free(&sql);
    return err;
}

static enum fl_err flag(void *ud, const struct fl_str *c, size_t n)
{
    *(bool *)ud = n == 1 && c[0].p && c[0].len == 1 && c[0].p[0] == '1';
    return FL_OK;
}

static void phase(const char *what, int64_t t0)
{
    fprintf(stderr, "seed: %-28s %6.1f s\n", what, (double)(fl_time_mono_us() - t0) / 1e6);
}

/*
 * One table's load: rows from src into <table>_seed, then its secondary indexes. The two
 * tables load on two connections at once (MariaDB loads and indexes a table on one core).
 */
struct load_job {
    const struct fl_config *cfg;
    const char *load_sql;
    const char *table; /* the shadow table */
    const char *what;
    struct fl_buf *add; /* ADD KEY clauses */
    fl_db_source_fn src;
    void *src_ud;
    uint64_t expect; /* rows */
    int64_t load_us, index_us;
    bool ok;
};

static void *run_job(void *ud)
{
    struct load_job *j = ud;
    struct fl_db *db = fl_db_new(&j->cfg->mysql, 3600);
    int64_t t = fl_time_mono_us();
    uint64_t loaded = 0;

    j->ok = false;
    if (db == NULL)
        return NULL;
    fl_db_enable_bulk_load(db);
    if (run(db, "SET SESSION unique_checks = 0, foreign_key_checks = 0") == FL_OK &&
        fl_db_load_data(db, j->load_sql, j->src, j->src_ud, &loaded) == FL_OK &&
        loaded == j->expect) {
        j->load_us = fl_time_mono_us() - t;
        t = fl_time_mono_us();
        j->ok = alter(db, j->table, j->add) == FL_OK;
        j->index_us = fl_time_mono_us() - t;
    }
    fl_db_free(db);
    return NULL;
}

/* Creates the shadow tables: the ones rows load into without their secondary indexes, and
 * product_words_seed whole (its partitions are exchanged in). */
static enum fl_err prepare(struct fl_db *db, struct ddl *pd, struct ddl *wd, struct parts *ps)
{
    enum fl_err err = FL_OK;

    if ((err = run(db, "CREATE TABLE products_seed LIKE products")) != FL_OK ||
        (err = run(db, "CREATE TABLE product_words_seed LIKE product_words")) != FL_OK ||
        (err = run(db, "CREATE TABLE vocabulary_seed LIKE vocabulary")) != FL_OK ||
        (err = alter(db, "products_seed", &pd->drop)) != FL_OK)
        return err;
    for (size_t i = 0; i < ps->n && err == FL_OK; i++) {
        if ((err = runf(db, "CREATE TABLE %s LIKE product_words", ps->p[i].table)) == FL_OK &&
            (err = runf(db, "ALTER TABLE %s REMOVE PARTITIONING", ps->p[i].table)) == FL_OK)
            err = alter(db, ps->p[i].table, &wd->drop);
    }
    return err;
}

/* Drops every shadow table (they are empty or unfinished after a failure). */
static void drop_shadows(struct fl_db *db, const struct parts *ps)
{
    run(db, "DROP TABLE IF EXISTS products_seed, product_words_seed, vocabulary_seed");
    for (size_t i = 0; i < ps->n; i++)
        runf(db, "DROP TABLE IF EXISTS %s", ps->p[i].table);
}

/* Phase 1: the schema is migrated, and the catalogue empty unless replace. */
static bool may_seed(struct fl_db *db, struct parts *ps, bool replace)
{
    bool non_empty = false;

    if (fl_db_query(db, "SELECT EXISTS (SELECT 1 FROM products)", NULL, 0, flag, &non_empty) !=
            FL_OK ||
        read_parts(db, ps) != FL_OK) {
        fputs("seed: cannot read the schema (run farmlokal-ctl migrate first)\n", stderr);
        return false;
    }
    if (non_empty && !replace) {
        fputs("seed: products is not empty; --replace replaces the catalogue\n", stderr);
        return false;
    }
    return true;
}

/*
 * Phase 3: every shadow table (and partition) loaded at once, each on a connection and a
 * thread of its own: MariaDB loads and indexes each on one core.
 */
static bool load_all(const struct fl_config *cfg, struct parts *ps, const struct seed_gen *g,
                     uint64_t rows, struct ddl *pd, struct ddl *wd)
{
    struct seed_text src = {seed_gen_products(g), 0};
    struct load_job jobs[1 + PARTS_MAX];
    pthread_t threads[PARTS_MAX];
    size_t started = 0;
    bool ok = true;

    split_words(ps, g);
    jobs[0] = (struct load_job){cfg,
                                "LOAD DATA LOCAL INFILE 'products' INTO TABLE products_seed "
                                "CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '' "
                                "LINES TERMINATED BY '\\n' (id, sku, name, description, category, "
                                "price, unit, stock, producer, created_at, updated_at)",
                                "products_seed",
                                "products",
                                &pd->add,
                                seed_text_source,
                                &src,
                                rows,
                                0,
                                0,
                                false};
    for (size_t i = 0; i < ps->n; i++) {
        struct part *p = &ps->p[i];
        jobs[1 + i] = (struct load_job){
            cfg,    p->load_sql,          p->table, p->table, &wd->add, seed_words_source,
            &p->ws, p->ws.end - p->ws.at, 0,        0,        false};
        if (pthread_create(&threads[i], NULL, run_job, &jobs[1 + i]) != 0)
            break;
        started++;
    }
    run_job(&jobs[0]);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    for (size_t i = 0; i <= started; i++) {
        fprintf(stderr, "seed: %-24s %9" PRIu64 " rows loaded in %5.1f s, indexed in %5.1f s%s\n",
                jobs[i].what, jobs[i].expect, (double)jobs[i].load_us / 1e6,
                (double)jobs[i].index_us / 1e6, jobs[i].ok ? "" : " (FAILED)");
        ok = ok && jobs[i].ok;
    }
    return ok && started == ps->n;
}

/* Phase 4: the partitions exchanged into the shadow tables, which replace the live ones. */
static bool swap_in(struct fl_db *db, const struct parts *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        if (runf(db, "ALTER TABLE product_words_seed EXCHANGE PARTITION %s WITH TABLE %s",
                 ps->p[i].name, ps->p[i].table) != FL_OK ||
            runf(db, "DROP TABLE %s", ps->p[i].table) != FL_OK)
            return false;
    return run(db, "ANALYZE TABLE products_seed, product_words_seed, vocabulary_seed") == FL_OK &&
           run(db, "RENAME TABLE products TO products_old, products_seed TO products, "
                   "product_words TO product_words_old, product_words_seed TO product_words, "
                   "vocabulary TO vocabulary_old, vocabulary_seed TO vocabulary") == FL_OK &&
           run(db, "DROP TABLE products_old, product_words_old, vocabulary_old") == FL_OK;
}

/* Phase 2: the rows generated, and the vocabulary loaded (it is small: no shadow job). */
static bool generated(struct fl_db *db, struct seed_gen *g)
{
    int64_t t = fl_time_mono_us();
    struct seed_vocab v;
    uint64_t loaded = 0;
    enum fl_err err;

    if (!seed_gen_run(g))
        return false;
    phase("generated rows", t);
    if (!seed_gen_vocab(g, &v)) {
        fputs("seed: out of memory\n", stderr);
        return false;
    }
    err = fl_db_load_data(db,
                          "LOAD DATA LOCAL INFILE 'vocabulary' INTO TABLE vocabulary_seed "
                          "CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '' "
                          "LINES TERMINATED BY '\\n' (word)",
                          seed_vocab_source, &v, &loaded);
    seed_vocab_free(&v);
    return err == FL_OK;
}

static int seed(struct fl_db *db, const struct fl_config *cfg, uint64_t rows, uint64_t seed_value,
                bool replace)
{
    struct seed_gen *g = seed_gen_new(rows, seed_value);
    struct ddl pd = {0}, wd = {0};
    struct parts *ps = calloc(1, sizeof(*ps));
    int64_t t_all = fl_time_mono_us(), t;
    int status = 1;

    if (ps == NULL || g == NULL) {
        fputs("seed: out of memory\n", stderr);
        goto free_all;
    }
    if (!may_seed(db, ps, replace))
        goto free_all;
    t = fl_time_mono_us();
    drop_shadows(db, ps);
    if (read_indexes(db, "products", &pd) != FL_OK ||
        read_indexes(db, "product_words", &wd) != FL_OK || prepare(db, &pd, &wd, ps) != FL_OK)
        goto drop_shadows;
    phase("prepared tables", t);
    if (!generated(db, g))
        goto drop_shadows;
    t = fl_time_mono_us();
    if (!load_all(cfg, ps, g, rows, &pd, &wd))
        goto drop_shadows;
    phase("loaded and indexed, together", t);
    t = fl_time_mono_us();
    if (!swap_in(db, ps))
        goto drop_shadows;
    phase("exchanged, analysed, swapped in", t);
    status = 0;
    /* Cached listings show the old catalogue: invalidate them (best effort). */
    fl_ctl_invalidate_cache(cfg, "seed");
    phase("seeded in all", t_all);
    goto free_all;
drop_shadows:
    fputs("\nseed: failed (see the log line above); the live tables are unchanged\n", stderr);
    drop_shadows(db, ps);
free_all:
    fl_buf_free(&pd.drop);
    fl_buf_free(&pd.add);
    fl_buf_free(&wd.drop);
    fl_buf_free(&wd.add);
    free(ps);
    seed_gen_free(g);
    return status;
}

int fl_ctl_seed(const struct fl_config *cfg, int argc, char **argv)
{
    uint64_t rows = 0, seed_value = 42;
    bool replace = false;
    struct fl_db *db;
    int status;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc &&
            fl_str_to_u64(fl_str_c(argv[i + 1]), 1, ROWS_MAX, &rows) == FL_OK) {
            i++;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc &&
                   fl_str_to_u64(fl_str_c(argv[i + 1]), 0, UINT64_MAX, &seed_value) == FL_OK) {
            i++;
        } else if (strcmp(argv[i], "--replace") == 0) {
            replace = true;
        } else {
            rows = 0;
            break;
        }
    }
    if (rows == 0) {
        fputs(fl_ctl_usage("seed"), stderr);
        return 2;
    }
    db = fl_db_new(&cfg->mysql, 3600);
    if (db == NULL)
        return 1;
    fl_db_enable_bulk_load(db);
    status = seed(db, cfg, rows, seed_value, replace);
    fl_db_free(db);
    return status;
}
