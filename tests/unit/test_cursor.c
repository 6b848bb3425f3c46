/* SPDX-License-Identifier: MIT */
/* fl_cursor: the listing's sorts and its cursors. */
#include <string.h>

#include "fl_catalog.h" /* FL_CATALOG_NAME_MAX_CHARS, the name sort key's bound */
#include "fl_cursor.h"
#include "test.h"

static struct fl_arena *arena;

static enum fl_err roundtrip(enum fl_sort sort, uint64_t id, const char *key, struct fl_cursor *out)
{
    struct fl_cursor c = {sort, id, fl_str_c(key)};
    struct fl_buf b;
    enum fl_err err;

    fl_buf_init(&b, 0);
    fl_cursor_encode(&c, &b);
    for (size_t i = 0; i < b.len; i++) {
        char ch = b.p[i];
        if (ch == '+' || ch == '/' || ch == '=')
            FAIL_AT("cursor %s is not base64url without padding", b.p);
    }
    err = fl_cursor_decode(fl_buf_str(&b), arena, out);
    fl_buf_free(&b);
    return err;
}

static void test_cursor(void)
{
    struct fl_cursor c;
    const char *bad[] = {"",
                         "!!!!",
                         "a",
                         "eA",
                         "bjEu",                                    /* "n1." no key */
                         "bjAuMjAyNi0xMS0yNCAxNDo0MjoyOS4xMjM0NTY", /* id 0 */
                         "eDEuMg",                                  /* unknown sort x */
                         "bjEuMjAyNi0xMy0yNCAxNDo0MjoyOS4xMjM0NTY", /* month 13 */
                         "cDEuLjU",                                 /* price ".5" */
                         "cDEuMWUz"};                               /* price "1e3" */

    ASSERT_EQ(roundtrip(FL_SORT_NEWEST, 1042, "2026-11-24 14:42:29.123456", &c), FL_OK);
    ASSERT_EQ(c.sort, FL_SORT_NEWEST);
    ASSERT_EQ(c.id, 1042);
    ASSERT_TRUE(fl_str_eq(c.key, FL_STR("2026-11-24 14:42:29.123456")));
    ASSERT_EQ(roundtrip(FL_SORT_PRICE_DESC, 7, "64.50", &c), FL_OK);
    ASSERT_EQ(c.sort, FL_SORT_PRICE_DESC);
    ASSERT_EQ(roundtrip(FL_SORT_NAME_ASC, 9, "Caf\xc3\xa9 & \"Tomato\" 1.5 kg", &c), FL_OK);
    ASSERT_TRUE(fl_str_eq(c.key, FL_STR("Caf\xc3\xa9 & \"Tomato\" 1.5 kg")));
    ASSERT_EQ(roundtrip(FL_SORT_NEWEST, 1, "not a time", &c), FL_EINVAL);
    ASSERT_EQ(roundtrip(FL_SORT_PRICE_ASC, 1, "12.345", &c), FL_EINVAL);
    ASSERT_EQ(roundtrip(FL_SORT_NAME_ASC, 1, "\xff", &c), FL_EINVAL);
    for (size_t i = 0; i < FL_COUNTOF(bad); i++) {
        fl_test_checks++;
        if (fl_cursor_decode(fl_str_c(bad[i]), arena, &c) != FL_EINVAL)
            FAIL_AT("cursor '%s' was accepted", bad[i]);
    }
}

/* Cursor keys are checked whole: only a key a real row can have is accepted. */
static void test_cursor_keys_are_checked_whole(void)
{
    struct fl_cursor c;
    char long_name[FL_CATALOG_NAME_MAX_CHARS * 2 + 2];
    const char *bad_times[] = {
        "2026-02-39 29:59:59.999999", /* issue #15: day 39, hour 29 */
        "2026-02-29 12:00:00.000000", /* 2026 is not a leap year */
        "1900-02-29 12:00:00.000000", /* nor is 1900 */
        "2026-04-31 12:00:00.000000", /* April has 30 days */
        "2026-00-10 12:00:00.000000", /* month 0 */
        "2026-01-00 12:00:00.000000", /* day 0 */
        "2026-01-10 24:00:00.000000", "2026-01-10 23:60:00.000000",
        "2026-01-10 23:59:60.000000", "0999-12-31 23:59:59.999999", /* before DATETIME's range */
    };
    const char *good_times[] = {"2024-02-29 00:00:00.000000", "2000-02-29 23:59:59.999999",
                                "2026-12-31 23:59:59.999999", "1000-01-01 00:00:00.000000"};

    for (size_t i = 0; i < FL_COUNTOF(bad_times); i++) {
        fl_test_checks++;
        if (roundtrip(FL_SORT_NEWEST, 1, bad_times[i], &c) != FL_EINVAL ||
            roundtrip(FL_SORT_OLDEST, 1, bad_times[i], &c) != FL_EINVAL)
            FAIL_AT("cursor time '%s' was accepted", bad_times[i]);
    }
    for (size_t i = 0; i < FL_COUNTOF(good_times); i++)
        ASSERT_EQ(roundtrip(FL_SORT_OLDEST, 1, good_times[i], &c), FL_OK);
    ASSERT_EQ(roundtrip(FL_SORT_PRICE_ASC, 1, "99999999.99", &c), FL_OK);
    ASSERT_EQ(roundtrip(FL_SORT_PRICE_ASC, 1, "100000000.00", &c), FL_EINVAL);
    ASSERT_EQ(roundtrip(FL_SORT_PRICE_DESC, 1, "-1", &c), FL_EINVAL);
    /* 200 two-byte characters are a name; 201 are not. */
    for (size_t i = 0; i < FL_CATALOG_NAME_MAX_CHARS; i++)
        memcpy(long_name + 2 * i, "\xc3\xa9", 2);
    long_name[FL_CATALOG_NAME_MAX_CHARS * 2] = '\0';
    ASSERT_EQ(roundtrip(FL_SORT_NAME_ASC, 1, long_name, &c), FL_OK);
    memcpy(long_name + FL_CATALOG_NAME_MAX_CHARS * 2, "e", 2);
    ASSERT_EQ(roundtrip(FL_SORT_NAME_ASC, 1, long_name, &c), FL_EINVAL);
    ASSERT_EQ(roundtrip(FL_SORT_NAME_ASC, 1, "caf\xc3", &c), FL_EINVAL); /* cut UTF-8 */
}

static void test_sort(void)
{
    enum fl_sort s;
    const char *names[] = {"newest", "oldest", "price_asc", "price_desc", "name_asc"};

    for (int i = 0; i < FL_SORT__MAX; i++) {
        ASSERT_EQ(fl_sort_parse(fl_str_c(names[i]), &s), FL_OK);
        ASSERT_EQ(s, i);
        ASSERT_STREQ(fl_sort_name(s), names[i]);
    }
    ASSERT_EQ(fl_sort_parse(FL_STR("Newest"), &s), FL_EINVAL);
    ASSERT_EQ(fl_sort_parse(FL_STR("price"), &s), FL_EINVAL);
}

int main(void)
{
    arena = fl_arena_new(1 << 20);
    test_cursor();
    test_cursor_keys_are_checked_whole();
    test_sort();
    fl_arena_free(arena);
    return fl_test_done("test_cursor");
}
