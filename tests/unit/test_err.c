/* SPDX-License-Identifier: MIT */
/* fl_err: every error has its own text, and a value outside the enum still gets one. */
#include "fl_err.h"
#include "test.h"

static void test_texts(void)
{
    ASSERT_STREQ(fl_strerror(FL_OK), "success");
    ASSERT_STREQ(fl_strerror(FL_EDB), "database error");
    ASSERT_STREQ(fl_strerror(FL_EUNAVAIL), "unavailable for now");
    /* Each code reads differently in a log line. */
    for (int i = 0; i < FL_ERR__MAX; i++) {
        ASSERT_NOT_NULL(fl_strerror((enum fl_err)i));
        ASSERT_TRUE(strcmp(fl_strerror((enum fl_err)i), "unknown error") != 0);
        for (int j = 0; j < i; j++)
            ASSERT_TRUE(strcmp(fl_strerror((enum fl_err)i), fl_strerror((enum fl_err)j)) != 0);
    }
    ASSERT_STREQ(fl_strerror(FL_ERR__MAX), "unknown error");
    ASSERT_STREQ(fl_strerror((enum fl_err) - 1), "unknown error");
}

int main(void)
{
    test_texts();
    return fl_test_done("test_err");
}
