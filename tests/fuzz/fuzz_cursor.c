/* SPDX-License-Identifier: MIT */
/* Cursor tokens: decode arbitrary bytes; a decoded cursor must encode to a valid token. */
#include <stdlib.h>

#include "fl_arena.h"
#include "fl_catalog.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static struct fl_arena *arena;
    struct fl_cursor c, again;
    struct fl_buf b;

    if (arena == NULL)
        arena = fl_arena_new(1 << 20);
    if (fl_cursor_decode((struct fl_str){(const char *)data, size}, arena, &c) == FL_OK) {
        fl_buf_init(&b, 0);
        fl_cursor_encode(&c, &b);
        if (fl_cursor_decode(fl_buf_str(&b), arena, &again) != FL_OK || again.id != c.id ||
            !fl_str_eq(again.key, c.key))
            abort();
        fl_buf_free(&b);
    }
    fl_arena_reset(arena);
    return 0;
}
