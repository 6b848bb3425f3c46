/* SPDX-License-Identifier: MIT */
/* JSON writing; see fl_json.h. */
#include "fl_json.h"

void fl_json_escape(struct fl_buf *b, struct fl_str s)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        size_t n = 6;

        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        if (i > run)
            fl_buf_append(b, s.p + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': esc[1] = '"', n = 2; break;
        case '\\': esc[1] = '\\', n = 2; break;
        case '\n': esc[1] = 'n', n = 2; break;
        case '\r': esc[1] = 'r', n = 2; break;
        case '\t': esc[1] = 't', n = 2; break;
        default: break;
        }
        fl_buf_append(b, esc, n);
    }
    if (s.len > run)
        fl_buf_append(b, s.p + run, s.len - run);
}

void fl_json_str(struct fl_buf *b, struct fl_str s)
{
    fl_buf_putc(b, '"');
    fl_json_escape(b, s);
    fl_buf_putc(b, '"');
}

void fl_json_key(struct fl_buf *b, const char *name)
{
    fl_buf_putc(b, '"');
    fl_buf_puts(b, name);
    fl_buf_append(b, "\":", 2);
}
