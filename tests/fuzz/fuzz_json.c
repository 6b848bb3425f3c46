/* SPDX-License-Identifier: MIT */
/* Request bodies: the strict object parser and the validity check. */
#include "fl_arena.h"
#include "fl_json.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static struct fl_arena *arena;
    struct fl_json_field f[4] = {{"sku", 0, {0}}, {"price", 0, {0}}, {"data", 0, {0}},
                                 {"stock", 0, {0}}};
    struct fl_str body = {(const char *)data, size};
    struct fl_buf detail;

    if (arena == NULL)
        arena = fl_arena_new(1 << 22);
    fl_buf_init(&detail, 1024);
    fl_json_valid(body);
    if (fl_json_parse_object(body, arena, f, 4, 0, &detail) == FL_OK &&
        f[2].type == FL_JSON_OBJECT)
        fl_json_parse_object(f[2].text, arena, f, 4, FL_JSON_IGNORE_UNKNOWN, &detail);
    fl_buf_free(&detail);
    fl_arena_reset(arena);
    return 0;
}
