/* SPDX-License-Identifier: MIT */
/*
 * The per-request arena: a bump allocator in chained blocks. Everything a request allocates
 * comes from here and is released at once by fl_arena_reset() after the response is sent,
 * so handlers never free request data. Not for anything that outlives a request.
 */
#ifndef FL_ARENA_H
#define FL_ARENA_H

#include <stddef.h>

#include "fl_str.h"

struct fl_arena;

/* Returns a new arena that may hold up to max_bytes in all, or NULL. Free with fl_arena_free. */
struct fl_arena *fl_arena_new(size_t max_bytes);

/* Frees the arena and everything in it. Accepts NULL. */
void fl_arena_free(struct fl_arena *a);

/* Releases every allocation; keeps the first block for reuse. */
void fl_arena_reset(struct fl_arena *a);

/*
 * Returns n bytes aligned for any type, valid until the next reset; NULL when n would take
 * the arena past its maximum or memory is exhausted.
 */
void *fl_arena_alloc(struct fl_arena *a, size_t n);

/* Copies s into the arena with a terminating NUL; returns FL_STR_NULL-like {NULL,0} on failure. */
struct fl_str fl_arena_strdup(struct fl_arena *a, struct fl_str s);

#endif
