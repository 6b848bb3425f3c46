/* SPDX-License-Identifier: MIT */
/*
 * fl_config_file: the --config file as systemd's EnvironmentFile reads it (comments, blank
 * lines, whitespace around keys and values, one level of quotes, '=' inside a value, CRLF
 * line ends), and its refusals: a line that is not KEY=VALUE (without echoing the line,
 * which may hold a secret), a missing file, a file over the cap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fl_config_file.h"
#include "test.h"

static char path[] = "/tmp/fl-unit-config-XXXXXX";
static struct fl_buf entries, errmsg;

static enum fl_err read_text(const char *text, size_t len)
{
    FILE *f = fopen(path, "w");

    ASSERT_NOT_NULL(f);
    if (f == NULL)
        return FL_EIO;
    fwrite(text, 1, len, f);
    fclose(f);
    fl_buf_reset(&entries);
    fl_buf_reset(&errmsg);
    return fl_config_file_read(path, &entries, &errmsg);
}

#define READ(lit) read_text((lit), sizeof(lit) - 1)

/* entries equal the NUL-separated list want (a literal, its last NUL included). */
#define ASSERT_ENTRIES(want)                                                                       \
    do {                                                                                           \
        ASSERT_EQ(entries.len, sizeof(want) - 1);                                                  \
        if (entries.len == sizeof(want) - 1)                                                       \
            ASSERT_MEMEQ(entries.p, want, sizeof(want) - 1);                                       \
    } while (0)

static void test_syntax(void)
{
    ASSERT_EQ(READ("# FarmLokal\n"
                   "\n"
                   "FL_MYSQL_URL=mysql://app:pw@db/farmlokal\n"
                   "  FL_CACHE_TTL = 60  \n"
                   "\t# indented comment\n"
                   "FL_BASE_PATH=\"/api v1\"\n"
                   "FL_LOG_LEVEL='debug'\n"
                   "FL_ADMIN_TOKEN=\"\"\n"
                   "FL_PUBLIC_URL=\"unbalanced\n"
                   "FL_API_A_URL=http://127.0.0.1:1/?a=b\n"
                   "FL_WORKERS=4"),
              FL_OK);
    ASSERT_ENTRIES("FL_MYSQL_URL=mysql://app:pw@db/farmlokal\0"
                   "FL_CACHE_TTL=60\0"
                   "FL_BASE_PATH=/api v1\0"
                   "FL_LOG_LEVEL=debug\0"
                   "FL_ADMIN_TOKEN=\0"
                   "FL_PUBLIC_URL=\"unbalanced\0"
                   "FL_API_A_URL=http://127.0.0.1:1/?a=b\0"
                   "FL_WORKERS=4\0");
    ASSERT_EQ(READ(""), FL_OK);
    ASSERT_EQ(entries.len, 0);
}

/* A file saved with Windows line ends reads as the same file. */
static void test_crlf(void)
{
    ASSERT_EQ(READ("# FarmLokal\r\n\r\nFL_CACHE_TTL=60\r\n  \r\nFL_WORKERS=\"4\"\r\n"), FL_OK);
    ASSERT_ENTRIES("FL_CACHE_TTL=60\0FL_WORKERS=4\0");
}

static void test_refusals(void)
{
    ASSERT_EQ(READ("FL_CACHE_TTL=60\nFL_ADMIN_TOKEN s3cret-token\n"), FL_EINVAL);
    ASSERT_CONTAINS(errmsg.p, "a line is not KEY=VALUE");
    ASSERT_TRUE(strstr(errmsg.p, "s3cret") == NULL);
    ASSERT_EQ(READ("=value\n"), FL_EINVAL);
    ASSERT_EQ(READ("  = value\n"), FL_EINVAL);

    fl_buf_reset(&errmsg);
    ASSERT_EQ(fl_config_file_read("/nonexistent/farmlokal.conf", &entries, &errmsg), FL_EIO);
    ASSERT_CONTAINS(errmsg.p, "cannot read /nonexistent/farmlokal.conf");
    ASSERT_NULL(strchr(errmsg.p, '\n'));
}

static void test_size_cap(void)
{
    size_t n = FL_CONFIG_FILE_MAX_BYTES + 1;
    char *big = malloc(n);

    ASSERT_NOT_NULL(big);
    if (big == NULL)
        return;
    memset(big, '#', n);
    ASSERT_EQ(read_text(big, n), FL_EIO);
    ASSERT_CONTAINS(errmsg.p, "over 64 KiB");
    ASSERT_EQ(read_text(big, n - 1), FL_OK); /* exactly the cap: one long comment */
    free(big);
}

int main(void)
{
    int fd = mkstemp(path);

    ASSERT_TRUE(fd >= 0);
    if (fd >= 0)
        close(fd);
    fl_buf_init(&entries, FL_CONFIG_FILE_MAX_BYTES * 2);
    fl_buf_init(&errmsg, 1024);
    test_syntax();
    test_crlf();
    test_refusals();
    test_size_cap();
    fl_buf_free(&entries);
    fl_buf_free(&errmsg);
    unlink(path);
    return fl_test_done("test_config_file");
}
