/* SPDX-License-Identifier: MIT */
/*
 * Logging: one line per event on stderr, or appended to FL_LOG_FILE, written with a single
 * write(2) so lines from several workers never interleave; to syslog when stderr leads
 * nowhere (/dev/null or closed, as under spawn-fcgi) and no file is set, so no line is lost. Fields
 * are key=value, the request id first. Control bytes in the message are escaped, so caller data
 * cannot forge lines. Never pass secrets, tokens, Authorization headers or full DSNs.
 */
#ifndef FL_LOG_H
#define FL_LOG_H

#include "fl_err.h"
#include "fl_str.h"

enum fl_log_level { FL_LOG_DEBUG, FL_LOG_INFO, FL_LOG_WARN, FL_LOG_ERROR, FL_LOG__MAX };

/* Lines below level are dropped. The default is FL_LOG_INFO. */
void fl_log_set_level(enum fl_log_level level);

/* Parses "debug", "info", "warn" or "error". Returns FL_OK or FL_EINVAL. */
enum fl_err fl_log_parse_level(struct fl_str s, enum fl_log_level *out);

/*
 * Sends the lines to path, opened for appending (created 0640), instead of stderr. NULL
 * returns to the default: stderr, or syslog when stderr is /dev/null or closed. Returns
 * FL_OK, or FL_EIO (errno set) with the destination unchanged.
 */
enum fl_err fl_log_open(const char *path);

/*
 * Opens the file again by its path, for logrotate. Needed only to switch at once: a process
 * also notices within a second, at its next line, that the path names another file.
 */
void fl_log_reopen(void);

/* The id of the request being served, put on every line; NULL outside a request. Borrowed. */
void fl_log_set_request_id(const char *id);

/* Writes one line: "req=<id> level=<l> pid=<pid> <message>". */
void fl_log(enum fl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
