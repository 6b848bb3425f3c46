/* SPDX-License-Identifier: MIT */
/*
 * The table is two arrays of pids in a shared file: members (the pool's workers) and
 * seats. Taking a seat is one compare-and-swap of a free seat among the first `seats`
 * ones, so two workers never share one and the limit holds without a lock a killed worker
 * could leave behind. A slot whose pid no longer exists is free: the next taker swaps it.
 * The file is named for the listening socket's inode, which every process accepting on
 * that socket shares whoever forked it, and which a new socket never reuses while it lives.
 * A pid reused by an unrelated process keeps its old slot until that process exits.
 */
#include "fl_bulkhead.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl_log.h"

struct table {
    _Atomic int32_t member[FL_BULKHEAD_SLOTS]; /* a worker of the pool; 0: free */
    _Atomic int32_t seat[FL_BULKHEAD_SLOTS];   /* a worker waiting on the upstream; 0: free */
};

struct fl_bulkhead {
    struct table *t;       /* the shared mapping */
    unsigned max_inflight; /* 0: half the live members */
    int32_t pid;
    int member; /* our index in t->member */
    int seat;   /* our index in t->seat; -1: none held */
};

bool fl_bulkhead_path(const char *dir, int listen_fd, struct fl_buf *out)
{
    struct stat st;

    if (listen_fd < 0 || fstat(listen_fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return false;
    fl_buf_appendf(out, "%s/bulkhead1-%llx-%llx.table", dir ? dir : FL_BULKHEAD_FALLBACK_DIR,
                   (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    return true;
}

static bool gone(int32_t pid)
{
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Swaps pid into the first of slots[0..n) that is free, ours from an earlier life, or
 * left by a process that is gone. Returns its index, or -1 when every one is taken. */
static int claim(_Atomic int32_t *slots, unsigned n, int32_t pid)
{
    for (unsigned i = 0; i < n; i++) {
        int32_t v = atomic_load(&slots[i]);
        if ((v == 0 || v == pid || gone(v)) && atomic_compare_exchange_strong(&slots[i], &v, pid))
            return (int)i;
    }
    return -1;
}

static struct table *map_table(const char *path)
{
    struct stat st;
    void *p;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0)
        return NULL;
    /* A new file is all zeros, an empty table; growing it again is harmless. */
    if (fstat(fd, &st) != 0 ||
        (st.st_size != (off_t)sizeof(struct table) && ftruncate(fd, sizeof(struct table)) != 0)) {
        close(fd);
        return NULL;
    }
    p = mmap(NULL, sizeof(struct table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

struct fl_bulkhead *fl_bulkhead_open(const char *dir, int listen_fd, unsigned max_inflight)
{
    struct fl_bulkhead *b = NULL;
    struct table *t = NULL;
    struct fl_buf path;

    fl_buf_init(&path, 4096);
    if (!fl_bulkhead_path(dir, listen_fd, &path))
        goto unmap; /* CGI: a pool of one */
    if (fl_buf_err(&path) || (t = map_table(path.p)) == NULL ||
        (b = calloc(1, sizeof(*b))) == NULL) {
        fl_log(FL_LOG_WARN,
               "event=bulkhead_unavailable path=%s error=\"%s\" "
               "action=\"no limit on upstream calls\"",
               path.p ? path.p : "", strerror(errno));
        goto unmap;
    }
    b->t = t;
    b->max_inflight = max_inflight < FL_BULKHEAD_SLOTS ? max_inflight : FL_BULKHEAD_SLOTS;
    b->pid = (int32_t)getpid();
    b->seat = -1;
    b->member = claim(t->member, FL_BULKHEAD_SLOTS, b->pid);
    if (b->member < 0)
        fl_log(FL_LOG_WARN, "event=bulkhead_full_table slots=%d", FL_BULKHEAD_SLOTS);
    t = NULL;
unmap:
    if (t)
        munmap(t, sizeof(*t));
    fl_buf_free(&path);
    return b;
}

void fl_bulkhead_close(struct fl_bulkhead *b)
{
    int32_t mine;

    if (b == NULL)
        return;
    fl_bulkhead_leave(b);
    mine = b->pid;
    if (b->member >= 0)
        atomic_compare_exchange_strong(&b->t->member[b->member], &mine, 0);
    munmap(b->t, sizeof(*b->t));
    free(b);
}

unsigned fl_bulkhead_members(const struct fl_bulkhead *b)
{
    unsigned live = 0;

    for (unsigned i = 0; i < FL_BULKHEAD_SLOTS; i++) {
        int32_t v = atomic_load(&b->t->member[i]);
        live += v != 0 && !gone(v);
    }
    return live;
}

unsigned fl_bulkhead_seats(const struct fl_bulkhead *b)
{
    unsigned live;

    if (b->max_inflight)
        return b->max_inflight;
    live = fl_bulkhead_members(b);
    return live >= 2 ? live / 2 : 1;
}

bool fl_bulkhead_enter(struct fl_bulkhead *b)
{
    if (b == NULL)
        return true;
    if (b->seat < 0)
        b->seat = claim(b->t->seat, fl_bulkhead_seats(b), b->pid);
    return b->seat >= 0;
}

void fl_bulkhead_leave(struct fl_bulkhead *b)
{
    int32_t mine;

    if (b == NULL || b->seat < 0)
        return;
    mine = b->pid;
    atomic_compare_exchange_strong(&b->t->seat[b->seat], &mine, 0);
    b->seat = -1;
}
