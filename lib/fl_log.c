/* SPDX-License-Identifier: MIT */
/*
 * The logger. The message is formatted into a stack buffer, then copied once into the
 * output line with control bytes escaped as \xHH; escaping and copying are one pass, so
 * they cannot disagree about sizes. Over-long lines are truncated, marked with "...".
 */
#include "fl_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 2048

static enum fl_log_level min_level = FL_LOG_INFO;
static const char *request_id;

static const char *const level_names[FL_LOG__MAX] = {
    [FL_LOG_DEBUG] = "debug",
    [FL_LOG_INFO] = "info",
    [FL_LOG_WARN] = "warn",
    [FL_LOG_ERROR] = "error",
};

void fl_log_set_level(enum fl_log_level level)
{
    min_level = level;
}

enum fl_err fl_log_parse_level(struct fl_str s, enum fl_log_level *out)
{
    for (int i = 0; i < FL_LOG__MAX; i++) {
        if (fl_str_eq(s, fl_str_c(level_names[i]))) {
            *out = (enum fl_log_level)i;
            return FL_OK;
        }
    }
    return FL_EINVAL;
}

void fl_log_set_request_id(const char *id)
{
    request_id = id;
}

void fl_log(enum fl_log_level level, const char *fmt, ...)
{
    char msg[LINE_MAX_BYTES], line[LINE_MAX_BYTES + 8];
    struct timespec ts;
    struct tm tm;
    size_t n, o;
    va_list ap;
    int saved = errno, h;

    if (level < min_level || level >= FL_LOG__MAX)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    h = snprintf(
        line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ req=%.128s level=%s pid=%ld ",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        ts.tv_nsec / 1000000, request_id ? request_id : "-", level_names[level], (long)getpid());
    o = h > 0 && (size_t)h < LINE_MAX_BYTES ? (size_t)h : 0;
    for (n = 0; msg[n] && o + 5 < LINE_MAX_BYTES; n++) {
        unsigned char c = (unsigned char)msg[n];
        if (c < 0x20 || c == 0x7f) {
            line[o++] = '\\';
            line[o++] = 'x';
            line[o++] = fl_hex_digits[c >> 4];
            line[o++] = fl_hex_digits[c & 15];
        } else {
            line[o++] = (char)c;
        }
    }
    if (msg[n]) {
        memcpy(line + o, "...", 3);
        o += 3;
    }
    line[o++] = '\n';
    if (write(STDERR_FILENO, line, o) < 0) {
        /* Nowhere left to report a failing stderr. */
    }
    errno = saved;
}
