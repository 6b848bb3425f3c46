/* SPDX-License-Identifier: MIT */
/*
 * Growable buffer. Growth doubles, checks for overflow and the buffer's maximum before
 * allocating, and records the new capacity only after realloc succeeded.
 */
#include "fl_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fl_buf_init(struct fl_buf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : FL_BUF_DEFAULT_MAX;
    b->err = FL_OK;
}

void fl_buf_free(struct fl_buf *b)
{
    if (b == NULL)
        return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void fl_buf_reset(struct fl_buf *b)
{
    b->len = 0;
    b->err = FL_OK;
    if (b->p)
        b->p[0] = '\0';
}

/* Makes room for n more bytes plus the NUL. Returns 0 on success, -1 with b->err set. */
static int reserve(struct fl_buf *b, size_t n)
{
    size_t need, cap;
    char *p;

    if (b->err)
        return -1;
    if (n > b->max || b->len > b->max - n) {
        b->err = FL_ETOOBIG;
        return -1;
    }
    need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    p = realloc(b->p, cap);
    if (p == NULL) {
        b->err = FL_ENOMEM;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void fl_buf_append(struct fl_buf *b, const void *p, size_t n)
{
    if (reserve(b, n) != 0)
        return;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

char *fl_buf_extend(struct fl_buf *b, size_t n)
{
    char *p;

    if (reserve(b, n) != 0)
        return NULL;
    p = b->p + b->len;
    b->len += n;
    b->p[b->len] = '\0';
    return p;
}

void fl_buf_puts(struct fl_buf *b, const char *s)
{
    fl_buf_append(b, s, strlen(s));
}

void fl_buf_put(struct fl_buf *b, struct fl_str s)
{
    fl_buf_append(b, s.p, s.len);
}

void fl_buf_putc(struct fl_buf *b, char c)
{
    fl_buf_append(b, &c, 1);
}

void fl_buf_url_escape(struct fl_buf *b, struct fl_str s, const char *keep)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            (c != '\0' && strchr("-._~", c)) || (c != '\0' && strchr(keep, c)))
            fl_buf_putc(b, (char)c);
        else
            fl_buf_appendf(b, "%%%02X", c);
    }
}

void fl_buf_vappendf(struct fl_buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    int n;

    if (reserve(b, 0) != 0)
        return;
    va_copy(copy, ap);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, copy);
    va_end(copy);
    if (n < 0) {
        b->err = FL_EINVAL;
        return;
    }
    if ((size_t)n >= b->cap - b->len) {
        if (reserve(b, (size_t)n) != 0) {
            b->p[b->len] = '\0';
            return;
        }
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    }
    b->len += (size_t)n;
}

void fl_buf_appendf(struct fl_buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fl_buf_vappendf(b, fmt, ap);
    va_end(ap);
}
