/* SPDX-License-Identifier: MIT */
/*
 * Arena allocator. The first block is kept across resets so a steady worker allocates
 * nothing per request; larger requests chain further blocks, freed at reset.
 */
#include "fl_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_BYTES ((size_t)64 << 10)

struct block {
    struct block *next;
    size_t cap;
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

struct fl_arena {
    struct block *head; /* current block; the chain ends at the first (kept) block */
    size_t total;       /* bytes handed out since the last reset */
    size_t max;         /* limit on total */
};

static struct block *block_new(size_t cap)
{
    struct block *b;

    if (cap > SIZE_MAX - sizeof(*b))
        return NULL;
    b = malloc(sizeof(*b) + cap);
    if (b) {
        b->next = NULL;
        b->cap = cap;
        b->used = 0;
    }
    return b;
}

struct fl_arena *fl_arena_new(size_t max_bytes)
{
    struct fl_arena *a = malloc(sizeof(*a));

    if (a == NULL)
        return NULL;
    a->head = block_new(BLOCK_BYTES);
    if (a->head == NULL) {
        free(a);
        return NULL;
    }
    a->total = 0;
    a->max = max_bytes;
    return a;
}

void fl_arena_free(struct fl_arena *a)
{
    if (a == NULL)
        return;
    while (a->head) {
        struct block *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    free(a);
}

void fl_arena_reset(struct fl_arena *a)
{
    while (a->head->next) {
        struct block *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    a->head->used = 0;
    a->total = 0;
}

void *fl_arena_alloc(struct fl_arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    struct block *b = a->head;
    size_t off;

    if (n == 0)
        n = 1;
    if (n > a->max || a->total > a->max - n)
        return NULL;
    off = (b->used + align - 1) & ~(align - 1);
    if (off > b->cap || b->cap - off < n) {
        b = block_new(n > BLOCK_BYTES ? n : BLOCK_BYTES);
        if (b == NULL)
            return NULL;
        b->next = a->head;
        a->head = b;
        off = 0;
    }
    b->used = off + n;
    a->total += n;
    return b->data + off;
}

struct fl_str fl_arena_strdup(struct fl_arena *a, struct fl_str s)
{
    struct fl_str r = {NULL, 0};
    char *p;

    if (s.len == SIZE_MAX || (p = fl_arena_alloc(a, s.len + 1)) == NULL)
        return r;
    if (s.len)
        memcpy(p, s.p, s.len);
    p[s.len] = '\0';
    r.p = p;
    r.len = s.len;
    return r;
}
