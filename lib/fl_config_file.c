/* SPDX-License-Identifier: MIT */
/*
 * Reading the --config file. A value is taken as written between the '=' and the line's
 * end (quotes aside): no escapes and no variable expansion, as systemd does not expand
 * them either, so one file serves EnvironmentFile= and --config alike.
 */
#include "fl_config_file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum fl_err fl_config_file_read(const char *path, struct fl_buf *entries, struct fl_buf *errmsg)
{
    char chunk[4096];
    struct fl_buf raw;
    FILE *f = fopen(path, "r");
    size_t n;
    enum fl_err err = FL_OK;

    if (f == NULL) {
        fl_buf_reset(errmsg);
        fl_buf_appendf(errmsg, "configuration: cannot read %s: %s", path, strerror(errno));
        return FL_EIO;
    }
    fl_buf_init(&raw, FL_CONFIG_FILE_MAX_BYTES);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fl_buf_append(&raw, chunk, n);
    if (ferror(f) || fl_buf_err(&raw)) {
        fl_buf_reset(errmsg);
        fl_buf_appendf(errmsg, "configuration: cannot read %s (unreadable or over 64 KiB)", path);
        err = FL_EIO;
        goto close_file;
    }
    for (char *line = raw.p, *end; line && *line; line = end ? end + 1 : NULL) {
        char *eq, *v, *ve;
        end = strchr(line, '\n');
        if (end)
            *end = '\0';
        while (*line == ' ' || *line == '\t' || *line == '\r') /* a CRLF file's blank line */
            line++;
        if (*line == '\0' || *line == '#')
            continue;
        eq = strchr(line, '=');
        if (eq == NULL || eq == line) {
            fl_buf_reset(errmsg);
            fl_buf_appendf(errmsg, "configuration: %s: a line is not KEY=VALUE", path);
            err = FL_EINVAL;
            goto close_file;
        }
        ve = eq + strlen(eq);
        while (ve > eq + 1 && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
            ve--;
        v = eq + 1;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        if (ve - v >= 2 && (*v == '"' || *v == '\'') && ve[-1] == *v)
            v++, ve--;
        for (char *k = eq; k > line && (k[-1] == ' ' || k[-1] == '\t'); k--)
            eq = k - 1;
        fl_buf_append(entries, line, (size_t)(eq - line));
        fl_buf_putc(entries, '=');
        fl_buf_append(entries, v, (size_t)(ve - v));
        fl_buf_putc(entries, '\0');
    }
    if (fl_buf_err(entries))
        err = FL_ENOMEM;
close_file:
    fclose(f);
    fl_buf_free(&raw);
    return err;
}
