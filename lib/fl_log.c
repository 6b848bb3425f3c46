/* SPDX-License-Identifier: MIT */
/*
 * The logger. The message is formatted into a stack buffer, then copied once into the
 * output line with control bytes escaped as \xHH; escaping and copying are one pass, so
 * they cannot disagree about sizes. Over-long lines are truncated, marked with "...".
 * The destination is chosen at the first line: a file stays open and is reopened when its
 * path names another file (logrotate renamed it), checked at most once a second.
 */
#include "fl_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 2048
/* How often a process looks whether its log file was moved away, in seconds. */
#define ROTATION_CHECK_S 1

enum dest { DEST_UNDECIDED, DEST_STDERR, DEST_FILE, DEST_SYSLOG };

static enum dest dest;
static int file_fd = -1;
static char file_path[PATH_MAX];
static time_t checked_s; /* when the file's path was last compared with file_fd */

static enum fl_log_level min_level = FL_LOG_INFO;
static const char *request_id;

static const char *const level_names[FL_LOG__MAX] = {
    [FL_LOG_DEBUG] = "debug",
    [FL_LOG_INFO] = "info",
    [FL_LOG_WARN] = "warn",
    [FL_LOG_ERROR] = "error",
};

void fl_log_set_level(enum fl_log_level level)
{
    min_level = level;
}

enum fl_err fl_log_parse_level(struct fl_str s, enum fl_log_level *out)
{
    for (int i = 0; i < FL_LOG__MAX; i++) {
        if (fl_str_eq(s, fl_str_c(level_names[i]))) {
            *out = (enum fl_log_level)i;
            return FL_OK;
        }
    }
    return FL_EINVAL;
}

/* True when fd 2 is closed or /dev/null: what is written there is lost. */
static bool stderr_lost(void)
{
    struct stat err, null;

    if (fstat(STDERR_FILENO, &err) != 0)
        return true;
    return S_ISCHR(err.st_mode) && stat("/dev/null", &null) == 0 && err.st_rdev == null.st_rdev;
}

static void use_default(void)
{
    if (file_fd >= 0)
        close(file_fd);
    file_fd = -1;
    file_path[0] = '\0';
    dest = stderr_lost() ? DEST_SYSLOG : DEST_STDERR;
    if (dest == DEST_SYSLOG)
        openlog(program_invocation_short_name, LOG_PID, LOG_DAEMON);
}

enum fl_err fl_log_open(const char *path)
{
    size_t n;
    int fd;

    if (path == NULL) {
        use_default();
        return FL_OK;
    }
    n = strlen(path);
    if (n >= sizeof(file_path)) {
        errno = ENAMETOOLONG;
        return FL_EIO;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return FL_EIO;
    if (file_fd >= 0)
        close(file_fd);
    file_fd = fd;
    memcpy(file_path, path, n + 1);
    dest = DEST_FILE;
    checked_s = time(NULL);
    return FL_OK;
}

void fl_log_reopen(void)
{
    char path[PATH_MAX];

    if (dest != DEST_FILE)
        return;
    memcpy(path, file_path, sizeof(path));
    fl_log_open(path); /* on failure the old file keeps the lines */
}

/* Follows a rotation: reopens when the path no longer names the open file. */
static void follow_rotation(void)
{
    struct stat open_st, path_st;
    time_t now = time(NULL);

    if (now - checked_s < ROTATION_CHECK_S)
        return;
    checked_s = now;
    if (fstat(file_fd, &open_st) == 0 &&
        (stat(file_path, &path_st) != 0 || path_st.st_ino != open_st.st_ino ||
         path_st.st_dev != open_st.st_dev))
        fl_log_reopen();
}

/* Sends one finished line, its '\n' at line[len - 1]. */
static void emit(enum fl_log_level level, const char *line, size_t len)
{
    static const int priority[FL_LOG__MAX] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};

    if (dest == DEST_UNDECIDED)
        use_default();
    if (dest == DEST_SYSLOG) {
        syslog(priority[level], "%.*s", (int)(len - 1), line);
        return;
    }
    if (dest == DEST_FILE)
        follow_rotation();
    if (write(dest == DEST_FILE ? file_fd : STDERR_FILENO, line, len) < 0) {
        /* Nowhere left to report a failing log. */
    }
}

void fl_log_set_request_id(const char *id)
{
    request_id = id;
}

void fl_log(enum fl_log_level level, const char *fmt, ...)
{
    char msg[LINE_MAX_BYTES], line[LINE_MAX_BYTES + 8];
    struct timespec ts;
    struct tm tm;
    size_t n, o;
    va_list ap;
    int saved = errno, h;

    if (level < min_level || level >= FL_LOG__MAX)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    h = snprintf(
        line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ req=%.128s level=%s pid=%ld ",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        ts.tv_nsec / 1000000, request_id ? request_id : "-", level_names[level], (long)getpid());
    o = h > 0 && (size_t)h < LINE_MAX_BYTES ? (size_t)h : 0;
    for (n = 0; msg[n] && o + 5 < LINE_MAX_BYTES; n++) {
        unsigned char c = (unsigned char)msg[n];
        if (c < 0x20 || c == 0x7f) {
            line[o++] = '\\';
            line[o++] = 'x';
            line[o++] = fl_hex_digits[c >> 4];
            line[o++] = fl_hex_digits[c & 15];
        } else {
            line[o++] = (char)c;
        }
    }
    if (msg[n]) {
        memcpy(line + o, "...", 3);
        o += 3;
    }
    line[o++] = '\n';
    emit(level, line, o);
    errno = saved;
}
