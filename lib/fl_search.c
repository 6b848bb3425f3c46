/* SPDX-License-Identifier: MIT */
/*
 * The word splitter; see fl_search.h. Non-ASCII code points are classified and folded
 * from two tables generated from the Unicode Character Database (fl_search_ucd.h, written
 * by fl_search_ucd.py), so the index and the queries fold alike on every host.
 */
#include "fl_search.h"

#include <stdint.h>
#include <string.h>

enum kind { WORD, SEP, MARK };

#include "fl_search_ucd.h"

static enum kind kind_of(uint32_t cp)
{
    size_t lo = 0, hi = FL_COUNTOF(ucd_kinds);

    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')
                   ? WORD
                   : SEP;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < ucd_kinds[mid].lo)
            hi = mid;
        else if (cp > ucd_kinds[mid].hi)
            lo = mid + 1;
        else
            return ucd_kinds[mid].kind;
    }
    return WORD;
}

static uint32_t fold(uint32_t cp)
{
    size_t lo = 0, hi = FL_COUNTOF(ucd_folds);

    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < ucd_folds[mid].lo)
            hi = mid;
        else if (cp > ucd_folds[mid].hi)
            lo = mid + 1;
        else if ((cp - ucd_folds[mid].lo) % ucd_folds[mid].step == 0)
            return (uint32_t)((int32_t)cp + ucd_folds[mid].delta);
        else
            return cp;
    }
    return cp;
}

/* Appends cp to word (n bytes so far) when it fits whole. Returns the new length. */
static size_t put_char(char *word, size_t n, uint32_t cp)
{
    unsigned char b[4];
    size_t len;

    if (cp < 0x80) {
        b[0] = (unsigned char)cp, len = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | cp >> 6), b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        len = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f)), len = 3;
    } else {
        b[0] = (unsigned char)(0xf0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        b[3] = (unsigned char)(0x80 | (cp & 0x3f)), len = 4;
    }
    if (FL_SEARCH_WORD_MAX_BYTES - n < len)
        return n;
    memcpy(word + n, b, len);
    return n + len;
}

int fl_search_words(struct fl_str text, fl_search_word_fn fn, void *ud)
{
    char word[FL_SEARCH_WORD_MAX_BYTES];
    size_t n = 0;
    bool in_word = false, full = false;
    int count = 0;

    for (size_t i = 0; i <= text.len;) {
        enum kind k = SEP;
        uint32_t cp = 0;

        if (i == text.len)
            i++; /* the end closes the last word */
        else if (fl_utf8_next(text, &i, &cp))
            k = kind_of(cp);
        else
            i++;
        if (k == WORD || (k == MARK && in_word)) {
            size_t was = n;
            /* Once a character did not fit, the word is cut there: nothing after it. */
            if (!full && (n = put_char(word, n, fold(cp))) == was)
                full = true;
            in_word = true;
        } else if (in_word) {
            count++;
            if (fn && fn(ud, (struct fl_str){word, n}) != 0)
                return -1;
            n = 0, in_word = full = false;
        }
    }
    return count;
}

struct one_word {
    struct fl_str want;
    bool same;
};

static int is_want(void *ud, struct fl_str word)
{
    struct one_word *w = ud;

    w->same = fl_str_eq(word, w->want);
    return 0;
}

bool fl_search_is_word(struct fl_str word)
{
    struct one_word w = {word, false};

    return fl_search_words(word, is_want, &w) == 1 && w.same;
}
