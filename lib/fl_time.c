/* SPDX-License-Identifier: MIT */
/* Clock readings; see fl_time.h. */
#include "fl_time.h"

#include <stdbool.h>

#include <stdio.h>
#include <time.h>

int64_t fl_time_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t fl_time_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads n digits at p into *v; false if any is not a digit. */
static bool digits(const char *p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        *v = *v * 10 + (p[i] - '0');
    }
    return true;
}

enum fl_err fl_time_parse_rfc3339(struct fl_str s, int64_t *out_us)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, frac_us = 0, off = 0;
    size_t i = 19;

    if (s.len < 20 || !digits(s.p, 4, &y) || s.p[4] != '-' || !digits(s.p + 5, 2, &mo) ||
        s.p[7] != '-' || !digits(s.p + 8, 2, &d) || (s.p[10] != 'T' && s.p[10] != 't') ||
        !digits(s.p + 11, 2, &h) || s.p[13] != ':' || !digits(s.p + 14, 2, &mi) || s.p[16] != ':' ||
        !digits(s.p + 17, 2, &sec))
        return FL_EINVAL;
    if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
        sec > 60)
        return FL_EINVAL;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return FL_EINVAL; /* timegm would quietly make it March 1st */
    if (s.p[i] == '.') {
        int n = 0;
        for (i++; i < s.len && s.p[i] >= '0' && s.p[i] <= '9'; i++, n++) {
            if (n < 6)
                frac_us = frac_us * 10 + (s.p[i] - '0');
        }
        if (n == 0 || n > 9)
            return FL_EINVAL;
        for (; n < 6; n++)
            frac_us *= 10;
    }
    if (i == s.len - 1 && (s.p[i] == 'Z' || s.p[i] == 'z')) {
        off = 0;
    } else if (i + 6 == s.len && (s.p[i] == '+' || s.p[i] == '-') && s.p[i + 3] == ':') {
        int oh, om;
        if (!digits(s.p + i + 1, 2, &oh) || !digits(s.p + i + 4, 2, &om) || oh > 23 || om > 59)
            return FL_EINVAL;
        off = (oh * 60 + om) * (s.p[i] == '+' ? 1 : -1);
    } else {
        return FL_EINVAL;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec > 59 ? 59 : sec; /* a leap second is kept inside its minute */
    *out_us = ((int64_t)timegm(&tm) - (int64_t)off * 60) * 1000000 + frac_us;
    /* What MySQL's DATETIME can hold, in UTC: an offset can push a time out of it. */
    if (*out_us < FL_TIME_MIN_US || *out_us > FL_TIME_MAX_US)
        return FL_EINVAL;
    return FL_OK;
}

void fl_time_format_db(int64_t us, char out[64])
{
    int64_t frac = us % 1000000;
    time_t s = (time_t)(us / 1000000);
    struct tm tm;

    if (frac < 0) { /* before 1970: floor, so the fraction stays in [0, 1 s) */
        frac += 1000000;
        s -= 1;
    }
    gmtime_r(&s, &tm);
    snprintf(out, 64, "%04d-%02d-%02d %02d:%02d:%02d.%06d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}
