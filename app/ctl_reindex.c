/* SPDX-License-Identifier: MIT */
/*
 * farmlokal-ctl reindex: rewrites every product's search words with the splitter this
 * binary has (lib/fl_search.c), for rows indexed by an older one, then drops the
 * vocabulary words no splitter of this binary can make any more. Safe while the API runs:
 * each batch locks its products (FOR UPDATE) before their words, the order every write
 * takes, and holds them for REINDEX_BATCH_DEFAULT products' worth of statements.
 * Idempotent, and resumable with --after ID (it prints where it got to). The statements
 * live here, beside the one command that runs them; the words are written by the catalog's
 * own fl_catalog_write_words, as every write writes them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "fl_buf.h"
#include "fl_cache.h"
#include "fl_catalog_write.h"
#include "fl_db.h"
#include "fl_search.h"

#define REINDEX_TIMEOUT_S 60
/* A batch holds its products' locks for about 0.2 s on the test stack (4 ms a product,
 * a sanitizer build on two shared cores): under a write's lock wait (FL_DB_READ_TIMEOUT_MS). */
#define REINDEX_BATCH_DEFAULT  50
#define REINDEX_BATCH_MAX      1000
#define REINDEX_TRIES          3   /* a batch that meets a deadlock with a write is run again */
#define REINDEX_REPORT_BATCHES 100 /* a progress line every 100 batches */
#define VOCABULARY_PAGE        1000

static const char batch_sql[] = "SELECT id, name, description FROM products WHERE id > ?"
                                " ORDER BY id LIMIT ? FOR UPDATE";

/* One batch of products, their text copied into text (rows are borrowed per call). */
struct batch {
    struct {
        uint64_t id;
        size_t name_at, name_len, desc_at, desc_len;
    } row[REINDEX_BATCH_MAX];
    size_t n;
    struct fl_buf text;
};

static enum fl_err keep_row(void *ud, const struct fl_str *cols, size_t ncols)
{
    struct batch *b = ud;

    if (ncols != 3 || b->n == REINDEX_BATCH_MAX ||
        fl_str_to_u64(cols[0], 1, UINT64_MAX, &b->row[b->n].id) != FL_OK)
        return FL_EDB;
    b->row[b->n].name_at = b->text.len, b->row[b->n].name_len = cols[1].len;
    fl_buf_put(&b->text, cols[1]);
    b->row[b->n].desc_at = b->text.len, b->row[b->n].desc_len = cols[2].len;
    fl_buf_put(&b->text, cols[2]);
    b->n++;
    return fl_buf_err(&b->text);
}

/* Reindexes the products after *after, at most limit of them, in one transaction. */
static enum fl_err reindex_batch(struct fl_db *db, struct batch *b, uint64_t after, uint64_t limit)
{
    struct fl_db_arg args[2] = {FL_DB_ARG_U64(after), FL_DB_ARG_U64(limit)};
    enum fl_err err = fl_db_begin(db);

    b->n = 0;
    fl_buf_reset(&b->text);
    if (err == FL_OK)
        err = fl_db_query(db, batch_sql, args, 2, keep_row, b);
    for (size_t i = 0; err == FL_OK && i < b->n; i++)
        err = fl_catalog_write_words(
            db, b->row[i].id, (struct fl_str){b->text.p + b->row[i].name_at, b->row[i].name_len},
            (struct fl_str){b->text.p + b->row[i].desc_at, b->row[i].desc_len});
    if (err == FL_OK)
        err = fl_db_commit(db);
    if (err != FL_OK)
        fl_db_rollback(db);
    return err;
}

struct stale_words {
    struct fl_buf last; /* the page's last word, where the next page starts */
    size_t rows;
    struct fl_buf drop; /* the words to delete, NUL-separated */
};

static enum fl_err see_word(void *ud, const struct fl_str *cols, size_t ncols)
{
    struct stale_words *s = ud;

    if (ncols != 1 || cols[0].p == NULL)
        return FL_EDB;
    fl_buf_reset(&s->last);
    fl_buf_put(&s->last, cols[0]);
    s->rows++;
    if (!fl_search_is_word(cols[0])) {
        fl_buf_put(&s->drop, cols[0]);
        fl_buf_putc(&s->drop, '\0');
    }
    return fl_buf_err(&s->last) ? fl_buf_err(&s->last) : fl_buf_err(&s->drop);
}

/*
 * Deletes the vocabulary words fl_search_words cannot make. No write of this binary adds
 * them again, so deleting races with nothing; the words it can make stay, as a word no
 * product has any more costs only an empty branch. Counts the deleted in *dropped.
 */
static enum fl_err prune_vocabulary(struct fl_db *db, uint64_t *dropped)
{
    static const char page[] = "SELECT word FROM vocabulary WHERE word > ? ORDER BY word LIMIT ?";
    static const char del[] = "DELETE FROM vocabulary WHERE word = ?";
    struct stale_words s;
    enum fl_err err;

    fl_buf_init(&s.last, 0);
    fl_buf_init(&s.drop, 0);
    fl_buf_putc(&s.last, '\0'); /* the empty word: before every other */
    s.last.len = 0;
    do {
        struct fl_db_arg args[2] = {FL_DB_ARG_STR(fl_buf_str(&s.last)),
                                    FL_DB_ARG_U64(VOCABULARY_PAGE)};
        s.rows = 0;
        fl_buf_reset(&s.drop);
        err = fl_db_query(db, page, args, 2, see_word, &s);
        for (size_t at = 0; err == FL_OK && at < s.drop.len; (*dropped)++) {
            struct fl_db_arg w = FL_DB_ARG_STR(fl_str_c(s.drop.p + at));
            err = fl_db_exec(db, del, &w, 1, NULL, NULL);
            at += w.str.len + 1;
        }
    } while (err == FL_OK && s.rows == VOCABULARY_PAGE);
    fl_buf_free(&s.last);
    fl_buf_free(&s.drop);
    return err;
}

static int usage(void)
{
    fputs(fl_ctl_usage("reindex"), stderr);
    return 2;
}

int fl_ctl_reindex(const struct fl_config *cfg, int argc, char **argv)
{
    uint64_t after = 0, limit = REINDEX_BATCH_DEFAULT, products = 0, dropped = 0;
    static struct batch b;
    struct fl_db *db;
    enum fl_err err = FL_OK;

    for (int i = 1; i < argc; i += 2) {
        if (i + 1 == argc)
            return usage();
        if (strcmp(argv[i], "--after") == 0 &&
            fl_str_to_u64(fl_str_c(argv[i + 1]), 0, UINT64_MAX, &after) == FL_OK)
            continue;
        if (strcmp(argv[i], "--batch") == 0 &&
            fl_str_to_u64(fl_str_c(argv[i + 1]), 1, REINDEX_BATCH_MAX, &limit) == FL_OK)
            continue;
        return usage();
    }
    if ((db = fl_db_new(&cfg->mysql, REINDEX_TIMEOUT_S)) == NULL)
        return 1;
    fl_buf_init(&b.text, 0);
    do {
        for (int try = 0; try < REINDEX_TRIES; try++)
            if ((err = reindex_batch(db, &b, after, limit)) == FL_OK)
                break;
        if (err == FL_OK && b.n) {
            after = b.row[b.n - 1].id, products += b.n;
            if (products % (limit * REINDEX_REPORT_BATCHES) == 0)
                printf("reindex: %" PRIu64 " products, up to id %" PRIu64 "\n", products, after);
        }
    } while (err == FL_OK && b.n == limit);
    if (err == FL_OK)
        err = prune_vocabulary(db, &dropped);
    fl_buf_free(&b.text);
    fl_db_free(db);
    if (err != FL_OK) {
        fprintf(stderr,
                "farmlokal-ctl: reindex: failed (see the log line above); resume with"
                " --after %" PRIu64 "\n",
                after);
        return 1;
    }
    fl_ctl_invalidate_cache(cfg, "reindex");
    printf("reindex: %" PRIu64 " products, %" PRIu64 " stale vocabulary words dropped\n", products,
           dropped);
    return 0;
}
