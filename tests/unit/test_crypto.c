/* SPDX-License-Identifier: MIT */
#include "fl_buf.h"
#include "fl_crypto.h"
#include "test.h"

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
    test_crypto();
    return fl_test_done("test_crypto");
}
