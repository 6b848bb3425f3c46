/* SPDX-License-Identifier: MIT */
#include "fl_arena.h"
#include "test.h"

static void test_arena(void)
{
    struct fl_arena *a = fl_arena_new(1 << 20);
    char *p, *big;
    struct fl_str s;

    ASSERT_NOT_NULL(a);
    p = fl_arena_alloc(a, 10);
    ASSERT_NOT_NULL(p);
    ASSERT_EQ((uintptr_t)p % 16, 0);
    big = fl_arena_alloc(a, 200000); /* larger than a block */
    ASSERT_NOT_NULL(big);
    memset(big, 1, 200000);
    ASSERT_NULL(fl_arena_alloc(a, 1 << 20)); /* over the arena's maximum */
    s = fl_arena_strdup(a, FL_STR("abc"));
    ASSERT_STREQ(s.p, "abc");
    fl_arena_reset(a);
    ASSERT_NOT_NULL(fl_arena_alloc(a, 900000)); /* reset gave the budget back */
    fl_arena_free(a);
    fl_arena_free(NULL);
}

int main(void)
{
    test_arena();
    return fl_test_done("test_arena");
}
