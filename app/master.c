/* SPDX-License-Identifier: MIT */
/*
 * The master of `farmlokal --listen ... --workers N`: binds the socket, forks the workers
 * and keeps N of them alive. A worker that exits is replaced at once, or after a growing
 * delay when it keeps dying within a second of starting. SIGHUP replaces the workers one at
 * a time, the new one started before the old one is asked to stop, so the pool never
 * shrinks. SIGTERM or SIGINT first remove a unix socket's path, so new connections fail
 * at once (nginx then tries another pool), and then stop the workers, which serve every
 * connection already queued before they leave. The master serves no requests and holds
 * no connections; at start and on SIGHUP it asks each MySQL server for its max_connections
 * and refuses to start a pool that could use them up (it only warns on SIGHUP). SIGUSR1
 * reopens FL_LOG_FILE (logrotate); SIGHUP does too.
 */
#include "app.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fl_bulkhead.h"
#include "fl_db.h"
#include "fl_log.h"
#include "fl_metrics.h"
#include "fl_time.h"

#define WORKERS_MAX      256
#define QUICK_DEATH_US   1000000
#define BACKOFF_MAX_US   30000000
#define DRAIN_TIMEOUT_US 30000000

/*
 * MySQL connections a pool may hold on one server (the primary, or the replica): each
 * worker keeps one (lib/fl_db.c; with FL_MYSQL_READ_URL one to each server), and one it
 * closed after a timeout stays on the server until the server's own statement bound
 * (FL_DB_READ_TIMEOUT_MS) ends it, so a worker counts twice. A rolling restart runs one
 * worker more. DB_HEADROOM is left for farmlokal-ctl (seed holds up to 4), the mariadb
 * client and monitoring; MariaDB keeps one more for a SUPER user besides.
 */
#define DB_CONNS_PER_WORKER 2
#define DB_HEADROOM         10
#define DB_CHECK_TIMEOUT_S  2

struct worker {
    pid_t pid; /* 0: the slot is empty */
    int64_t started_us;
    unsigned generation; /* workers of an older generation are replaced on SIGHUP */
    bool retiring;       /* asked to stop; its replacement already runs */
};

struct master {
    struct worker w[WORKERS_MAX * 2]; /* room for the replacements during a rolling restart */
    unsigned n_wanted;
    unsigned generation;
    int64_t backoff_us; /* delay before the next respawn after quick deaths */
    int64_t respawn_at_us;
    int listen_fd;
    char *unix_path; /* owned; unlinked at exit */
    struct fl_config *cfg;
    const char *config_file;
};

static volatile sig_atomic_t got_chld, got_term, got_hup, got_usr1;

static void on_signal(int sig)
{
    if (sig == SIGCHLD)
        got_chld = 1;
    else if (sig == SIGHUP)
        got_hup = 1;
    else if (sig == SIGUSR1)
        got_usr1 = 1;
    else
        got_term = 1;
}

/* Refuses to take over a unix socket another live process is serving. */
static int unix_path_free(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, in_use;

    if (stat(path, &st) != 0)
        return errno == ENOENT;
    if (!S_ISSOCK(st.st_mode))
        return 0;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    in_use = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return !in_use && unlink(path) == 0;
}

static int bind_unix(struct master *m, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        fl_log(FL_LOG_ERROR, "event=listen_failed reason=\"socket path too long\"");
        return -1;
    }
    if (!unix_path_free(path)) {
        fl_log(FL_LOG_ERROR, "event=listen_failed path=%s reason=\"in use or not a socket\"", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0660) != 0 ||
        listen(fd, (int)m->cfg->listen_backlog) != 0) {
        fl_log(FL_LOG_ERROR, "event=listen_failed path=%s error=\"%s\"", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    m->unix_path = strdup(path);
    return fd;
}

/* Splits "host:port" or "[v6]:port" into host and a port of 0..65535; false when malformed. */
static bool split_tcp(const char *spec, char *host, size_t host_cap, unsigned *port)
{
    const char *colon = strrchr(spec, ':');
    size_t hlen;
    uint64_t u;

    if (colon == NULL || colon == spec || (hlen = (size_t)(colon - spec)) >= host_cap ||
        fl_str_to_u64(fl_str_c(colon + 1), 0, 65535, &u) != FL_OK)
        return false;
    memcpy(host, spec, hlen);
    host[hlen] = '\0';
    if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    *port = (unsigned)u;
    return true;
}

bool fl_master_listen_valid(const char *spec)
{
    char host[256];
    unsigned port;

    if (strncmp(spec, "unix:", 5) == 0)
        return spec[5] != '\0' && strlen(spec + 5) < sizeof(((struct sockaddr_un *)0)->sun_path);
    return split_tcp(spec, host, sizeof(host), &port);
}

/* Logs where fd listens: with port 0 the kernel chose it, and only this tells the admin. */
static void log_bound(int fd, const char *spec, unsigned n_workers)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[NI_MAXHOST], port[NI_MAXSERV];

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 || ss.ss_family == AF_UNIX ||
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        fl_log(FL_LOG_INFO, "event=master_started listen=%s workers=%u version=%s", spec, n_workers,
               FL_VERSION);
        return;
    }
    fl_log(FL_LOG_INFO, "event=master_started listen=%s%s%s:%s workers=%u version=%s",
           ss.ss_family == AF_INET6 ? "[" : "", host, ss.ss_family == AF_INET6 ? "]" : "", port,
           n_workers, FL_VERSION);
}

static int bind_tcp(const char *spec, unsigned backlog)
{
    char host[256], service[8];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    unsigned port;
    int fd = -1, one = 1, rc;

    if (!split_tcp(spec, host, sizeof(host), &port)) {
        fl_log(FL_LOG_ERROR, "event=listen_failed reason=\"expected unix:PATH or HOST:PORT\"");
        return -1;
    }
    snprintf(service, sizeof(service), "%u", port);
    rc = getaddrinfo(host, service, &hints, &ai);
    if (rc != 0) {
        fl_log(FL_LOG_ERROR, "event=listen_failed reason=\"%s\"", gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, (int)backlog) != 0) {
        fl_log(FL_LOG_ERROR, "event=listen_failed addr=%s error=\"%s\"", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static pid_t spawn(struct master *m, struct worker *w)
{
    pid_t pid = fork();

    if (pid < 0) {
        fl_log(FL_LOG_ERROR, "event=fork_failed error=\"%s\"", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        struct sigaction sa = {.sa_handler = SIG_DFL};
        sigset_t chld;
        int status;

        /* A worker must not outlive its master, or it would hold the socket forever. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        sigaction(SIGCHLD, &sa, NULL);
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        /* SIGTERM, SIGINT, SIGHUP and SIGUSR1 stay blocked: fl_worker_run installs its own
         * handlers and unblocks them around accept, so a stop sent before that waits there
         * instead of reaching the master's handler, copied into this process, and being lost. */
        sigprocmask(SIG_UNBLOCK, &chld, NULL);
        status = fl_worker_run(m->cfg, m->listen_fd);
        exit(status);
    }
    w->pid = pid;
    w->started_us = fl_time_mono_us();
    w->generation = m->generation;
    w->retiring = false;
    return pid;
}

/* The slot of pid; pid 0 finds an empty slot. NULL when there is none. */
static struct worker *slot_of(struct master *m, pid_t pid)
{
    for (size_t i = 0; i < FL_COUNTOF(m->w); i++) {
        if (m->w[i].pid == pid)
            return &m->w[i];
    }
    return NULL;
}

static unsigned count(const struct master *m, bool active_only)
{
    unsigned n = 0;

    for (size_t i = 0; i < FL_COUNTOF(m->w); i++)
        n += m->w[i].pid != 0 && !(active_only && m->w[i].retiring);
    return n;
}

/* Collects exited workers; a quick abnormal death grows the respawn delay. */
static void reap(struct master *m)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct worker *w = pid ? slot_of(m, pid) : NULL;
        bool abnormal = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        if (w == NULL)
            continue;
        if (abnormal && !w->retiring && !got_term) {
            fl_log(FL_LOG_WARN, "event=worker_died pid=%ld status=%d", (long)pid, status);
            if (fl_time_mono_us() - w->started_us < QUICK_DEATH_US) {
                m->backoff_us = m->backoff_us ? m->backoff_us * 2 : 250000;
                if (m->backoff_us > BACKOFF_MAX_US)
                    m->backoff_us = BACKOFF_MAX_US;
                m->respawn_at_us = fl_time_mono_us() + m->backoff_us;
            }
        } else if (!abnormal) {
            m->backoff_us = 0;
        }
        w->pid = 0;
    }
}

/* Starts workers until n_wanted are active, unless a backoff delay is running. */
static void fill(struct master *m)
{
    while (count(m, true) < m->n_wanted && fl_time_mono_us() >= m->respawn_at_us) {
        struct worker *w = slot_of(m, 0);
        if (w == NULL || spawn(m, w) < 0) {
            m->respawn_at_us = fl_time_mono_us() + 1000000;
            return;
        }
    }
}

static enum fl_err read_count(void *ud, const struct fl_str *cols, size_t ncols)
{
    return ncols == 1 && cols[0].p ? fl_str_to_u64(cols[0], 0, UINT64_MAX, ud) : FL_EDB;
}

/*
 * False when the server of dsn has fewer max_connections than a pool of n workers may
 * hold; true when it has enough or cannot be asked (a server that is down must not keep
 * the pool from starting; the workers wait for it).
 */
static bool server_fits(const struct fl_mysql_dsn *dsn, const char *server, unsigned n)
{
    struct fl_db *db = fl_db_new(dsn, DB_CHECK_TIMEOUT_S);
    unsigned need = (n + 1) * DB_CONNS_PER_WORKER + DB_HEADROOM;
    uint64_t max = 0;
    enum fl_err err =
        db ? fl_db_query(db, "SELECT @@max_connections", NULL, 0, read_count, &max) : FL_ENOMEM;

    fl_db_free(db);
    if (err != FL_OK) {
        fl_log(FL_LOG_WARN, "event=db_connections_unchecked server=%s", server);
        return true;
    }
    if (need <= max)
        return true;
    fl_log(FL_LOG_ERROR,
           "event=db_connections_exceeded server=%s workers=%u needed=%u max_connections=%" PRIu64
           " action=\"raise max_connections to %u or run fewer workers\"",
           server, n, need, max, need);
    return false;
}

/* True when every MySQL server the pool uses has max_connections enough for it. */
static bool db_fits(const struct master *m)
{
    bool fits = server_fits(&m->cfg->mysql, "primary", m->n_wanted);

    for (size_t i = 0; i < m->cfg->n_mysql_read; i++) {
        struct fl_buf name; /* "replica:host:port", so the log says which one */

        fl_buf_init(&name, 512);
        fl_buf_puts(&name, "replica:");
        fl_dsn_mysql_address(&m->cfg->mysql_read[i], &name);
        fits = server_fits(&m->cfg->mysql_read[i], fl_buf_err(&name) ? "replica" : name.p,
                           m->n_wanted) &&
               fits;
        fl_buf_free(&name);
    }
    return fits;
}

/* One step of a rolling restart: while no worker is retiring, retire one of the old ones. */
static void roll(struct master *m)
{
    size_t n = FL_COUNTOF(m->w);

    for (size_t i = 0; i < n; i++) {
        if (m->w[i].pid && m->w[i].retiring)
            return; /* wait for it to leave */
    }
    for (size_t i = 0; i < n; i++) {
        struct worker *w = &m->w[i];
        if (w->pid && w->generation != m->generation) {
            struct worker *fresh = slot_of(m, 0);
            if (fresh == NULL || spawn(m, fresh) < 0)
                return;
            w->retiring = true;
            kill(w->pid, SIGTERM);
            return;
        }
    }
}

static void reload(struct master *m)
{
    struct fl_config fresh;
    struct fl_buf err;

    if (m->config_file == NULL)
        return;
    fl_buf_init(&err, 1024);
    if (fl_config_load(&fresh, m->config_file, &err) != FL_OK) {
        fl_log(FL_LOG_ERROR, "event=reload_failed reason=\"%s\" action=\"keeping the old one\"",
               err.p ? err.p : "");
    } else {
        fl_config_free(m->cfg);
        *m->cfg = fresh;
        fl_log_set_level(m->cfg->log_level);
        /* listen(2) again sets the queue's new length on the bound socket. */
        listen(m->listen_fd, (int)m->cfg->listen_backlog);
        db_fits(m); /* a running pool is not stopped for it: the log says what to change */
    }
    fl_buf_free(&err);
}

/* Asks every worker to stop and waits, killing what is left after the drain timeout. */
static void stop_all(struct master *m)
{
    int64_t deadline = fl_time_mono_us() + DRAIN_TIMEOUT_US;
    size_t n = FL_COUNTOF(m->w);

    for (size_t i = 0; i < n; i++)
        if (m->w[i].pid)
            kill(m->w[i].pid, SIGTERM);
    while (count(m, false) > 0) {
        struct timespec ts = {0, 20000000};
        if (fl_time_mono_us() > deadline) {
            for (size_t i = 0; i < n; i++)
                if (m->w[i].pid)
                    kill(m->w[i].pid, SIGKILL);
            deadline = INT64_MAX;
        }
        nanosleep(&ts, NULL);
        reap(m);
    }
}

/* The pool's API A table (lib/fl_bulkhead.h) goes with the pool. */
static void remove_bulkhead(struct master *m)
{
    struct fl_buf path;

    fl_buf_init(&path, 4096);
    if (fl_bulkhead_path(m->cfg->metrics_dir, m->listen_fd, &path) && !fl_buf_err(&path))
        unlink(path.p);
    fl_buf_free(&path);
}

/* The master's signals: handled only inside ppoll (blocked elsewhere, so none is missed). */
static void install_signals(sigset_t *block)
{
    static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1};
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigemptyset(block);
    for (size_t i = 0; i < FL_COUNTOF(sigs); i++) {
        sigaction(sigs[i], &sa, NULL);
        sigaddset(block, sigs[i]);
    }
    signal(SIGPIPE, SIG_IGN);
    sigprocmask(SIG_BLOCK, block, NULL);
}

/* Until SIGTERM: reap and replace workers, reopen the log, roll a restart on SIGHUP. */
static void supervise(struct master *m)
{
    sigset_t none;

    sigemptyset(&none);
    while (!got_term) {
        struct timespec wait = {1, 0};
        if (got_chld) {
            got_chld = 0;
            reap(m);
        }
        if (got_usr1) {
            got_usr1 = 0;
            fl_log_reopen();
        }
        if (got_hup) {
            got_hup = 0;
            reload(m);
            /* The new workers inherit the file as reloaded: moved by logrotate or renamed. */
            if (fl_log_open(m->cfg->log_file) != FL_OK)
                fl_log(FL_LOG_ERROR, "event=log_reopen_failed error=\"%s\"", strerror(errno));
            m->generation++;
            fl_log(FL_LOG_INFO, "event=rolling_restart generation=%u", m->generation);
        }
        fill(m);
        roll(m);
        if (m->respawn_at_us > fl_time_mono_us()) {
            int64_t left = m->respawn_at_us - fl_time_mono_us();
            wait.tv_sec = left / 1000000;
            wait.tv_nsec = (left % 1000000) * 1000;
        }
        /* Signals are blocked except inside ppoll, so none is missed between checks. */
        ppoll(NULL, 0, &wait, &none);
    }
}

int fl_master_run(const char *listen_spec, unsigned n_workers, const char *config_file,
                  struct fl_config *cfg)
{
    struct master *m = calloc(1, sizeof(*m));
    sigset_t block;
    int status = 0;

    if (m == NULL)
        return 1;
    m->n_wanted = n_workers;
    m->cfg = cfg;
    m->config_file = config_file;
    if (!db_fits(m)) {
        fl_config_free(cfg);
        free(m);
        return 2;
    }
    m->listen_fd = strncmp(listen_spec, "unix:", 5) == 0
                       ? bind_unix(m, listen_spec + 5)
                       : bind_tcp(listen_spec, cfg->listen_backlog);
    if (m->listen_fd < 0) {
        status = 1;
        goto close_all;
    }
    install_signals(&block);
    /* The pool's metrics count from its start. */
    fl_metrics_clear(cfg->metrics_dir);
    log_bound(m->listen_fd, listen_spec, n_workers);
    supervise(m);
    fl_log(FL_LOG_INFO, "event=master_stopping");
    /* From here a connect fails (ENOENT) and the web server tries its next pool, while the
     * workers serve what is already queued: nothing queued is reset. */
    if (m->unix_path)
        unlink(m->unix_path);
    stop_all(m);
    remove_bulkhead(m);
close_all:
    if (m->listen_fd >= 0)
        close(m->listen_fd);
    free(m->unix_path);
    fl_config_free(m->cfg);
    free(m);
    return status;
}
