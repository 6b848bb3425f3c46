/* SPDX-License-Identifier: MIT */
/* The word splitter; see fl_search.h. */
#include "fl_search.h"

static int is_word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

int fl_search_words(struct fl_str text, fl_search_word_fn fn, void *ud)
{
    char word[FL_SEARCH_WORD_MAX_BYTES];
    int count = 0;
    size_t i = 0;

    while (i < text.len) {
        size_t n = 0;

        while (i < text.len && !is_word_byte((unsigned char)text.p[i]))
            i++;
        if (i == text.len)
            break;
        while (i < text.len && is_word_byte((unsigned char)text.p[i])) {
            unsigned char c = (unsigned char)text.p[i++];
            if (n < sizeof(word))
                word[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        /* A cut word must not end inside a UTF-8 sequence. */
        if (n == sizeof(word) && ((unsigned char)word[n - 1] & 0x80)) {
            size_t k = n;
            while (k > 0 && ((unsigned char)word[k - 1] & 0xc0) == 0x80)
                k--;
            if (k > 0 && ((unsigned char)word[k - 1] & 0xc0) == 0xc0) {
                size_t need = (unsigned char)word[k - 1] >= 0xf0   ? 4
                              : (unsigned char)word[k - 1] >= 0xe0 ? 3
                                                                   : 2;
                if (n - (k - 1) < need)
                    n = k - 1;
            }
        }
        count++;
        if (fn && fn(ud, (struct fl_str){word, n}) != 0)
            return -1;
    }
    return count;
}
