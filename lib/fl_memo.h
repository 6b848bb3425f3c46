/* SPDX-License-Identifier: MIT */
/*
 * A process's memo of a few byte strings under keys the caller makes so that a kept value
 * is never wrong to return: a key names its content (a hash of it), or carries what ends
 * the value's life (an epoch) so that a later key never finds it. The worker keeps the
 * pages it last decompressed for clients that do not take gzip here, so a hot page is
 * inflated once per worker, not once per request, and its near copies of cache entries
 * (fl_cache). Bounded: a fixed number of slots of at most a fixed size each; the least
 * recently used is replaced.
 */
#ifndef FL_MEMO_H
#define FL_MEMO_H

#include <stdbool.h>
#include <stddef.h>

#include "fl_err.h"
#include "fl_str.h"

/* The longest key a memo holds. */
#define FL_MEMO_KEY_MAX_BYTES 64

struct fl_memo;

/*
 * Returns an empty memo of n_slots values of at most value_max_bytes each (memory is taken
 * per value, when it is kept), or NULL when out of memory. Owned: free with fl_memo_free.
 */
struct fl_memo *fl_memo_new(size_t n_slots, size_t value_max_bytes);

/* Frees the memo and every value it keeps. Accepts NULL. */
void fl_memo_free(struct fl_memo *m);

/*
 * True when m keeps a value under key, then *out is it, borrowed: valid until the next
 * fl_memo_put on m. A NULL m keeps nothing.
 */
bool fl_memo_get(struct fl_memo *m, struct fl_str key, struct fl_str *out);

/*
 * Keeps a copy of value under key, in place of what was kept under key, else of the least
 * recently used value. Returns FL_OK; FL_ETOOBIG when key or value is over the memo's
 * bounds (nothing is kept); FL_ENOMEM (nothing is kept; what was in the slot is gone). A
 * NULL m keeps nothing and returns FL_OK.
 */
enum fl_err fl_memo_put(struct fl_memo *m, struct fl_str key, struct fl_str value);

#endif
