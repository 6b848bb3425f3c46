/* SPDX-License-Identifier: MIT */
/*
 * The memo of fl_memo.h: a linear scan of a handful of slots (cheaper than hashing at this
 * size), each with a key, a malloc'd value that is reused when the next one fits, and the
 * tick of its last use. It never decides what a key means: callers name the content.
 */
#include "fl_memo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    char key[FL_MEMO_KEY_MAX_BYTES];
    size_t key_len;
    char *value; /* owned; NULL while the slot is empty */
    size_t len, cap;
    uint64_t used; /* the memo's tick at the last get or put; 0: empty */
};

struct fl_memo {
    size_t n_slots, value_max_bytes;
    uint64_t tick;
    struct slot slots[];
};

struct fl_memo *fl_memo_new(size_t n_slots, size_t value_max_bytes)
{
    struct fl_memo *m;

    if (n_slots == 0 || n_slots > 1024)
        return NULL;
    m = calloc(1, sizeof(*m) + n_slots * sizeof(struct slot));
    if (m == NULL)
        return NULL;
    m->n_slots = n_slots;
    m->value_max_bytes = value_max_bytes;
    return m;
}

void fl_memo_free(struct fl_memo *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_slots; i++)
        free(m->slots[i].value);
    free(m);
}

/* The slot kept under key, or NULL. */
static struct slot *find(struct fl_memo *m, struct fl_str key)
{
    for (size_t i = 0; i < m->n_slots; i++) {
        struct slot *s = &m->slots[i];
        if (s->used && s->key_len == key.len && memcmp(s->key, key.p, key.len) == 0)
            return s;
    }
    return NULL;
}

bool fl_memo_get(struct fl_memo *m, struct fl_str key, struct fl_str *out)
{
    struct slot *s = m ? find(m, key) : NULL;

    if (s == NULL)
        return false;
    s->used = ++m->tick;
    *out = (struct fl_str){s->value, s->len};
    return true;
}

enum fl_err fl_memo_put(struct fl_memo *m, struct fl_str key, struct fl_str value)
{
    struct slot *s;

    if (m == NULL)
        return FL_OK;
    if (key.len > FL_MEMO_KEY_MAX_BYTES || value.len > m->value_max_bytes)
        return FL_ETOOBIG;
    /* A key is kept once: a second copy would shadow or be shadowed by the first. */
    if ((s = find(m, key)) == NULL) {
        s = &m->slots[0];
        for (size_t i = 1; i < m->n_slots; i++)
            if (m->slots[i].used < s->used)
                s = &m->slots[i];
    }
    s->used = 0;
    if (s->cap < value.len || s->value == NULL) {
        char *p = malloc(value.len ? value.len : 1);
        if (p == NULL)
            return FL_ENOMEM;
        free(s->value);
        s->value = p;
        s->cap = value.len ? value.len : 1;
    }
    if (value.len)
        memcpy(s->value, value.p, value.len);
    s->len = value.len;
    memcpy(s->key, key.p, key.len);
    s->key_len = key.len;
    s->used = ++m->tick;
    return FL_OK;
}
