/* SPDX-License-Identifier: MIT */
/*
 * Request bodies: the strict object parser and the validity check. Whatever they accept
 * must be what RFC 8259 and RFC 3629 allow (issue #15): every string handed on is strict
 * UTF-8, every number or object handed on is itself valid JSON, and every reason for a
 * refusal is UTF-8 fit for a problem+json reply. A breach aborts.
 */
#include <stdlib.h>

#include "fl_arena.h"
#include "fl_json.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* Checks the fields a successful parse filled. */
static void check_fields(const struct fl_json_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (f[i].type) {
        case FL_JSON_STRING:
            if (!fl_utf8_valid(f[i].text))
                abort();
            break;
        case FL_JSON_NUMBER:
        case FL_JSON_OBJECT:
        case FL_JSON_BOOL:
            if (!fl_json_valid(f[i].text))
                abort();
            break;
        default:
            break;
        }
    }
}

/* Parses text against f; checks what it accepted, or the reason it gave. */
static bool parse(struct fl_str text, struct fl_arena *arena, struct fl_json_field *f, size_t n,
                  unsigned flags)
{
    struct fl_buf detail;
    bool ok;

    fl_buf_init(&detail, 1024);
    ok = fl_json_parse_object(text, arena, f, n, flags, &detail) == FL_OK;
    if (ok && !fl_json_valid(text))
        abort();
    if (ok)
        check_fields(f, n);
    else if (!fl_utf8_valid(fl_buf_str(&detail)))
        abort();
    fl_buf_free(&detail);
    return ok;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static struct fl_arena *arena;
    struct fl_json_field f[4] = {
        {"sku", 0, {0}}, {"price", 0, {0}}, {"data", 0, {0}}, {"stock", 0, {0}}};
    struct fl_str body = {(const char *)data, size};

    if (arena == NULL)
        arena = fl_arena_new(1 << 22);
    fl_json_valid(body);
    if (parse(body, arena, f, 4, 0) && f[2].type == FL_JSON_OBJECT)
        parse(f[2].text, arena, f, 4, FL_JSON_IGNORE_UNKNOWN);
    fl_arena_reset(arena);
    return 0;
}
