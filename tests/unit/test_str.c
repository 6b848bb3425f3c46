/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "fl_str.h"
#include "test.h"

static int64_t i64(const char *s, int64_t min, int64_t max, int *ok)
{
    int64_t v = -12345;
    *ok = fl_str_to_i64(fl_str_c(s), min, max, &v) == FL_OK;
    return v;
}

int main(void)
{
    int ok;
    uint64_t u = 0;
    int64_t cents = 0;
    struct fl_str words[] = {FL_STR("tomatoes"),
                             FL_STR("\xc3\xa9"
                                    "clair"),
                             FL_STR("tomato"), FL_STR(""), FL_STR("Tomato")};

    /* fl_str_cmp sorts by bytes, as utf8mb4_bin does: a prefix first, non-ASCII last. */
    qsort(words, 5, sizeof(words[0]), fl_str_cmp);
    ASSERT_TRUE(fl_str_eq(words[0], FL_STR("")));
    ASSERT_TRUE(fl_str_eq(words[1], FL_STR("Tomato")));
    ASSERT_TRUE(fl_str_eq(words[2], FL_STR("tomato")));
    ASSERT_TRUE(fl_str_eq(words[3], FL_STR("tomatoes")));
    ASSERT_TRUE(fl_str_eq(words[4], FL_STR("\xc3\xa9"
                                           "clair")));

    ASSERT_EQ(i64("20", 1, 100, &ok), 20);
    ASSERT_TRUE(ok);
    i64("0", 1, 100, &ok);
    ASSERT_TRUE(!ok);
    i64("101", 1, 100, &ok);
    ASSERT_TRUE(!ok);
    i64("10abc", 1, 100, &ok);
    ASSERT_TRUE(!ok);
    i64(" 10", 1, 100, &ok);
    ASSERT_TRUE(!ok);
    i64("+10", 1, 100, &ok);
    ASSERT_TRUE(!ok);
    i64("010", 1, 100, &ok);
    ASSERT_TRUE(!ok);
    i64("", 1, 100, &ok);
    ASSERT_TRUE(!ok);
    i64("-5", 1, 100, &ok);
    ASSERT_TRUE(!ok);
    ASSERT_EQ(i64("-5", -10, 10, &ok), -5);
    ASSERT_TRUE(ok);
    ASSERT_EQ(i64("-9223372036854775808", INT64_MIN, INT64_MAX, &ok), INT64_MIN);
    ASSERT_TRUE(ok);
    ASSERT_EQ(i64("9223372036854775807", INT64_MIN, INT64_MAX, &ok), INT64_MAX);
    ASSERT_TRUE(ok);
    i64("9223372036854775808", INT64_MIN, INT64_MAX, &ok);
    ASSERT_TRUE(!ok);
    i64("-9223372036854775809", INT64_MIN, INT64_MAX, &ok);
    ASSERT_TRUE(!ok);
    ASSERT_EQ(fl_str_to_u64(fl_str_c("18446744073709551615"), 0, UINT64_MAX, &u), FL_OK);
    ASSERT_EQ(u, UINT64_MAX);
    ASSERT_EQ(fl_str_to_u64(fl_str_c("18446744073709551616"), 0, UINT64_MAX, &u), FL_EINVAL);
    ASSERT_EQ(fl_str_to_u64(fl_str_c("5"), 0, 0, &u), FL_EINVAL);

    ASSERT_EQ(fl_str_to_cents(fl_str_c("5"), 9999999999, &cents), FL_OK);
    ASSERT_EQ(cents, 500);
    ASSERT_EQ(fl_str_to_cents(fl_str_c("5.5"), 9999999999, &cents), FL_OK);
    ASSERT_EQ(cents, 550);
    ASSERT_EQ(fl_str_to_cents(fl_str_c("5.05"), 9999999999, &cents), FL_OK);
    ASSERT_EQ(cents, 505);
    ASSERT_EQ(fl_str_to_cents(fl_str_c("0"), 9999999999, &cents), FL_OK);
    ASSERT_EQ(cents, 0);
    ASSERT_EQ(fl_str_to_cents(fl_str_c("99999999.99"), 9999999999, &cents), FL_OK);
    ASSERT_EQ(cents, 9999999999);
    const char *bad[] = {".5", "5.", "+5", "1e3", "-1", "5.555", "100000000", "", "5..5", "5,5"};
    for (size_t i = 0; i < FL_COUNTOF(bad); i++) {
        if (fl_str_to_cents(fl_str_c(bad[i]), 9999999999, &cents) != FL_EINVAL)
            FAIL_AT("cents accepted '%s'", bad[i]);
        fl_test_checks++;
    }

    char out[32];
    size_t n;
    ASSERT_EQ(fl_str_unescape(FL_STR("a%20b+c%C3%A9"), true, out, &n), FL_OK);
    ASSERT_EQ(n, 7);
    ASSERT_MEMEQ(out, "a b c\xc3\xa9", 7);
    ASSERT_EQ(fl_str_unescape(FL_STR("%zz"), true, out, &n), FL_EINVAL);
    ASSERT_EQ(fl_str_unescape(FL_STR("%4"), true, out, &n), FL_EINVAL);
    ASSERT_EQ(fl_str_unescape(FL_STR("%"), true, out, &n), FL_EINVAL);
    ASSERT_EQ(fl_str_unescape(FL_STR("a+b"), false, out, &n), FL_OK);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(out[1], '+');

    ASSERT_TRUE(fl_utf8_valid(FL_STR("plain ascii")));
    ASSERT_TRUE(fl_utf8_valid(FL_STR("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8d\x85")));
    ASSERT_TRUE(!fl_utf8_valid(FL_STR("\xff")));
    ASSERT_TRUE(!fl_utf8_valid(FL_STR("\xc3")));             /* truncated */
    ASSERT_TRUE(!fl_utf8_valid(FL_STR("\xc0\xaf")));         /* overlong */
    ASSERT_TRUE(!fl_utf8_valid(FL_STR("\xed\xa0\x80")));     /* surrogate */
    ASSERT_TRUE(!fl_utf8_valid(FL_STR("\xf4\x90\x80\x80"))); /* over U+10FFFF */
    ASSERT_TRUE(!fl_utf8_valid(FL_STR("\xe2\x82")));         /* truncated 3-byte */
    ASSERT_TRUE(fl_utf8_valid(FL_STR("\xf4\x8f\xbf\xbf")));  /* U+10FFFF, the last */
    ASSERT_TRUE(!fl_utf8_valid(FL_STR("\xc0\x80")));         /* overlong NUL */
    ASSERT_TRUE(!fl_utf8_valid(FL_STR("\xe0\x9f\xbf")));     /* overlong 3-byte */
    ASSERT_TRUE(!fl_utf8_valid(FL_STR("\xf0\x8f\xbf\xbf"))); /* overlong 4-byte */
    ASSERT_TRUE(!fl_utf8_valid(FL_STR("\xed\xbf\xbf")));     /* low surrogate */

    /* Blank: nothing a reader would see (names made of these were accepted, issue #15). */
    ASSERT_TRUE(fl_utf8_blank(FL_STR("")));
    ASSERT_TRUE(fl_utf8_blank(FL_STR("  \t")));
    ASSERT_TRUE(fl_utf8_blank(FL_STR("\xe2\x80\x8b")));                     /* U+200B zero width */
    ASSERT_TRUE(fl_utf8_blank(FL_STR("\xc2\xa0\xe3\x80\x80\xef\xbb\xbf"))); /* NBSP, ideo., BOM */
    ASSERT_TRUE(fl_utf8_blank(FL_STR("\xe3\x85\xa4\xe2\xa0\x80"))); /* Hangul filler, braille */
    ASSERT_TRUE(fl_utf8_blank(FL_STR("\xf3\xa0\x80\x81")));         /* U+E0001 tag */
    ASSERT_TRUE(!fl_utf8_blank(FL_STR(" a ")));
    ASSERT_TRUE(!fl_utf8_blank(FL_STR("\xe2\x80\x8b"
                                      "\xc3\xa9")));
    ASSERT_TRUE(!fl_utf8_blank(FL_STR("\xe2\x80\x8b\xff"))); /* invalid */
    /* Clipping never ends inside a character. */
    ASSERT_EQ(fl_utf8_clip(FL_STR("ab\xe2\x82\xac"), 4).len, 2);
    ASSERT_EQ(fl_utf8_clip(FL_STR("ab\xe2\x82\xac"), 5).len, 5);
    ASSERT_EQ(fl_utf8_clip(FL_STR("\xf0\x9f\x8d\x85z"), 3).len, 0);
    ASSERT_EQ(fl_utf8_clip(FL_STR("abc"), 2).len, 2);
    return fl_test_done("test_str");
}
