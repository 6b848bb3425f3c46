/* SPDX-License-Identifier: MIT */
/*
 * Product writes and the search index they keep; see fl_catalog_write.h. product_words
 * holds one row per distinct word of a product's name and description with the product's
 * sort keys, so a write that changes a text rewrites the product's rows, and one that
 * changes a key only copies it into them. Words are written in byte order, so concurrent
 * writers take the vocabulary's locks in one order.
 */
#include "fl_catalog_write.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fl_buf.h"
#include "fl_search.h"

#define WORDS_PER_INSERT 32
#define WORDS_MAX        256 /* distinct words indexed a product; more is not a product */
#define CHANGE_ARGS_MAX  10  /* last_event_at, the six text fields, stock, id */

struct word_set {
    struct fl_str w[WORDS_MAX]; /* distinct words, in first-seen order; borrowed from text */
    char bytes[WORDS_MAX * FL_SEARCH_WORD_MAX_BYTES];
    size_t n, used;
};

static int add_word(void *ud, struct fl_str word)
{
    struct word_set *set = ud;

    for (size_t i = 0; i < set->n; i++)
        if (fl_str_eq(set->w[i], word))
            return 0;
    if (set->n == FL_COUNTOF(set->w))
        return 1; /* the first WORDS_MAX distinct words are searchable */
    memcpy(set->bytes + set->used, word.p, word.len);
    set->w[set->n++] = (struct fl_str){set->bytes + set->used, word.len};
    set->used += word.len;
    return 0;
}

enum fl_err fl_catalog_write_words(struct fl_db *db, uint64_t id, struct fl_str name,
                                   struct fl_str description)
{
    static const char del[] = "DELETE FROM product_words WHERE product_id = ?";
    struct fl_db_arg args[WORDS_PER_INSERT + 1];
    struct word_set *set = malloc(sizeof(*set));
    struct fl_buf sql;
    enum fl_err err;

    if (set == NULL)
        return FL_ENOMEM;
    set->n = set->used = 0;
    fl_search_words(name, add_word, set);
    fl_search_words(description, add_word, set);
    qsort(set->w, set->n, sizeof(set->w[0]), fl_str_cmp);
    args[0] = FL_DB_ARG_U64(id);
    err = fl_db_exec(db, del, args, 1, NULL, NULL);
    fl_buf_init(&sql, 4096);
    for (size_t at = 0; err == FL_OK && at < set->n; at += WORDS_PER_INSERT) {
        size_t k = set->n - at < WORDS_PER_INSERT ? set->n - at : WORDS_PER_INSERT;
        fl_buf_reset(&sql);
        fl_buf_puts(&sql, "INSERT INTO product_words (word, product_id, created_at, price, name,"
                          " category) SELECT w.word, p.id, p.created_at, p.price, p.name,"
                          " p.category FROM products p JOIN (");
        for (size_t i = 0; i < k; i++) {
            fl_buf_puts(&sql, i ? " UNION ALL SELECT ?" : "SELECT ? AS word");
            args[i] = FL_DB_ARG_STR(set->w[at + i]);
        }
        fl_buf_puts(&sql, ") w WHERE p.id = ?");
        args[k] = FL_DB_ARG_U64(id);
        err = fl_buf_err(&sql) ? fl_buf_err(&sql) : fl_db_exec(db, sql.p, args, k + 1, NULL, NULL);
        fl_buf_reset(&sql);
        fl_buf_puts(&sql, "INSERT IGNORE INTO vocabulary (word) VALUES ");
        for (size_t i = 0; i < k; i++)
            fl_buf_puts(&sql, i ? ",(?)" : "(?)");
        if (err == FL_OK)
            err = fl_buf_err(&sql) ? fl_buf_err(&sql) : fl_db_exec(db, sql.p, args, k, NULL, NULL);
    }
    fl_buf_free(&sql);
    free(set);
    return err;
}

static enum fl_err sync_words(struct fl_db *db, uint64_t id)
{
    static const char sql[] =
        "UPDATE product_words w JOIN products p ON p.id = w.product_id SET w.price = p.price,"
        " w.name = p.name, w.category = p.category WHERE w.product_id = ?";
    struct fl_db_arg a = FL_DB_ARG_U64(id);

    return fl_db_exec(db, sql, &a, 1, NULL, NULL);
}

/* A create's input and, once inserted, its id. */
struct create {
    const struct fl_product_input *in;
    uint64_t id;
};

/* The create's transaction body (fl_db_transact may run it again). */
static enum fl_err create_in_tx(struct fl_db *db, void *ud)
{
    static const char sql[] =
        "INSERT INTO products (sku, name, description, category, price, unit, stock, producer,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6),"
        " UTC_TIMESTAMP(6))";
    struct create *c = ud;
    const struct fl_product_input *in = c->in;
    struct fl_db_arg a[8] = {
        FL_DB_ARG_STR(in->sku),
        FL_DB_ARG_STR(in->name),
        FL_DB_ARG_STR(in->description.p ? in->description : FL_STR("")),
        FL_DB_ARG_STR(in->category),
        FL_DB_ARG_STR(in->price),
        FL_DB_ARG_STR(in->unit),
        FL_DB_ARG_U64(in->has_stock ? in->stock : 0),
        FL_DB_ARG_STR(in->producer),
    };
    enum fl_err err = fl_db_exec(db, sql, a, 8, NULL, &c->id);

    return err == FL_OK ? fl_catalog_write_words(db, c->id, in->name, in->description) : err;
}

enum fl_err fl_catalog_write_create(struct fl_db *db, const struct fl_product_input *in,
                                    uint64_t *id)
{
    struct create c = {in, 0};
    enum fl_err err = fl_db_transact(db, create_in_tx, &c);

    *id = c.id;
    return err;
}

/* Appends the UPDATE of the fields in gives, and its arguments to a[*n..]. */
static void build_update(struct fl_buf *sql, struct fl_db_arg *a, size_t *n, uint64_t id,
                         const struct fl_product_input *in, struct fl_str event_at)
{
    static const struct {
        const char *column;
        size_t offset;
    } fields[] = {
        {"name", offsetof(struct fl_product_input, name)},
        {"description", offsetof(struct fl_product_input, description)},
        {"category", offsetof(struct fl_product_input, category)},
        {"price", offsetof(struct fl_product_input, price)},
        {"unit", offsetof(struct fl_product_input, unit)},
        {"producer", offsetof(struct fl_product_input, producer)},
    };

    fl_buf_puts(sql, "UPDATE products SET updated_at = UTC_TIMESTAMP(6)");
    if (event_at.p) {
        fl_buf_puts(sql, ", last_event_at = ?");
        a[(*n)++] = FL_DB_ARG_STR(event_at);
    }
    for (size_t i = 0; i < FL_COUNTOF(fields); i++) {
        const struct fl_str *v = (const struct fl_str *)((const char *)in + fields[i].offset);
        if (v->p == NULL)
            continue;
        fl_buf_appendf(sql, ", %s = ?", fields[i].column);
        a[(*n)++] = FL_DB_ARG_STR(*v);
    }
    if (in->has_stock) {
        fl_buf_puts(sql, ", stock = ?");
        a[(*n)++] = FL_DB_ARG_U64(in->stock);
    }
    fl_buf_puts(sql, " WHERE id = ?");
    a[(*n)++] = FL_DB_ARG_U64(id);
}

enum fl_err fl_catalog_write_change(struct fl_db *db, uint64_t id,
                                    const struct fl_product_input *in, struct fl_str event_at,
                                    struct fl_str name, struct fl_str description)
{
    struct fl_db_arg a[CHANGE_ARGS_MAX];
    struct fl_buf sql;
    size_t n = 0;
    enum fl_err err;

    fl_buf_init(&sql, 1024);
    build_update(&sql, a, &n, id, in, event_at);
    err = fl_buf_err(&sql) ? fl_buf_err(&sql) : fl_db_exec(db, sql.p, a, n, NULL, NULL);
    fl_buf_free(&sql);
    if (err != FL_OK)
        return err;
    if (in->name.p || in->description.p)
        return fl_catalog_write_words(db, id, in->name.p ? in->name : name,
                                      in->description.p ? in->description : description);
    if (in->price.p || in->category.p)
        return sync_words(db, id);
    return FL_OK;
}

/* An update's input and the product's texts as locked. */
struct update {
    uint64_t id;
    const struct fl_product_input *in;
    struct fl_buf name, description;
    bool found;
};

static enum fl_err read_texts(void *ud, const struct fl_str *c, size_t ncols)
{
    struct update *u = ud;

    if (ncols != 2)
        return FL_EDB;
    fl_buf_put(&u->name, c[0].p ? c[0] : FL_STR(""));
    fl_buf_put(&u->description, c[1].p ? c[1] : FL_STR(""));
    u->found = true;
    return fl_buf_err(&u->name) ? fl_buf_err(&u->name) : fl_buf_err(&u->description);
}

/* The update's transaction body (fl_db_transact may run it again). */
static enum fl_err update_in_tx(struct fl_db *db, void *ud)
{
    static const char lock[] = "SELECT name, description FROM products WHERE id = ? FOR UPDATE";
    struct update *u = ud;
    struct fl_db_arg key = FL_DB_ARG_U64(u->id);
    enum fl_err err;

    fl_buf_reset(&u->name);
    fl_buf_reset(&u->description);
    u->found = false;
    err = fl_db_query(db, lock, &key, 1, read_texts, u);
    if (err == FL_OK && !u->found)
        err = FL_ENOTFOUND;
    if (err == FL_OK)
        err = fl_catalog_write_change(db, u->id, u->in, (struct fl_str){NULL, 0},
                                      fl_buf_str(&u->name), fl_buf_str(&u->description));
    return err;
}

enum fl_err fl_catalog_write_update(struct fl_db *db, uint64_t id,
                                    const struct fl_product_input *in)
{
    struct update u = {.id = id, .in = in};
    enum fl_err err;

    fl_buf_init(&u.name, 4096);
    fl_buf_init(&u.description, 16384);
    err = fl_db_transact(db, update_in_tx, &u);
    fl_buf_free(&u.name);
    fl_buf_free(&u.description);
    return err;
}
