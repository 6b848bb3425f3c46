/* SPDX-License-Identifier: MIT */
/*
 * JSON writing, and strict reading: a reader of our own checks every text against RFC 8259
 * (strict UTF-8, no lone surrogates, depth capped) and hands numbers and objects on as the
 * bytes sent, so "64.50" and "-0" reach the caller as sent, never through a double; json-c
 * only decodes the escapes of strings the reader accepted.
 */
#include "fl_json.h"

#include <json-c/json.h>
#include <string.h>

void fl_json_escape(struct fl_buf *b, struct fl_str s)
{
    size_t run = 0;

    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        char esc[6] = {'\\', 'u', '0', '0', fl_hex_digits[c >> 4], fl_hex_digits[c & 15]};
        size_t n = 6;

        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        if (i > run)
            fl_buf_append(b, s.p + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            esc[1] = '"', n = 2;
            break;
        case '\\':
            esc[1] = '\\', n = 2;
            break;
        case '\n':
            esc[1] = 'n', n = 2;
            break;
        case '\r':
            esc[1] = 'r', n = 2;
            break;
        case '\t':
            esc[1] = 't', n = 2;
            break;
        default:
            break;
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

/*
 * The reader every JSON text goes through first: RFC 8259 and nothing more. json-c 0.16,
 * even in strict mode, takes single-quoted keys, NaN, raw control characters in strings,
 * overlong and surrogate UTF-8, code points above U+10FFFF, and turns a lone \ud800 into
 * U+FFFD; so json-c only ever decodes the escapes of a string this reader accepted.
 * Recursion is bounded by FL_JSON_DEPTH_MAX.
 */
struct reader {
    const char *p;
    size_t len, at;
    const char *why; /* the first error, NULL while there is none */
    size_t why_at;   /* its byte offset */
};

/* A member of an object as sent: key is the string token with its quotes. */
struct member {
    struct fl_str key, value;
};

static bool fail(struct reader *r, const char *why)
{
    if (r->why == NULL) {
        r->why = why;
        r->why_at = r->at;
    }
    return false;
}

static void skip_ws(struct reader *r)
{
    while (r->at < r->len && (r->p[r->at] == ' ' || r->p[r->at] == '\t' || r->p[r->at] == '\n' ||
                              r->p[r->at] == '\r'))
        r->at++;
}

static bool eat(struct reader *r, char c)
{
    if (r->at >= r->len || r->p[r->at] != c)
        return false;
    r->at++;
    return true;
}

/* Four hex digits as a UTF-16 code unit; false when they are not there. */
static bool hex4(struct reader *r, unsigned *out)
{
    unsigned v = 0;

    if (r->len - r->at < 4)
        return false;
    for (int i = 0; i < 4; i++) {
        char c = r->p[r->at++];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16;
        if (d == 16)
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* After a backslash: one escape; a \u surrogate must be a high one followed by a low one. */
static bool escape(struct reader *r)
{
    unsigned unit, low;

    if (r->at < r->len && r->p[r->at] != '\0' && strchr("\"\\/bfnrt", r->p[r->at]) != NULL) {
        r->at++;
        return true;
    }
    if (!eat(r, 'u'))
        return fail(r, "an unknown escape in a string");
    if (!hex4(r, &unit))
        return fail(r, "a \\u escape without four hex digits");
    if (unit >= 0xdc00 && unit <= 0xdfff)
        return fail(r, "a lone surrogate escape in a string");
    if (unit >= 0xd800 && unit <= 0xdbff &&
        !(eat(r, '\\') && eat(r, 'u') && hex4(r, &low) && low >= 0xdc00 && low <= 0xdfff))
        return fail(r, "a lone surrogate escape in a string");
    return true;
}

static bool string(struct reader *r)
{
    size_t start = r->at;

    if (!eat(r, '"'))
        return fail(r, "expected a string in double quotes");
    for (;;) {
        unsigned char c;

        if (r->at >= r->len)
            return fail(r, "an unterminated string");
        c = (unsigned char)r->p[r->at];
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(r, "a control character in a string");
        r->at++;
        if (c == '\\' && !escape(r))
            return false;
    }
    /* Escapes are ASCII, so the token is valid UTF-8 exactly when its raw bytes are. */
    if (!fl_utf8_valid((struct fl_str){r->p + start + 1, r->at - start - 1})) {
        r->at = start;
        return fail(r, "invalid UTF-8 in a string");
    }
    r->at++;
    return true;
}

static bool digits(struct reader *r)
{
    size_t start = r->at;

    while (r->at < r->len && r->p[r->at] >= '0' && r->p[r->at] <= '9')
        r->at++;
    return r->at > start;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number(struct reader *r)
{
    eat(r, '-');
    if (!eat(r, '0') && !digits(r))
        return fail(r, "an unexpected character");
    if (eat(r, '.') && !digits(r))
        return fail(r, "a number without digits after '.'");
    if (eat(r, 'e') || eat(r, 'E')) {
        if (!eat(r, '+'))
            eat(r, '-');
        if (!digits(r))
            return fail(r, "a number without digits in its exponent");
    }
    return true;
}

static bool literal(struct reader *r, const char *word)
{
    size_t n = strlen(word);

    if (r->len - r->at < n || memcmp(r->p + r->at, word, n) != 0)
        return fail(r, "an unexpected character");
    r->at += n;
    return true;
}

static bool value(struct reader *r, unsigned depth);

/* Reads `"key" : value` and the whitespace around it; depth is the enclosing object's. */
static bool member(struct reader *r, unsigned depth, struct member *m)
{
    size_t start;

    skip_ws(r);
    start = r->at;
    if (!string(r))
        return false;
    m->key = (struct fl_str){r->p + start, r->at - start};
    skip_ws(r);
    if (!eat(r, ':'))
        return fail(r, "expected ':' after a key");
    skip_ws(r);
    start = r->at;
    if (!value(r, depth))
        return false;
    m->value = (struct fl_str){r->p + start, r->at - start};
    skip_ws(r);
    return true;
}

/* An object or array at nesting depth (the outermost is 1). */
static bool container(struct reader *r, unsigned depth)
{
    bool object = r->p[r->at] == '{';
    char close = object ? '}' : ']';
    struct member m;

    if (depth > FL_JSON_DEPTH_MAX)
        return fail(r, "nesting deeper than 16 levels");
    r->at++;
    skip_ws(r);
    if (eat(r, close))
        return true;
    for (;;) {
        if (object && !member(r, depth, &m))
            return false;
        if (!object && !(skip_ws(r), value(r, depth)))
            return false;
        skip_ws(r);
        if (eat(r, close))
            return true;
        if (!eat(r, ','))
            return fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool value(struct reader *r, unsigned depth)
{
    if (r->at >= r->len)
        return fail(r, "an unexpected end");
    switch (r->p[r->at]) {
    case '{':
    case '[':
        return container(r, depth + 1);
    case '"':
        return string(r);
    case 't':
        return literal(r, "true");
    case 'f':
        return literal(r, "false");
    case 'n':
        return literal(r, "null");
    default:
        return number(r);
    }
}

/* Reads text as one whole JSON value with optional whitespace around it. */
static bool read_whole(struct reader *r)
{
    skip_ws(r);
    if (!value(r, 0))
        return false;
    skip_ws(r);
    return r->at == r->len || fail(r, "text after the value");
}

bool fl_json_valid(struct fl_str s)
{
    struct reader r = {s.p, s.len, 0, NULL, 0};

    return read_whole(&r);
}

/* The text of a string token the reader accepted, copied into arena. */
static enum fl_err decode(struct fl_str token, struct fl_arena *arena, struct fl_str *out)
{
    struct fl_str inner = {token.p + 1, token.len - 2};
    struct json_tokener *tok;
    struct json_object *o = NULL;

    if (memchr(inner.p, '\\', inner.len) == NULL) {
        *out = fl_arena_strdup(arena, inner);
        return out->p ? FL_OK : FL_ENOMEM;
    }
    if (token.len > INT32_MAX || (tok = json_tokener_new_ex(1)) == NULL)
        return FL_ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    o = json_tokener_parse_ex(tok, token.p, (int)token.len);
    json_tokener_free(tok);
    if (!json_object_is_type(o, json_type_string)) {
        json_object_put(o);
        return FL_ENOMEM; /* the reader accepted it, so json-c failed to allocate */
    }
    *out = fl_arena_strdup(
        arena, (struct fl_str){json_object_get_string(o), (size_t)json_object_get_string_len(o)});
    json_object_put(o);
    return out->p ? FL_OK : FL_ENOMEM;
}

static void put_key(struct fl_buf *b, struct fl_str key)
{
    fl_buf_putc(b, '\'');
    fl_buf_put(b, fl_utf8_clip(key, 64));
    fl_buf_putc(b, '\'');
}

static struct fl_json_field *find(struct fl_json_field *fields, size_t n, struct fl_str key)
{
    for (size_t i = 0; i < n; i++)
        if (fl_str_eq(fl_str_c(fields[i].name), key))
            return &fields[i];
    return NULL;
}

static enum fl_json_type type_of(char first)
{
    switch (first) {
    case '{':
        return FL_JSON_OBJECT;
    case '[':
        return FL_JSON_ARRAY;
    case '"':
        return FL_JSON_STRING;
    case 't':
    case 'f':
        return FL_JSON_BOOL;
    case 'n':
        return FL_JSON_NULL;
    default:
        return FL_JSON_NUMBER;
    }
}

/* Fills the field m names, if any. Returns FL_OK; FL_EINVAL with detail; FL_ENOMEM. */
static enum fl_err take(const struct member *m, struct fl_arena *arena,
                        struct fl_json_field *fields, size_t n, unsigned flags,
                        struct fl_buf *detail)
{
    struct fl_json_field *f;
    struct fl_str key;
    enum fl_err err;

    if ((err = decode(m->key, arena, &key)) != FL_OK)
        return err;
    f = find(fields, n, key);
    if (f == NULL && (flags & FL_JSON_IGNORE_UNKNOWN))
        return FL_OK;
    if (f == NULL || f->type != FL_JSON_MISSING) {
        fl_buf_puts(detail, f ? "field " : "unknown field ");
        put_key(detail, key);
        if (f)
            fl_buf_puts(detail, " is repeated");
        return FL_EINVAL;
    }
    f->type = type_of(m->value.p[0]);
    if (f->type == FL_JSON_STRING)
        return decode(m->value, arena, &f->text);
    if (f->type == FL_JSON_ARRAY || f->type == FL_JSON_NULL)
        return FL_OK;
    f->text = fl_arena_strdup(arena, m->value);
    return f->text.p ? FL_OK : FL_ENOMEM;
}

/* Why r stopped, naming the member it was in when the key was read whole. */
static void describe(const struct reader *r, const struct member *m, struct fl_arena *arena,
                     struct fl_buf *detail)
{
    struct fl_str key;

    fl_buf_appendf(detail, "the body is not valid JSON: %s at byte %zu", r->why, r->why_at);
    if (m->key.p && r->why_at > (size_t)(m->key.p - r->p) + m->key.len &&
        decode(m->key, arena, &key) == FL_OK) {
        fl_buf_puts(detail, " (in ");
        put_key(detail, key);
        fl_buf_putc(detail, ')');
    }
}

enum fl_err fl_json_parse_object(struct fl_str body, struct fl_arena *arena,
                                 struct fl_json_field *fields, size_t n, unsigned flags,
                                 struct fl_buf *detail)
{
    struct reader r = {body.p, body.len, 0, NULL, 0};
    struct member m = {FL_STR_NULL, FL_STR_NULL};
    enum fl_err err;

    for (size_t i = 0; i < n; i++) {
        fields[i].type = FL_JSON_MISSING;
        fields[i].text = FL_STR_NULL;
    }
    skip_ws(&r);
    if (r.at == r.len || r.p[r.at] != '{') {
        fl_buf_puts(detail, fl_json_valid(body) ? "the body must be a JSON object"
                                                : "the body is not valid JSON");
        return FL_EINVAL;
    }
    r.at++;
    skip_ws(&r);
    if (!eat(&r, '}')) {
        for (;;) {
            m = (struct member){FL_STR_NULL, FL_STR_NULL};
            if (!member(&r, 1, &m))
                goto describe_it;
            if ((err = take(&m, arena, fields, n, flags, detail)) != FL_OK)
                return err;
            if (eat(&r, '}'))
                break;
            if (!eat(&r, ',')) {
                fail(&r, "expected ',' or '}'");
                goto describe_it;
            }
        }
    }
    skip_ws(&r);
    if (r.at == r.len)
        return FL_OK;
    fail(&r, "text after the object");
describe_it:
    describe(&r, &m, arena, detail);
    return FL_EINVAL;
}
