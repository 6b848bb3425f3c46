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

/*
 * Comparisons print both sides in their own type: the operands are compared after the usual
 * arithmetic conversions, as the C expression would, and printed as intmax_t when that
 * common type is signed and as uintmax_t when it is unsigned (so a large size_t never prints
 * negative).
 */
#define FL_TEST_UNSIGNED(a, b)                                                                 \
    _Generic((a) + (b),                                                                        \
        unsigned int: 1,                                                                       \
        unsigned long: 1,                                                                      \
        unsigned long long: 1,                                                                 \
        default: 0)

#define ASSERT_CMP(a, op, b)                                                                   \
    do {                                                                                       \
        fl_test_checks++;                                                                      \
        if (FL_TEST_UNSIGNED(a, b)) {                                                          \
            uintmax_t a_ = (uintmax_t)(a), b_ = (uintmax_t)(b);                                \
            if (!(a_ op b_))                                                                   \
                FAIL_AT("%s %s %s: %ju vs %ju", #a, #op, #b, a_, b_);                          \
        } else {                                                                               \
            intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);                                   \
            if (!(a_ op b_))                                                                   \
                FAIL_AT("%s %s %s: %jd vs %jd", #a, #op, #b, a_, b_);                          \
        }                                                                                      \
    } while (0)

#define ASSERT_EQ(a, b) ASSERT_CMP(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_CMP(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_CMP(a, <, b)
#define ASSERT_LE(a, b) ASSERT_CMP(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_CMP(a, >, b)
#define ASSERT_GE(a, b) ASSERT_CMP(a, >=, b)

#define ASSERT_NULL(p)                                                                         \
    do {                                                                                       \
        const void *p_ = (p);                                                                  \
        fl_test_checks++;                                                                      \
        if (p_ != NULL)                                                                        \
            FAIL_AT("%s is NULL: it is %p", #p, p_);                                           \
    } while (0)

#define ASSERT_NOT_NULL(p)                                                                     \
    do {                                                                                       \
        fl_test_checks++;                                                                      \
        if ((p) == NULL)                                                                       \
            FAIL_AT("%s is not NULL", #p);                                                     \
    } while (0)

/* Two byte ranges of the same length (an fl_str, or a pointer and a length). */
#define ASSERT_MEMEQ(a, b, n)                                                                  \
    do {                                                                                       \
        const void *a_ = (a), *b_ = (b);                                                       \
        size_t n_ = (n);                                                                       \
        fl_test_checks++;                                                                      \
        if (memcmp(a_, b_, n_) != 0)                                                           \
            FAIL_AT("%s == %s: \"%.*s\" != \"%.*s\"", #a, #b, (int)n_, (const char *)a_,       \
                    (int)n_, (const char *)b_);                                                \
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
