/* SPDX-License-Identifier: MIT */
/*
 * fl_time: RFC 3339 timestamps as the webhooks send them, to microseconds in UTC, only
 * inside what a DATETIME(6) column holds; and the DATETIME(6) text written back.
 */
#include "fl_time.h"
#include "test.h"

static int64_t parsed(const char *s)
{
    int64_t us = 0;

    if (fl_time_parse_rfc3339(fl_str_c(s), &us) != FL_OK)
        FAIL_AT("'%s' was refused", s);
    return us;
}

static void test_parse(void)
{
    /* 2026-11-24T14:42:29Z is 1795531349 s after the epoch. */
    ASSERT_EQ(parsed("2026-11-24T14:42:29Z"), 1795531349LL * 1000000);
    ASSERT_EQ(parsed("2026-11-24T14:42:29.123456Z"), 1795531349LL * 1000000 + 123456);
    ASSERT_EQ(parsed("2026-11-24t14:42:29.5z"), 1795531349LL * 1000000 + 500000);
    /* Nanoseconds are cut to microseconds, not rounded. */
    ASSERT_EQ(parsed("2026-11-24T14:42:29.123456789Z"), 1795531349LL * 1000000 + 123456);
    /* An offset is east of UTC: +05:30 is five and a half hours earlier in UTC. */
    ASSERT_EQ(parsed("2026-11-24T20:12:29+05:30"), 1795531349LL * 1000000);
    ASSERT_EQ(parsed("2026-11-24T09:42:29-05:00"), 1795531349LL * 1000000);
    ASSERT_EQ(parsed("1970-01-01T00:00:00Z"), 0);
    ASSERT_EQ(parsed("2024-02-29T00:00:00Z"), 1709164800LL * 1000000);
    /* A leap second stays inside its minute. */
    ASSERT_EQ(parsed("2016-12-31T23:59:60Z"), parsed("2016-12-31T23:59:59Z"));
    ASSERT_EQ(parsed("1000-01-01T00:00:00Z"), FL_TIME_MIN_US);
    ASSERT_EQ(parsed("9999-12-31T23:59:59.999999Z"), FL_TIME_MAX_US);
}

static void test_parse_refuses(void)
{
    const char *bad[] = {
        "",
        "2026-11-24",
        "2026-11-24T14:42:29",             /* no zone */
        "2026-11-24 14:42:29Z",            /* a space is not RFC 3339's T */
        "2026-11-24T14:42:29.Z",           /* a point without digits */
        "2026-11-24T14:42:29.1234567890Z", /* ten fraction digits */
        "2026-11-24T14:42:29+0530",        /* offset without its colon */
        "2026-11-24T14:42:29+24:00",       /* no such offset */
        "2026-11-24T14:42:29Zjunk",
        "2026-13-24T14:42:29Z",
        "2026-02-29T12:00:00Z", /* not a leap year: not quietly March 1st */
        "1900-02-29T12:00:00Z",
        "2026-04-31T12:00:00Z",
        "2026-11-24T24:00:00Z",
        "2026-11-24T23:60:00Z",
        "0999-12-31T23:59:59Z",      /* before DATETIME's range */
        "1000-01-01T00:30:00+01:00", /* inside it locally, before it in UTC */
        "9999-12-31T23:30:00-01:00", /* after it in UTC */
        "2O26-11-24T14:42:29Z",
    };
    int64_t us;

    for (size_t i = 0; i < FL_COUNTOF(bad); i++) {
        fl_test_checks++;
        if (fl_time_parse_rfc3339(fl_str_c(bad[i]), &us) != FL_EINVAL)
            FAIL_AT("'%s' was accepted", bad[i]);
    }
}

static void test_format_db(void)
{
    char out[64];

    fl_time_format_db(1795531349LL * 1000000 + 123456, out);
    ASSERT_STREQ(out, "2026-11-24 14:42:29.123456");
    fl_time_format_db(0, out);
    ASSERT_STREQ(out, "1970-01-01 00:00:00.000000");
    /* Before 1970 the fraction still counts forward from the whole second before. */
    fl_time_format_db(-1, out);
    ASSERT_STREQ(out, "1969-12-31 23:59:59.999999");
    fl_time_format_db(FL_TIME_MIN_US, out);
    ASSERT_STREQ(out, "1000-01-01 00:00:00.000000");
    fl_time_format_db(FL_TIME_MAX_US, out);
    ASSERT_STREQ(out, "9999-12-31 23:59:59.999999");
    fl_time_format_db(parsed("2026-11-24T20:12:29.000001+05:30"), out);
    ASSERT_STREQ(out, "2026-11-24 14:42:29.000001");
}

static void test_clocks(void)
{
    int64_t a = fl_time_mono_us(), b = fl_time_mono_us();

    ASSERT_LE(a, b);
    /* The wall clock is after this file was written (2026-01-01) and in milliseconds. */
    ASSERT_GT(fl_time_wall_ms(), 1767225600LL * 1000);
    ASSERT_LT(fl_time_wall_ms(), 1767225600LL * 1000 * 10);
}

int main(void)
{
    test_parse();
    test_parse_refuses();
    test_format_db();
    test_clocks();
    return fl_test_done("test_time");
}
