/* SPDX-License-Identifier: MIT */
/*
 * JSON: writing JSON text into an fl_buf (escaping in one pass), and reading request and
 * upstream bodies strictly (RFC 8259, strict UTF-8, depth capped), json-c decoding string
 * escapes. The only module that includes json-c.
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
    FL_JSON_NUMBER, /* text holds the number exactly as sent ("64.50", "-0") */
    FL_JSON_STRING, /* text holds the decoded string, valid UTF-8 */
    FL_JSON_OBJECT, /* text holds the object as sent, for a nested parse */
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

/*
 * True when s is one JSON value as RFC 8259 defines it and nothing more: double-quoted
 * strings of strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF) without
 * raw control characters or lone \u surrogates, numbers in JSON's grammar (no NaN, no
 * leading zeros), nesting at most FL_JSON_DEPTH_MAX.
 */
bool fl_json_valid(struct fl_str s);

/* Flags of fl_json_parse_object. */
#define FL_JSON_IGNORE_UNKNOWN 1u /* keys not in fields are skipped, not refused */

/*
 * Parses body as one JSON object, read as strictly as fl_json_valid, whose keys must all be
 * among fields[0..n) (unless flags has FL_JSON_IGNORE_UNKNOWN) and fills those fields (the
 * others stay FL_JSON_MISSING). A field's text is copied into arena: a string decoded, a
 * number, boolean or object as sent. Nested objects are only checked here; parse them with
 * another call to have their keys checked. Returns FL_OK; FL_EINVAL with a reason in detail
 * when body is not a JSON object, is not strict JSON (the reason says where, and in which
 * field), nests deeper than FL_JSON_DEPTH_MAX, has an unknown key or a field twice;
 * FL_ENOMEM.
 */
enum fl_err fl_json_parse_object(struct fl_str body, struct fl_arena *arena,
                                 struct fl_json_field *fields, size_t n, unsigned flags,
                                 struct fl_buf *detail);

#endif
