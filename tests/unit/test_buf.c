/* SPDX-License-Identifier: MIT */
#include "fl_arena.h"
#include "fl_buf.h"
#include "fl_crypto.h"
#include "fl_json.h"
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

static void test_json(void)
{
    struct fl_buf b;

    fl_buf_init(&b, 0);
    fl_json_str(&b, FL_STR("a\"b\\c\n\x01\x7f caf\xc3\xa9"));
    ASSERT_STREQ(b.p, "\"a\\\"b\\\\c\\n\\u0001\\u007f caf\xc3\xa9\"");
    fl_buf_reset(&b);
    fl_json_str(&b, FL_STR_NULL);
    ASSERT_STREQ(b.p, "\"\"");
    fl_buf_free(&b);
}

static void test_crypto(void)
{
    struct fl_buf b;
    unsigned char r1[16] = {0}, r2[16] = {0};

    fl_buf_init(&b, 0);
    fl_crypto_base64_encode(FL_STR("farmlokal!"), &b);
    ASSERT_STREQ(b.p, "ZmFybWxva2FsIQ==");
    fl_buf_reset(&b);
    ASSERT_EQ(fl_crypto_base64_decode(FL_STR("ZmFybWxva2FsIQ=="), &b), FL_OK);
    ASSERT_STREQ(b.p, "farmlokal!");
    ASSERT_EQ(b.len, 10);
    fl_buf_reset(&b);
    ASSERT_EQ(fl_crypto_base64_decode(FL_STR("Zm9v"), &b), FL_OK);
    ASSERT_STREQ(b.p, "foo");
    fl_buf_reset(&b);
    ASSERT_EQ(fl_crypto_base64_decode(FL_STR("Zm9v!A=="), &b), FL_EINVAL);
    ASSERT_EQ(fl_crypto_base64_decode(FL_STR("Zm9"), &b), FL_EINVAL);
    ASSERT_EQ(fl_crypto_base64_decode(FL_STR("Z=9v"), &b), FL_EINVAL);
    ASSERT_EQ(b.len, 0);
    fl_buf_free(&b);

    ASSERT_TRUE(fl_crypto_equal(FL_STR("secret-token"), FL_STR("secret-token")));
    ASSERT_TRUE(!fl_crypto_equal(FL_STR("secret-token"), FL_STR("secret-tokeN")));
    ASSERT_TRUE(!fl_crypto_equal(FL_STR("secret"), FL_STR("secret-token")));
    ASSERT_EQ(fl_crypto_random(r1, sizeof(r1)), FL_OK);
    ASSERT_EQ(fl_crypto_random(r2, sizeof(r2)), FL_OK);
    ASSERT_TRUE(memcmp(r1, r2, sizeof(r1)) != 0);
}

int main(void)
{
    test_buf();
    test_arena();
    test_json();
    test_crypto();
    return fl_test_done("test_buf");
}
