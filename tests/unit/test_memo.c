/* SPDX-License-Identifier: MIT */
/*
 * The memo: a value comes back under its key only, byte for byte; the least recently used
 * gives way when the slots are full, a key put again replaces its value; keys and values
 * over the bounds are never kept.
 */
#include <string.h>

#include "fl_memo.h"
#include "test.h"

static void assert_kept(struct fl_memo *m, const char *key, const char *value)
{
    struct fl_str out;

    ASSERT_TRUE(fl_memo_get(m, fl_str_c(key), &out));
    ASSERT_EQ(out.len, strlen(value));
    ASSERT_TRUE(memcmp(out.p, value, out.len) == 0);
}

int main(void)
{
    struct fl_memo *m = fl_memo_new(2, 16);
    char long_key[FL_MEMO_KEY_MAX_BYTES + 1];
    struct fl_str out;

    ASSERT_TRUE(m != NULL);
    ASSERT_TRUE(!fl_memo_get(m, FL_STR("a"), &out));
    ASSERT_EQ(fl_memo_put(m, FL_STR("a"), FL_STR("page a")), FL_OK);
    ASSERT_EQ(fl_memo_put(m, FL_STR("b"), FL_STR("the page b")), FL_OK);
    assert_kept(m, "a", "page a");
    assert_kept(m, "b", "the page b");
    ASSERT_TRUE(!fl_memo_get(m, FL_STR("ab"), &out));
    ASSERT_TRUE(!fl_memo_get(m, FL_STR(""), &out));

    /* "b" was used less lately than "a": a third key takes its slot. */
    assert_kept(m, "a", "page a");
    ASSERT_EQ(fl_memo_put(m, FL_STR("c"), FL_STR("page c")), FL_OK);
    ASSERT_TRUE(!fl_memo_get(m, FL_STR("b"), &out));
    assert_kept(m, "a", "page a");
    assert_kept(m, "c", "page c");
    /* A longer value in a reused slot, and an empty one. */
    ASSERT_EQ(fl_memo_put(m, FL_STR("d"), FL_STR("sixteen bytes!!!")), FL_OK);
    assert_kept(m, "d", "sixteen bytes!!!");
    ASSERT_TRUE(!fl_memo_get(m, FL_STR("a"), &out));
    ASSERT_EQ(fl_memo_put(m, FL_STR("e"), FL_STR("")), FL_OK);
    assert_kept(m, "e", "");
    assert_kept(m, "d", "sixteen bytes!!!");

    /* Over the bounds: refused, and what was kept stays. */
    ASSERT_EQ(fl_memo_put(m, FL_STR("f"), FL_STR("seventeen bytes!!")), FL_ETOOBIG);
    memset(long_key, 'k', sizeof(long_key));
    ASSERT_EQ(fl_memo_put(m, (struct fl_str){long_key, sizeof(long_key)}, FL_STR("x")), FL_ETOOBIG);
    ASSERT_TRUE(!fl_memo_get(m, FL_STR("f"), &out));
    assert_kept(m, "e", "");
    assert_kept(m, "d", "sixteen bytes!!!");

    /* A key put again replaces its value and keeps the other key (a near copy of a cache
     * entry rebuilt under the same epoch, fl_cache): never the old value back. */
    ASSERT_EQ(fl_memo_put(m, FL_STR("d"), FL_STR("rebuilt d")), FL_OK);
    assert_kept(m, "d", "rebuilt d");
    assert_kept(m, "e", "");

    /* No memo keeps nothing. */
    ASSERT_EQ(fl_memo_put(NULL, FL_STR("a"), FL_STR("x")), FL_OK);
    ASSERT_TRUE(!fl_memo_get(NULL, FL_STR("a"), &out));
    ASSERT_TRUE(fl_memo_new(0, 16) == NULL);
    fl_memo_free(m);
    fl_memo_free(NULL);
    return fl_test_done("test_memo");
}
