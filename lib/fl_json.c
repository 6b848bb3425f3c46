/* SPDX-License-Identifier: MIT */
/*
 * JSON writing, and parsing over json-c: strict mode, UTF-8 validated, depth capped. json-c
 * keeps a parsed number's original text, so "64.50" reaches the caller as sent, never
 * through a double.
 */
#include "fl_json.h"

#include <json-c/json.h>
#include <string.h>

void fl_json_escape(struct fl_buf *b, struct fl_str s)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        size_t n = 6;

        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        if (i > run)
            fl_buf_append(b, s.p + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': esc[1] = '"', n = 2; break;
        case '\\': esc[1] = '\\', n = 2; break;
        case '\n': esc[1] = 'n', n = 2; break;
        case '\r': esc[1] = 'r', n = 2; break;
        case '\t': esc[1] = 't', n = 2; break;
        default: break;
        }
        fl_buf_append(b, esc, n);
    }
    if (s.len > run)
        fl_buf_append(b, s.p + run, s.len - run);
}

void fl_json_str(struct fl_buf *b, struct fl_str s)
{
    fl_buf_putc(b, '"');
    fl_json_escape(b, s);
    fl_buf_putc(b, '"');
}

void fl_json_key(struct fl_buf *b, const char *name)
{
    fl_buf_putc(b, '"');
    fl_buf_puts(b, name);
    fl_buf_append(b, "\":", 2);
}

/* Parses text strictly; NULL when it is not one complete JSON value. Free with _put. */
static struct json_object *parse(struct fl_str text)
{
    struct json_tokener *tok = json_tokener_new_ex(FL_JSON_DEPTH_MAX);
    struct json_object *root = NULL;

    if (tok == NULL)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    if (text.len > 0 && text.len < INT32_MAX)
        root = json_tokener_parse_ex(tok, text.p, (int)text.len);
    if (root != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
                         json_tokener_get_parse_end(tok) != text.len)) {
        json_object_put(root);
        root = NULL;
    }
    json_tokener_free(tok);
    return root;
}

bool fl_json_valid(struct fl_str s)
{
    struct json_object *root = parse(s);

    /* A literal null parses to NULL too; an upstream answering "null" is no data anyway. */
    json_object_put(root);
    return root != NULL;
}

static struct fl_json_field *find(struct fl_json_field *fields, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i].name, key) == 0)
            return &fields[i];
    return NULL;
}

enum fl_err fl_json_parse_object(struct fl_str body, struct fl_arena *arena,
                                 struct fl_json_field *fields, size_t n, unsigned flags,
                                 struct fl_buf *detail)
{
    struct json_object *root;
    enum fl_err err = FL_EINVAL;

    for (size_t i = 0; i < n; i++) {
        fields[i].type = FL_JSON_MISSING;
        fields[i].text = FL_STR_NULL;
    }
    root = parse(body);
    if (root == NULL) {
        fl_buf_puts(detail, "the body is not valid JSON");
        goto out;
    }
    if (!json_object_is_type(root, json_type_object)) {
        fl_buf_puts(detail, "the body must be a JSON object");
        goto out;
    }
    json_object_object_foreach(root, key, val) {
        struct fl_json_field *f = find(fields, n, key);
        const char *text = NULL;
        size_t len = 0;

        if (f == NULL && (flags & FL_JSON_IGNORE_UNKNOWN))
            continue;
        if (f == NULL) {
            fl_buf_puts(detail, "unknown field '");
            fl_json_escape(detail, fl_str_c(key).len > 64 ? (struct fl_str){key, 64}
                                                          : fl_str_c(key));
            fl_buf_putc(detail, '\'');
            goto out;
        }
        switch (json_object_get_type(val)) {
        case json_type_null: f->type = FL_JSON_NULL; break;
        case json_type_boolean: f->type = FL_JSON_BOOL; break;
        case json_type_int:
        case json_type_double: f->type = FL_JSON_NUMBER; break;
        case json_type_string: f->type = FL_JSON_STRING; break;
        case json_type_object: f->type = FL_JSON_OBJECT; break;
        case json_type_array: f->type = FL_JSON_ARRAY; break;
        }
        if (f->type == FL_JSON_STRING) {
            text = json_object_get_string(val);
            len = (size_t)json_object_get_string_len(val);
        } else if (f->type != FL_JSON_ARRAY && f->type != FL_JSON_NULL) {
            text = json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN);
            len = text ? strlen(text) : 0;
        }
        if (text) {
            f->text = fl_arena_strdup(arena, (struct fl_str){text, len});
            if (f->text.p == NULL) {
                err = FL_ENOMEM;
                goto out;
            }
        }
    }
    err = FL_OK;
out:
    json_object_put(root);
    return err;
}
