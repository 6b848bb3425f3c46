/* SPDX-License-Identifier: MIT */
/*
 * The growable output buffer all output is built in: JSON, headers, log lines, Redis keys,
 * URLs. It is always NUL-terminated, grows with overflow checks up to a hard maximum, and
 * has a sticky error: after the first failure every append does nothing, and the caller
 * checks fl_buf_err() once at the end.
 */
#ifndef FL_BUF_H
#define FL_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "fl_err.h"
#include "fl_str.h"

struct fl_buf {
    char *p;         /* owned; NUL-terminated when cap > 0 */
    size_t len;      /* bytes used, without the NUL */
    size_t cap;      /* bytes allocated */
    size_t max;      /* hard limit on len; 0 means FL_BUF_DEFAULT_MAX */
    enum fl_err err; /* first failure, sticky: FL_ENOMEM, FL_ETOOBIG or FL_EINVAL */
};

#define FL_BUF_DEFAULT_MAX ((size_t)16 << 20)

/* Initialises an empty buffer that may grow to max bytes (0: FL_BUF_DEFAULT_MAX). */
void fl_buf_init(struct fl_buf *b, size_t max);

/* Releases the memory; b may be reused after fl_buf_init. Accepts NULL. */
void fl_buf_free(struct fl_buf *b);

/* Empties b and clears its error, keeping the allocation for reuse. */
void fl_buf_reset(struct fl_buf *b);

/* Appends n bytes. */
void fl_buf_append(struct fl_buf *b, const void *p, size_t n);

/*
 * Grows b by n bytes and returns them, uninitialised, for the caller to fill; NULL (with the
 * sticky error set) when b cannot grow. The pointer is valid until the next change to b.
 */
char *fl_buf_extend(struct fl_buf *b, size_t n);

/* Appends a NUL-terminated string. */
void fl_buf_puts(struct fl_buf *b, const char *s);

/* Appends a length-carrying string. */
void fl_buf_put(struct fl_buf *b, struct fl_str s);

/* Appends one byte. */
void fl_buf_putc(struct fl_buf *b, char c);

/*
 * Appends s percent-encoded (RFC 3986): unreserved bytes (letters, digits, "-._~") and the
 * bytes in keep as they are, every other byte as %XX.
 */
void fl_buf_url_escape(struct fl_buf *b, struct fl_str s, const char *keep);

/* Appends printf-formatted text. Never pass caller data as fmt. */
void fl_buf_appendf(struct fl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fl_buf_vappendf(struct fl_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Returns the sticky error: FL_OK, FL_ENOMEM, FL_ETOOBIG, or FL_EINVAL when a format could
 * not be formatted (vsnprintf failed). */
static inline enum fl_err fl_buf_err(const struct fl_buf *b)
{
    return b->err;
}

/* Returns the contents as a borrowed fl_str, valid until the next change to b. */
static inline struct fl_str fl_buf_str(const struct fl_buf *b)
{
    struct fl_str s = {b->p ? b->p : "", b->len};
    return s;
}

#endif
