/* SPDX-License-Identifier: MIT */
/*
 * JSON: writing JSON text into an fl_buf (escaping in one pass), and, over json-c, parsing
 * request bodies with caps on size and depth. The only module that includes json-c.
 */
#ifndef FL_JSON_H
#define FL_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "fl_arena.h"
#include "fl_buf.h"
#include "fl_err.h"
#include "fl_str.h"

#define FL_JSON_DEPTH_MAX 16

enum fl_json_type {
    FL_JSON_MISSING, /* the field was not in the object */
    FL_JSON_NULL,
    FL_JSON_BOOL,
    FL_JSON_NUMBER,  /* text holds the number exactly as sent ("64.50") */
    FL_JSON_STRING,  /* text holds the decoded string, valid UTF-8 */
    FL_JSON_OBJECT,  /* text holds the object re-serialised, for a nested parse */
    FL_JSON_ARRAY,
};

/* One expected field of a JSON object; name is set by the caller, the rest by the parser. */
struct fl_json_field {
    const char *name;
    enum fl_json_type type;
    struct fl_str text; /* in the arena; for BOOL "true" or "false" */
};

/* Appends s escaped for the inside of a JSON string (no quotes). s must be valid UTF-8. */
void fl_json_escape(struct fl_buf *b, struct fl_str s);

/* Appends s as a quoted JSON string. s must be valid UTF-8 (callers validate input). */
void fl_json_str(struct fl_buf *b, struct fl_str s);

/* Appends "name": as an object key (name is a literal, not escaped). */
void fl_json_key(struct fl_buf *b, const char *name);

/* True when s is one well-formed JSON value (strict, UTF-8, depth-capped). */
bool fl_json_valid(struct fl_str s);

/* Flags of fl_json_parse_object. */
#define FL_JSON_IGNORE_UNKNOWN 1u /* keys not in fields are skipped, not refused */

/*
 * Parses body as one JSON object whose keys must all be among fields[0..n) (unless flags
 * has FL_JSON_IGNORE_UNKNOWN) and fills those fields (the others stay FL_JSON_MISSING).
 * Strings are copied into arena. Returns FL_OK; FL_EINVAL with a reason in detail when body
 * is not a JSON object, nests deeper than FL_JSON_DEPTH_MAX, has invalid UTF-8 or an
 * unknown key; FL_ENOMEM.
 */
enum fl_err fl_json_parse_object(struct fl_str body, struct fl_arena *arena,
                                 struct fl_json_field *fields, size_t n, unsigned flags,
                                 struct fl_buf *detail);

#endif
