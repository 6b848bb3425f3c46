/* SPDX-License-Identifier: MIT */
/*
 * JSON: writing JSON text into an fl_buf (escaping in one pass), and, over json-c, parsing
 * request bodies with caps on size and depth. The only module that includes json-c.
 */
#ifndef FL_JSON_H
#define FL_JSON_H

#include "fl_buf.h"
#include "fl_str.h"

/* Appends s escaped for the inside of a JSON string (no quotes). s must be valid UTF-8. */
void fl_json_escape(struct fl_buf *b, struct fl_str s);

/* Appends s as a quoted JSON string. s must be valid UTF-8 (callers validate input). */
void fl_json_str(struct fl_buf *b, struct fl_str s);

/* Appends "name": as an object key (name is a literal, not escaped). */
void fl_json_key(struct fl_buf *b, const char *name);

#endif
