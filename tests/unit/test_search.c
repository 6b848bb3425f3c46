/* SPDX-License-Identifier: MIT */
/* The search word splitter: what a word is, how it is folded and cut. */
#include <string.h>

#include "fl_buf.h"
#include "fl_search.h"
#include "test.h"

static struct fl_buf words;

static int join(void *ud, struct fl_str w)
{
    (void)ud;
    if (words.len)
        fl_buf_putc(&words, '|');
    fl_buf_put(&words, w);
    return 0;
}

static const char *split(const char *text)
{
    fl_buf_reset(&words);
    fl_buf_putc(&words, '\0'); /* make p non-NULL even with no word */
    words.len = 0;
    fl_search_words(fl_str_c(text), join, NULL);
    return words.p;
}

static void test_ascii(void)
{
    ASSERT_STREQ(split("Organic Cherry-Tomatoes, 1.5kg!"), "organic|cherry|tomatoes|1|5kg");
    ASSERT_STREQ(split("  +tomato -\"onion\" (garlic*)  "), "tomato|onion|garlic");
    ASSERT_STREQ(split("!!! ..."), "");
    ASSERT_EQ(fl_search_words(FL_STR("a b  c"), NULL, NULL), 3);
}

/* Issue #15, finding 7: case folds beyond ASCII, and only letters and digits make words. */
static void test_unicode(void)
{
    ASSERT_STREQ(split("\xc3\x84pfel Zw\xc3\xb6lfgr\xc3\xbcn"),
                 "\xc3\xa4pfel|zw\xc3\xb6lfgr\xc3\xbcn");
    ASSERT_STREQ(split("ZW\xc3\x96LFGR\xc3\x9cN"), "zw\xc3\xb6lfgr\xc3\xbcn");
    ASSERT_STREQ(split("Caf\xc3\xa9 CR\xc3\x88ME"), "caf\xc3\xa9|cr\xc3\xa8me");
    /* Latin Extended-A and -B: ŁÓDŹ, the titlecase and capital DŽ digraphs. */
    ASSERT_STREQ(split("\xc5\x81\xc3\x93"
                       "D\xc5\xb9"),
                 "\xc5\x82\xc3\xb3"
                 "d\xc5\xba");
    ASSERT_STREQ(split("\xc7\x84 \xc7\x85"), "\xc7\x86|\xc7\x86");
    /* Greek ΜΈΛΙ and a final sigma (ς folds to σ), Cyrillic МЁД. */
    ASSERT_STREQ(split("\xce\x9c\xce\x88\xce\x9b\xce\x99"), "\xce\xbc\xce\xad\xce\xbb\xce\xb9");
    ASSERT_STREQ(
        split("\xce\xa3\xce\x9f\xce\xa6\xce\x9f\xce\xa3 \xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x82"),
        "\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x83|\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x83");
    ASSERT_STREQ(split("\xd0\x9c\xd0\x81\xd0\x94"), "\xd0\xbc\xd1\x91\xd0\xb4");
    /* Dashes, currency signs and other symbols separate; numbers in any script are words. */
    ASSERT_STREQ(split("\xe2\x80\x94\xe2\x80\x94"), "");
    ASSERT_STREQ(split("\xe2\x82\xac"), "");
    ASSERT_STREQ(split("kale\xe2\x80\x94"
                       "5\xe2\x82\xac\xc2\xa0"
                       "caf\xc3\xa9\xc2\xbb"),
                 "kale|5|caf\xc3\xa9");
    ASSERT_STREQ(split("\xd9\xa3 \xe5\x8f\xb0\xe5\x8c\x97"), "\xd9\xa3|\xe5\x8f\xb0\xe5\x8c\x97");
    /* A combining mark continues a word but does not start one. */
    ASSERT_STREQ(split("E\xcc\x81"
                       "clair \xcc\x81x"),
                 "e\xcc\x81"
                 "clair|x");
    /* Bytes that are not UTF-8 separate. */
    ASSERT_STREQ(split("ab\xff"
                       "cd\xed\xa0\x80"
                       "ef"),
                 "ab|cd|ef");
}

static void test_cut(void)
{
    char long_word[80];

    /* Cut at 32 bytes, never inside a character: 31 x 'a' + 'é' keeps 31 bytes. */
    memset(long_word, 'a', 31);
    memcpy(long_word + 31, "\xc3\xa9zz", 5);
    ASSERT_EQ(strlen(split(long_word)), 31);
    memset(long_word, 'b', 40);
    long_word[40] = '\0';
    ASSERT_EQ(strlen(split(long_word)), 32);
    /* Ⱥ (2 bytes) folds to ⱥ (3 bytes): after 30 bytes it no longer fits, and nothing
     * after it is kept either, so the cut word is a prefix of the whole one. */
    memset(long_word, 'c', 30);
    memcpy(long_word + 30,
           "\xc8\xba"
           "d",
           4);
    ASSERT_STREQ(split(long_word) + 28, "cc");
    /* The Kelvin sign (3 bytes) folds to k (1 byte). */
    ASSERT_STREQ(split("\xe2\x84\xaa"
                       "ale"),
                 "kale");
}

static void test_is_word(void)
{
    ASSERT_TRUE(fl_search_is_word(FL_STR("\xc3\xa4pfel")));
    ASSERT_TRUE(fl_search_is_word(FL_STR("5kg")));
    ASSERT_TRUE(!fl_search_is_word(FL_STR("\xc3\x84pfel")));
    ASSERT_TRUE(!fl_search_is_word(FL_STR("\xe2\x80\x94\xe2\x80\x94")));
    ASSERT_TRUE(!fl_search_is_word(FL_STR("kale\xe2\x80\x94")));
    ASSERT_TRUE(!fl_search_is_word(FL_STR("a b")));
    ASSERT_TRUE(!fl_search_is_word(FL_STR("")));
}

int main(void)
{
    fl_buf_init(&words, 4096);
    test_ascii();
    test_unicode();
    test_cut();
    test_is_word();
    fl_buf_free(&words);
    return fl_test_done("test_search");
}
