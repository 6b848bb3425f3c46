/* SPDX-License-Identifier: MIT */
/*
 * The listing's sorts and its cursors. The sort table says, for each sort, which column
 * orders the listing and which indexes hold that order (the catalogue's planner and SQL
 * builder read it); a cursor is where a page ended, as an opaque token. This module checks
 * every token it decodes but runs no SQL.
 */
#ifndef FL_CURSOR_H
#define FL_CURSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "fl_arena.h"
#include "fl_buf.h"
#include "fl_err.h"
#include "fl_str.h"

#define FL_CURSOR_MAX_BYTES 2048 /* a token; its key can be a 200-character name */

enum fl_sort {
    FL_SORT_NEWEST,     /* created_at desc, id desc */
    FL_SORT_OLDEST,     /* created_at asc, id asc */
    FL_SORT_PRICE_ASC,  /* price asc, id asc */
    FL_SORT_PRICE_DESC, /* price desc, id desc */
    FL_SORT_NAME_ASC,   /* name asc (case-insensitive), id asc */
    FL_SORT__MAX
};

/* What a sort reads. Every string is static. */
struct fl_sort_spec {
    const char *name;       /* as in ?sort= */
    char code;              /* the sort's letter inside a cursor */
    const char *column;     /* the sort key's column, in products and product_words */
    bool desc;              /* descending key, then descending id */
    const char *index;      /* products' covering (key, id) index */
    const char *cat_index;  /* products' (category, key, id) index */
    const char *word_index; /* product_words' (word, key, product_id) index */
    const char *key_text;   /* the key's column as cursor text ("2026-11-24 14:42:29.123456") */
    const char *first_key;  /* a sentinel key before the first row in listing order */
    uint64_t first_id;      /* and the sentinel id that goes with it */
};

/* Where the previous page ended: its last row's sort key (as text) and id. */
struct fl_cursor {
    enum fl_sort sort;
    uint64_t id;
    struct fl_str key; /* "2026-11-24 14:42:29.123456", "64.50" or a name; borrowed */
};

/* Parses "newest", "oldest", "price_asc", "price_desc" or "name_asc". FL_EINVAL otherwise. */
enum fl_err fl_sort_parse(struct fl_str s, enum fl_sort *out);

/* The sort's name, e.g. "price_asc". */
const char *fl_sort_name(enum fl_sort sort);

/* The sort's entry in the sort table; borrowed, static. */
const struct fl_sort_spec *fl_sort_spec(enum fl_sort sort);

/* Appends the opaque token for c (base64url, no padding). */
void fl_cursor_encode(const struct fl_cursor *c, struct fl_buf *out);

/*
 * Decodes a token made by fl_cursor_encode into out, its key copied into arena. Returns
 * FL_OK, FL_ENOMEM, or FL_EINVAL when the token is malformed or its key is not a valid key
 * of its sort (checked whole: a real date and time in DATETIME's range, a price of 0 to
 * FL_CATALOG_PRICE_MAX_CENTS with at most two decimals, a name of valid UTF-8 with 1 to
 * FL_CATALOG_NAME_MAX_CHARS characters).
 */
enum fl_err fl_cursor_decode(struct fl_str token, struct fl_arena *arena, struct fl_cursor *out);

#endif
