/* SPDX-License-Identifier: MIT */
#include "fl_buf.h"
#include "test.h"

static void test_buf(void)
{
    struct fl_buf b;

    fl_buf_init(&b, 16);
    fl_buf_puts(&b, "hello");
    fl_buf_appendf(&b, " %d", 42);
    ASSERT_STREQ(b.p, "hello 42");
    ASSERT_EQ(b.len, 8);
    fl_buf_puts(&b, " and more than sixteen");
    ASSERT_EQ(fl_buf_err(&b), FL_ETOOBIG);
    ASSERT_STREQ(b.p, "hello 42"); /* a failed append changes nothing */
    fl_buf_puts(&b, "!");
    ASSERT_STREQ(b.p, "hello 42"); /* sticky */
    fl_buf_reset(&b);
    ASSERT_EQ(fl_buf_err(&b), FL_OK);
    fl_buf_appendf(&b, "%s", "0123456789abcdef");
    ASSERT_EQ(b.len, 16);
    fl_buf_appendf(&b, "%s", "x");
    ASSERT_EQ(fl_buf_err(&b), FL_ETOOBIG);
    fl_buf_free(&b);
    fl_buf_free(NULL);

    fl_buf_init(&b, 0);
    for (int i = 0; i < 10000; i++)
        fl_buf_appendf(&b, "%04d", i);
    ASSERT_EQ(b.len, 40000);
    ASSERT_MEMEQ(b.p + 39996, "9999", 4);
    fl_buf_free(&b);
}

static void test_url_escape(void)
{
    struct fl_buf b;

    fl_buf_init(&b, 0);
    fl_buf_url_escape(&b, FL_STR("a b/c~d\xc3\xa9%&="), "");
    ASSERT_STREQ(b.p, "a%20b%2Fc~d%C3%A9%25%26%3D");
    fl_buf_reset(&b);
    fl_buf_url_escape(&b, FL_STR("x=1+2/%41&"), "%=+/");
    ASSERT_STREQ(b.p, "x=1+2/%41%26");
    fl_buf_free(&b);
}

int main(void)
{
    test_buf();
    test_url_escape();
    return fl_test_done("test_buf");
}
