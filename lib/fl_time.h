/* SPDX-License-Identifier: MIT */
/* Clocks: a monotonic clock for durations and deadlines, the wall clock for timestamps. */
#ifndef FL_TIME_H
#define FL_TIME_H

#include <stdint.h>

/* Microseconds on the monotonic clock (arbitrary origin). */
int64_t fl_time_mono_us(void);

/* Milliseconds since the Unix epoch on the wall clock. */
int64_t fl_time_wall_ms(void);

#endif
