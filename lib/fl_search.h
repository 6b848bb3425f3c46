/* SPDX-License-Identifier: MIT */
/*
 * What a searchable word is, in one place for the index and the queries: a run of ASCII
 * letters and digits or non-ASCII (UTF-8) characters, ASCII lower-cased, cut to
 * FL_SEARCH_WORD_MAX_BYTES on a character boundary. Everything else (spaces, punctuation,
 * the operators of other search syntaxes, quotes) only separates words.
 */
#ifndef FL_SEARCH_H
#define FL_SEARCH_H

#include <stddef.h>

#include "fl_str.h"

#define FL_SEARCH_WORD_MAX_BYTES 32

/* Called for each word; word is borrowed (valid during the call). Return 0 to go on. */
typedef int (*fl_search_word_fn)(void *ud, struct fl_str word);

/*
 * Splits valid UTF-8 text into words and calls fn for each, in order, duplicates included.
 * Returns the number of words, or -1 when fn asked to stop.
 */
int fl_search_words(struct fl_str text, fl_search_word_fn fn, void *ud);

#endif
