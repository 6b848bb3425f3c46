/* SPDX-License-Identifier: MIT */
/*
 * gzip bodies: what is compressed comes back byte for byte, also empty; a body over its
 * bound, a cut or corrupted member and plain bytes are refused, never half-read.
 */
#include <string.h>

#include "fl_arena.h"
#include "fl_gzip.h"
#include "test.h"

static void round_trip(struct fl_arena *arena, struct fl_str plain)
{
    struct fl_str packed, back;

    ASSERT_EQ(fl_gzip_compress(arena, plain, &packed), FL_OK);
    ASSERT_TRUE((unsigned char)packed.p[0] == 0x1f && (unsigned char)packed.p[1] == 0x8b);
    ASSERT_EQ(fl_gzip_decompress(arena, packed, plain.len, &back), FL_OK);
    ASSERT_EQ(back.len, plain.len);
    ASSERT_TRUE(memcmp(back.p, plain.p, plain.len) == 0);
    ASSERT_EQ(back.p[back.len], '\0');
}

int main(void)
{
    struct fl_arena *arena = fl_arena_new(8 << 20);
    static char page[64 << 10];
    struct fl_str packed, out;
    char *bad;

    for (size_t i = 0; i < sizeof(page); i++)
        page[i] = "{\"id\":1,\"name\":\"Organic Cherry Tomatoes\"},"[i % 42];
    round_trip(arena, (struct fl_str){page, sizeof(page)});
    round_trip(arena, FL_STR(""));
    round_trip(arena, FL_STR("{}"));

    ASSERT_EQ(fl_gzip_compress(arena, (struct fl_str){page, sizeof(page)}, &packed), FL_OK);
    ASSERT_TRUE(packed.len < sizeof(page) / 10);
    /* More than the caller's bound: refused before any work. */
    ASSERT_EQ(fl_gzip_decompress(arena, packed, sizeof(page) - 1, &out), FL_ETOOBIG);
    /* Cut short (its trailer is then misread: too big, or the wrong length), a flipped byte
     * in the stream or the trailer, or not gzip at all. */
    ASSERT_TRUE(fl_gzip_decompress(arena, (struct fl_str){packed.p, packed.len - 1}, sizeof(page),
                                   &out) != FL_OK);
    bad = fl_arena_alloc(arena, packed.len);
    memcpy(bad, packed.p, packed.len);
    bad[packed.len / 2] ^= 0x55;
    ASSERT_EQ(fl_gzip_decompress(arena, (struct fl_str){bad, packed.len}, sizeof(page), &out),
              FL_EINVAL);
    memcpy(bad, packed.p, packed.len);
    bad[packed.len - 8] ^= 0x01; /* the CRC */
    ASSERT_EQ(fl_gzip_decompress(arena, (struct fl_str){bad, packed.len}, sizeof(page), &out),
              FL_EINVAL);
    ASSERT_EQ(fl_gzip_decompress(arena, FL_STR("{\"status\":\"success\",\"data\":[]}"), 1024, &out),
              FL_EINVAL);
    ASSERT_EQ(fl_gzip_decompress(arena, FL_STR(""), 1024, &out), FL_EINVAL);
    fl_arena_free(arena);
    return fl_test_done("test_gzip");
}
