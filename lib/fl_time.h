/* SPDX-License-Identifier: MIT */
/* Clocks: a monotonic clock for durations and deadlines, the wall clock for timestamps. */
#ifndef FL_TIME_H
#define FL_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "fl_err.h"
#include "fl_str.h"

/* Microseconds on the monotonic clock (arbitrary origin). */
int64_t fl_time_mono_us(void);

/* Milliseconds since the Unix epoch on the wall clock. */
int64_t fl_time_wall_ms(void);

/* The range of MySQL's DATETIME, 1000-01-01 to 9999-12-31 23:59:59.999999, in µs. */
#define FL_TIME_MIN_US (-30610224000LL * 1000000)
#define FL_TIME_MAX_US (253402300799LL * 1000000 + 999999)

/*
 * Parses an RFC 3339 timestamp ("2026-11-24T14:42:29.123456Z", "...+05:30", fraction
 * optional, up to 9 digits, microseconds kept) into microseconds since the epoch.
 * Returns FL_OK, or FL_EINVAL for a malformed or impossible date, or one outside the
 * DATETIME range once converted to UTC.
 */
enum fl_err fl_time_parse_rfc3339(struct fl_str s, int64_t *out_us);

/* Formats microseconds since the epoch as MySQL DATETIME(6) text in UTC (26 bytes + NUL). */
void fl_time_format_db(int64_t us, char out[64]);

#endif
