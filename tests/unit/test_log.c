/* SPDX-License-Identifier: MIT */
/*
 * fl_log: one line per call, control bytes escaped so caller data cannot forge a line, the
 * request id on the line, levels below the minimum dropped, over-long lines cut and marked;
 * FL_LOG_FILE appended to and followed across a rotation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fl_buf.h"
#include "fl_log.h"
#include "test.h"

static char out[8192];

/* Runs the calls of fn with stderr on a temporary file; what they wrote lands in out. */
static void capture(void (*fn)(void))
{
    FILE *f = tmpfile();
    int saved = dup(STDERR_FILENO);
    size_t n;

    ASSERT_NOT_NULL(f);
    if (f == NULL)
        return;
    dup2(fileno(f), STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(f);
    n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    fclose(f);
}

static void forged_line(void)
{
    fl_log_set_request_id("r-42");
    fl_log(FL_LOG_WARN, "name=%s", "evil\nts=x level=error forged\r\x7f");
    fl_log_set_request_id(NULL);
}

static void below_level(void)
{
    fl_log_set_level(FL_LOG_WARN);
    fl_log(FL_LOG_INFO, "dropped");
    fl_log(FL_LOG_ERROR, "kept");
    fl_log_set_level(FL_LOG_INFO);
}

static void long_line(void)
{
    static char big[5000];

    memset(big, 'a', sizeof(big) - 1);
    fl_log(FL_LOG_INFO, "%s", big);
}

/* The whole file at path, in text. */
static void slurp(const char *path, struct fl_buf *text)
{
    char chunk[1024];
    FILE *f = fopen(path, "r");
    size_t n;

    fl_buf_reset(text);
    while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fl_buf_append(text, chunk, n);
    if (f)
        fclose(f);
}

/* Issue #10: FL_LOG_FILE appends, and a file moved away by logrotate is followed. */
static void test_file_and_rotation(void)
{
    char dir[] = "/tmp/fl-log-XXXXXX", path[64], moved[64];
    struct timespec past_check = {1, 200000000};
    struct fl_buf text;

    fl_buf_init(&text, 0);
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/app.log", dir);
    snprintf(moved, sizeof(moved), "%s/app.log.1", dir);
    ASSERT_EQ(fl_log_open(path), FL_OK);
    fl_log(FL_LOG_INFO, "event=first");
    ASSERT_EQ(fl_log_open(path), FL_OK); /* appends, never truncates */
    fl_log(FL_LOG_WARN, "event=second");
    slurp(path, &text);
    ASSERT_CONTAINS(text.p, "level=info pid=");
    ASSERT_CONTAINS(text.p, "event=first\n");
    ASSERT_CONTAINS(text.p, "event=second\n");

    /* logrotate renames the file; within a second the next line goes to a new one. */
    ASSERT_EQ(rename(path, moved), 0);
    nanosleep(&past_check, NULL);
    fl_log(FL_LOG_INFO, "event=after_rotation");
    slurp(path, &text);
    ASSERT_CONTAINS(text.p, "event=after_rotation\n");
    slurp(moved, &text);
    ASSERT_TRUE(text.p && strstr(text.p, "event=after_rotation") == NULL);

    /* An explicit reopen (SIGUSR1 to the master) switches at once. */
    ASSERT_EQ(rename(path, moved), 0);
    fl_log_reopen();
    fl_log(FL_LOG_INFO, "event=after_reopen");
    slurp(path, &text);
    ASSERT_CONTAINS(text.p, "event=after_reopen\n");

    ASSERT_EQ(fl_log_open("/nonexistent-dir/app.log"), FL_EIO);
    fl_log(FL_LOG_INFO, "event=still_here");
    slurp(path, &text);
    ASSERT_CONTAINS(text.p, "event=still_here\n");
    fl_log_open(NULL);
    unlink(path);
    unlink(moved);
    rmdir(dir);
    fl_buf_free(&text);
}

int main(void)
{
    enum fl_log_level level;

    capture(forged_line);
    ASSERT_CONTAINS(out, " req=r-42 level=warn pid=");
    ASSERT_CONTAINS(out, "name=evil\\x0ats=x level=error forged\\x0d\\x7f\n");
    ASSERT_EQ(strcspn(out, "\n"), strlen(out) - 1); /* one line */

    capture(below_level);
    ASSERT_TRUE(strstr(out, "dropped") == NULL);
    ASSERT_CONTAINS(out, "level=error pid=");
    ASSERT_CONTAINS(out, " req=- ");

    capture(long_line);
    ASSERT_LT(strlen(out), 2100);
    ASSERT_CONTAINS(out, "aaa...\n");

    ASSERT_EQ(fl_log_parse_level(FL_STR("debug"), &level), FL_OK);
    ASSERT_EQ(level, FL_LOG_DEBUG);
    ASSERT_EQ(fl_log_parse_level(FL_STR("loud"), &level), FL_EINVAL);
    test_file_and_rotation();
    return fl_test_done("test_log");
}
