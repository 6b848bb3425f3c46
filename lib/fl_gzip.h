/* SPDX-License-Identifier: MIT */
/*
 * gzip bodies: the one owner of zlib. The listing service compresses a page once, when it
 * builds it, and the cache keeps it compressed; a client that does not take gzip gets it
 * decompressed here. Works on whole bodies in the request's arena; knows nothing of HTTP.
 */
#ifndef FL_GZIP_H
#define FL_GZIP_H

#include <stddef.h>

#include "fl_arena.h"
#include "fl_err.h"
#include "fl_str.h"

/*
 * Compresses in into one gzip member, borrowed from arena. Returns FL_OK; FL_ETOOBIG when
 * in is over 1 GiB; FL_ENOMEM.
 */
enum fl_err fl_gzip_compress(struct fl_arena *arena, struct fl_str in, struct fl_str *out);

/*
 * Decompresses one gzip member into a NUL-terminated copy of at most max_bytes, borrowed
 * from arena. Returns FL_OK; FL_EINVAL when in is not one whole, intact gzip member;
 * FL_ETOOBIG when it holds more than max_bytes; FL_ENOMEM.
 */
enum fl_err fl_gzip_decompress(struct fl_arena *arena, struct fl_str in, size_t max_bytes,
                               struct fl_str *out);

#endif
