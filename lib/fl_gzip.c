/* SPDX-License-Identifier: MIT */
/*
 * gzip bodies with zlib, whole bodies at a time in the request's arena: the output size is
 * known before the work (deflateBound; the gzip trailer's length), so each call allocates
 * once and makes one zlib pass. zlib's own state is freed before returning.
 */
#include "fl_gzip.h"

#include <stdint.h>
#include <string.h>
#include <zlib.h>

/* zlib's window for a gzip wrapper (15 bits + 16), and its default memory level. */
#define GZIP_WINDOW_BITS (15 + 16)
#define GZIP_MEM_LEVEL   8
/* A page is compressed once, when it is built, and sent many times: the default level's
 * cost is paid per miss, not per request. */
#define GZIP_LEVEL Z_DEFAULT_COMPRESSION
/* zlib counts in uInt: bodies beyond this are not ours to compress. */
#define GZIP_IN_MAX_BYTES ((size_t)1 << 30)
/* A gzip member: 10-byte header, the deflate stream, 8-byte trailer (CRC32, ISIZE). */
#define GZIP_MIN_BYTES 18

enum fl_err fl_gzip_compress(struct fl_arena *arena, struct fl_str in, struct fl_str *out)
{
    z_stream z = {0};
    enum fl_err err = FL_ENOMEM;
    uLong cap;
    Bytef *p;

    if (in.len > GZIP_IN_MAX_BYTES)
        return FL_ETOOBIG;
    if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, GZIP_WINDOW_BITS, GZIP_MEM_LEVEL,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return FL_ENOMEM;
    cap = deflateBound(&z, (uLong)in.len);
    p = fl_arena_alloc(arena, cap);
    if (p == NULL)
        goto end_stream;
    z.next_in = (Bytef *)(uintptr_t)in.p; /* zlib does not write through next_in */
    z.avail_in = (uInt)in.len;
    z.next_out = p;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        goto end_stream; /* cannot happen within deflateBound, short of a zlib bug */
    *out = (struct fl_str){(const char *)p, z.total_out};
    err = FL_OK;
end_stream:
    deflateEnd(&z);
    return err;
}

enum fl_err fl_gzip_decompress(struct fl_arena *arena, struct fl_str in, size_t max_bytes,
                               struct fl_str *out)
{
    const unsigned char *t = (const unsigned char *)in.p + in.len - 4;
    z_stream z = {0};
    enum fl_err err = FL_EINVAL;
    size_t isize;
    char *p;
    int rc;

    /* The magic and deflate's method byte: anything else is no gzip member at all. */
    if (in.len < GZIP_MIN_BYTES || in.len > GZIP_IN_MAX_BYTES || memcmp(in.p, "\x1f\x8b\x08", 3))
        return FL_EINVAL;
    /* The trailer says how long the body is (mod 2^32: checked against the real length). */
    isize = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
    if (isize > max_bytes)
        return FL_ETOOBIG;
    p = fl_arena_alloc(arena, isize + 1);
    if (p == NULL)
        return FL_ENOMEM;
    if (inflateInit2(&z, GZIP_WINDOW_BITS) != Z_OK)
        return FL_ENOMEM;
    z.next_in = (Bytef *)(uintptr_t)in.p;
    z.avail_in = (uInt)in.len;
    z.next_out = (Bytef *)p;
    z.avail_out = (uInt)isize;
    rc = inflate(&z, Z_FINISH);
    if (rc == Z_STREAM_END && z.avail_in == 0 && z.total_out == isize) {
        p[isize] = '\0';
        *out = (struct fl_str){p, isize};
        err = FL_OK;
    } else if (rc == Z_MEM_ERROR) {
        err = FL_ENOMEM;
    }
    inflateEnd(&z);
    return err;
}
