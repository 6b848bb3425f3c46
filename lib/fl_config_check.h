/* SPDX-License-Identifier: MIT */
/*
 * What configuration loading checks beyond each value's own parser: FL_* names nobody reads
 * (a typo in a --config file is an error naming the nearest known key, in the environment a
 * warning), URLs whose user or password holds an unencoded reserved character, and the
 * example file's placeholders left in place. It parses no values and owns no settings.
 */
#ifndef FL_CONFIG_CHECK_H
#define FL_CONFIG_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "fl_buf.h"
#include "fl_err.h"

struct fl_config;

/* The names the loader asked for: the known keys. Callers fill it as they look names up. */
struct fl_config_names {
    const char *name[64]; /* borrowed string literals */
    size_t n;
};

/* Adds name (a string literal) to names once. */
void fl_config_names_add(struct fl_config_names *names, const char *name);

/*
 * True for an FL_* variable that is not application configuration but belongs to the deploy
 * scripts, the Docker files or the tests (FL_LOCAL_*, FL_SEED_ROWS, FL_DB_PASSWORD, ...).
 */
bool fl_config_foreign_name(const char *name, size_t len);

/*
 * The known name closest to name[0..len) by edit distance, when it is close enough to be a
 * likely typo; NULL otherwise. Borrowed from names.
 */
const char *fl_config_nearest(const struct fl_config_names *names, const char *name, size_t len);

/*
 * Checks the --config file's entries ("KEY=VALUE" strings, NUL-separated, in entries[0..len))
 * and then the environment (envp, NULL-terminated) for FL_* keys that are neither in names
 * nor foreign. Returns FL_EINVAL with one line in errmsg for the file's first unknown key;
 * FL_OK otherwise, having appended one line per unknown environment variable to warnings.
 */
enum fl_err fl_config_check_names(const struct fl_config_names *names, const char *path,
                                  const char *entries, size_t len, char *const *envp,
                                  struct fl_buf *errmsg, struct fl_buf *warnings);

/*
 * True when a URL of urls ("scheme://user:pass@host...", or a comma list of them) holds an
 * '@' that cannot be the end of its user and password: one more '@' in the authority, or an
 * '@' after a '/', '?' or '#' that was meant to be part of the password. Percent-encoding
 * them fixes it.
 */
bool fl_config_userinfo_unencoded(const char *urls);

/*
 * Appends one line for each setting that still holds the example file's placeholder
 * (CHANGE-ME) or another value that must not be used as it is. Returns how many.
 */
unsigned fl_config_placeholders(const struct fl_config *cfg, struct fl_buf *out);

#endif
