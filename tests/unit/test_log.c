/* SPDX-License-Identifier: MIT */
/*
 * fl_log: one line per call, control bytes escaped so caller data cannot forge a line, the
 * request id on the line, levels below the minimum dropped, over-long lines cut and marked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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
    return fl_test_done("test_log");
}
