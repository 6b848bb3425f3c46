/* SPDX-License-Identifier: MIT */
/*
 * What a searchable word is, in one place for the index and the queries: a run of letters
 * and digits (any script; combining marks continue a word but do not start one), folded
 * with Unicode simple case folding, cut to FL_SEARCH_WORD_MAX_BYTES on a character
 * boundary. Everything else (spaces, punctuation, symbols such as dashes and currency
 * signs, the operators of other search syntaxes, quotes, bytes that are not UTF-8) only
 * separates words. Changing what a word is means reindexing (farmlokal-ctl reindex).
 */
#ifndef FL_SEARCH_H
#define FL_SEARCH_H

#include <stddef.h>

#include "fl_str.h"

#define FL_SEARCH_WORD_MAX_BYTES 32

/* Called for each word; word is borrowed (valid during the call). Return 0 to go on. */
typedef int (*fl_search_word_fn)(void *ud, struct fl_str word);

/*
 * Splits text into words and calls fn (which may be NULL) for each, in order, duplicates
 * included. Returns the number of words, or -1 when fn asked to stop.
 */
int fl_search_words(struct fl_str text, fl_search_word_fn fn, void *ud);

/*
 * True when word is what fl_search_words makes of it: exactly one word, itself. A stored
 * word for which this is false was indexed by an older splitter and no write makes it again.
 */
bool fl_search_is_word(struct fl_str word);

#endif
