/* SPDX-License-Identifier: MIT */
/*
 * The --config file's syntax, systemd EnvironmentFile's: KEY=VALUE lines, '#' comments,
 * optional quotes. It reads lines into entries and knows nothing of what the keys mean;
 * fl_config looks them up and checks them.
 */
#ifndef FL_CONFIG_FILE_H
#define FL_CONFIG_FILE_H

#include "fl_buf.h"
#include "fl_err.h"

/* The largest file read. */
#define FL_CONFIG_FILE_MAX_BYTES ((size_t)64 << 10)

/*
 * Reads path into entries as NUL-separated "KEY=VALUE" strings: blank lines and '#'
 * comments skipped, surrounding whitespace trimmed, one level of matching quotes removed.
 * Returns FL_OK; FL_EIO when the file cannot be read or is over FL_CONFIG_FILE_MAX_BYTES,
 * FL_EINVAL when a line is not KEY=VALUE (one line in errmsg for both); FL_ENOMEM.
 */
enum fl_err fl_config_file_read(const char *path, struct fl_buf *entries, struct fl_buf *errmsg);

#endif
