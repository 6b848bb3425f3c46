/* SPDX-License-Identifier: MIT */
/*
 * Tiny assertion macros for the unit tests: each failure prints both sides and where, and
 * the test binary exits non-zero at the end if any check failed.
 */
#ifndef FL_TEST_H
#define FL_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int fl_test_failures;
static int fl_test_checks;

#define FAIL_AT(...)                                                                           \
    do {                                                                                       \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                        \
        fprintf(stderr, __VA_ARGS__);                                                          \
        fputc('\n', stderr);                                                                   \
        fl_test_failures++;                                                                    \
    } while (0)

#define ASSERT_TRUE(c)                                                                         \
    do {                                                                                       \
        fl_test_checks++;                                                                      \
        if (!(c))                                                                              \
            FAIL_AT("expected true: %s", #c);                                                  \
    } while (0)

#define ASSERT_EQ(a, b)                                                                        \
    do {                                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                                    \
        fl_test_checks++;                                                                      \
        if (a_ != b_)                                                                          \
            FAIL_AT("%s == %s: %lld != %lld", #a, #b, a_, b_);                                 \
    } while (0)

#define ASSERT_STREQ(a, b)                                                                     \
    do {                                                                                       \
        const char *a_ = (a), *b_ = (b);                                                       \
        fl_test_checks++;                                                                      \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                                   \
            FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",                  \
                    b_ ? b_ : "(null)");                                                       \
    } while (0)

#define ASSERT_CONTAINS(hay, needle)                                                           \
    do {                                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                                \
        fl_test_checks++;                                                                      \
        if (h_ == NULL || strstr(h_, n_) == NULL)                                              \
            FAIL_AT("%s contains %s: \"%s\" lacks \"%s\"", #hay, #needle, h_ ? h_ : "(null)",  \
                    n_);                                                                       \
    } while (0)

/* Prints the tally in the plain form CI reads and returns the exit status. */
static inline int fl_test_done(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, fl_test_checks - fl_test_failures,
           fl_test_failures);
    return fl_test_failures ? 1 : 0;
}

#endif
