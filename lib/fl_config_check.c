/* SPDX-License-Identifier: MIT */
/*
 * Configuration checks that are not one value's parser. The known keys are the ones the
 * loader looked up, collected as it ran, so a key added to the loader is known here without
 * a second list to keep in step; only the deploy scripts' own FL_* names are listed.
 */
#include "fl_config_check.h"

#include <string.h>

#include "fl_config.h"

/* Longest name compared by edit distance; longer ones are never a typo of a known key. */
#define NAME_MAX_BYTES 48

/*
 * FL_* names the project uses outside the programs' configuration: deploy/local/up's knobs,
 * the Docker entrypoint and compose file, the FastCGI parameters nginx sends (in the
 * environment in CGI mode), the test and benchmark harnesses. A trailing '*' is a prefix.
 */
static const char *const foreign[] = {
    "FL_LOCAL_*",     "FL_SEED_ROWS",     "FL_EXTERNAL_WORKERS", "FL_EDGE_*", "FL_MIGRATE",
    "FL_DB_PASSWORD", "FL_REQUEST_START", "FL_BUILD_DIR",        "FL_TEST_*", "FL_BENCH_BODY",
};

void fl_config_names_add(struct fl_config_names *names, const char *name)
{
    for (size_t i = 0; i < names->n; i++)
        if (strcmp(names->name[i], name) == 0)
            return;
    if (names->n < FL_COUNTOF(names->name))
        names->name[names->n++] = name;
}

bool fl_config_foreign_name(const char *name, size_t len)
{
    for (size_t i = 0; i < FL_COUNTOF(foreign); i++) {
        size_t n = strlen(foreign[i]);
        if (foreign[i][n - 1] == '*' ? len >= n - 1 && memcmp(name, foreign[i], n - 1) == 0
                                     : len == n && memcmp(name, foreign[i], n) == 0)
            return true;
    }
    return false;
}

/* Levenshtein distance of a[0..an) and b[0..bn), both at most NAME_MAX_BYTES. */
static size_t distance(const char *a, size_t an, const char *b, size_t bn)
{
    size_t row[NAME_MAX_BYTES + 1];

    for (size_t j = 0; j <= bn; j++)
        row[j] = j;
    for (size_t i = 1; i <= an; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= bn; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[bn];
}

const char *fl_config_nearest(const struct fl_config_names *names, const char *name, size_t len)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX, allowed = len / 5 > 2 ? len / 5 : 2;

    if (len > NAME_MAX_BYTES)
        return NULL;
    for (size_t i = 0; i < names->n; i++) {
        size_t n = strlen(names->name[i]), d;
        if (n > NAME_MAX_BYTES)
            continue;
        d = distance(name, len, names->name[i], n);
        if (d < best_d) {
            best_d = d;
            best = names->name[i];
        }
    }
    return best_d <= allowed ? best : NULL;
}

static bool known(const struct fl_config_names *names, const char *name, size_t len)
{
    for (size_t i = 0; i < names->n; i++)
        if (strlen(names->name[i]) == len && memcmp(names->name[i], name, len) == 0)
            return true;
    return fl_config_foreign_name(name, len);
}

/* Appends "unknown key NAME" and the nearest known key, if one is near. */
static void describe(const struct fl_config_names *names, const char *name, size_t len,
                     struct fl_buf *out)
{
    const char *near = fl_config_nearest(names, name, len);

    fl_buf_appendf(out, "%.*s is not a FarmLokal setting", (int)(len < 64 ? len : 64), name);
    if (near)
        fl_buf_appendf(out, " (did you mean %s?)", near);
}

/* The key of "KEY=VALUE" and its length, when the key starts with FL_; 0 otherwise. */
static size_t fl_key(const char *entry)
{
    const char *eq = strchr(entry, '=');

    return strncmp(entry, "FL_", 3) == 0 && eq ? (size_t)(eq - entry) : 0;
}

enum fl_err fl_config_check_names(const struct fl_config_names *names, const char *path,
                                  const char *entries, size_t len, char *const *envp,
                                  struct fl_buf *errmsg, struct fl_buf *warnings)
{
    for (size_t i = 0; i < len;) {
        const char *entry = entries + i;
        size_t klen = fl_key(entry);
        if (klen && !known(names, entry, klen)) {
            fl_buf_reset(errmsg);
            fl_buf_appendf(errmsg, "configuration: %s: ", path);
            describe(names, entry, klen, errmsg);
            return FL_EINVAL;
        }
        i += strlen(entry) + 1;
    }
    for (size_t i = 0; envp && envp[i]; i++) {
        size_t klen = fl_key(envp[i]);
        if (klen && !known(names, envp[i], klen)) {
            fl_buf_puts(warnings, "the environment variable ");
            describe(names, envp[i], klen, warnings);
            fl_buf_puts(warnings, "; it is ignored\n");
        }
    }
    return FL_OK;
}

/* The length of the URL at s: up to a comma that starts another URL ("scheme://"), or the
 * end; a comma inside one URL (redis-sentinel://h1:p,h2:p/master) does not end it. */
static size_t url_len(const char *s)
{
    for (const char *c = strchr(s, ','); c; c = strchr(c + 1, ',')) {
        size_t scheme = strspn(c + 1, "abcdefghijklmnopqrstuvwxyz0123456789+.-");
        if (scheme > 0 && strncmp(c + 1 + scheme, "://", 3) == 0)
            return (size_t)(c - s);
    }
    return strlen(s);
}

static bool one_unencoded(const char *url, size_t len)
{
    const char *end = url + len, *p = memmem(url, len, "://", 3), *auth_end, *at;

    if (p == NULL)
        return false;
    p += 3;
    for (auth_end = p; auth_end < end && !strchr("/?#", *auth_end); auth_end++)
        ;
    at = memchr(p, '@', (size_t)(auth_end - p));
    /* "user:p@ss@host": the authority holds two '@'. */
    if (at && memchr(at + 1, '@', (size_t)(auth_end - at - 1)))
        return true;
    /* "user:pa/ss@host/db": the '/' ended the authority early; its '@' comes after. */
    return at == NULL && memchr(auth_end, '@', (size_t)(end - auth_end)) != NULL;
}

bool fl_config_userinfo_unencoded(const char *urls)
{
    for (const char *s = urls; *s;) {
        size_t n = url_len(s);
        if (one_unencoded(s, n))
            return true;
        s += n + (s[n] == ',');
    }
    return false;
}

/* True when s holds the example file's placeholder, in any case. */
static bool placeholder(const char *s)
{
    return s && (strcasestr(s, "CHANGE-ME") || strcasestr(s, "CHANGEME"));
}

static unsigned warn_if_placeholder(const char *what, const char *value, struct fl_buf *out)
{
    if (!placeholder(value))
        return 0;
    fl_buf_appendf(out,
                   "WARNING: %s is still the example's placeholder CHANGE-ME: set the real one "
                   "before starting the service\n",
                   what);
    return 1;
}

unsigned fl_config_placeholders(const struct fl_config *cfg, struct fl_buf *out)
{
    unsigned n = 0;

    n += warn_if_placeholder("FL_MYSQL_URL's password", cfg->mysql.password, out);
    for (size_t i = 0; i < cfg->n_mysql_read; i++)
        n += warn_if_placeholder("FL_MYSQL_READ_URL's password", cfg->mysql_read[i].password, out);
    n += warn_if_placeholder("FL_REDIS_URL's password", cfg->redis.password, out);
    n += warn_if_placeholder("FL_OAUTH_CLIENT_SECRET", cfg->oauth_client_secret, out);
    n += warn_if_placeholder("FL_ADMIN_TOKEN", cfg->admin_token, out);
    return n;
}
