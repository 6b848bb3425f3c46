/* SPDX-License-Identifier: MIT */
/*
 * Metric files. Each is one struct counters, written only by its worker (single-threaded,
 * aligned 64-bit stores, so a concurrent reader never sees a torn value) and read by any
 * worker at scrape time. Files are named for the worker's pid and start time, so a reused
 * pid never overwrites an exited worker's counts.
 */
#include "fl_metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl_time.h"

#define MAGIC       0x314d4c46u /* "FLM1" */
#define METHODS_MAX 8
#define BUCKETS_N   12

static const int statuses[] = {200, 201, 304, 400, 401, 403, 404, 405,
                               409, 413, 415, 429, 500, 502, 503, 504};
#define STATUSES_N (FL_COUNTOF(statuses) + 1) /* + "other" */
static const double buckets[BUCKETS_N] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,   0.25,   0.5,   1,    2.5,   5};

struct counters {
    uint32_t magic;
    uint32_t pid;
    uint64_t c[FL_M__MAX];
    uint64_t requests[FL_METRICS_ROUTES_MAX][METHODS_MAX][STATUSES_N];
    uint64_t bucket[FL_METRICS_ROUTES_MAX][BUCKETS_N + 1]; /* per bucket, not cumulative */
    uint64_t duration_us[FL_METRICS_ROUTES_MAX];
    uint64_t replica[FL_METRICS_REPLICAS_MAX][FL_MR__MAX];
};

static struct counters local, *mine = &local;

static const char suffix[] = ".metrics";

enum fl_err fl_metrics_open(const char *dir)
{
    char path[4096];
    void *p;
    int fd;

    fl_metrics_close();
    memset(&local, 0, sizeof(local));
    local.magic = MAGIC;
    local.pid = (uint32_t)getpid();
    mine = &local;
    if (dir == NULL)
        return FL_OK;
    snprintf(path, sizeof(path), "%s/worker-%ld-%lld%s", dir, (long)getpid(),
             (long long)fl_time_mono_us(), suffix);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return FL_EIO;
    if (ftruncate(fd, sizeof(struct counters)) != 0) {
        close(fd);
        return FL_EIO;
    }
    p = mmap(NULL, sizeof(struct counters), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return FL_EIO;
    mine = p;
    mine->pid = (uint32_t)getpid();
    mine->magic = MAGIC;
    return FL_OK;
}

void fl_metrics_close(void)
{
    if (mine != &local)
        munmap(mine, sizeof(struct counters));
    mine = &local;
}

static bool is_metrics_file(const char *name)
{
    size_t n = strlen(name);

    return n > sizeof(suffix) && strcmp(name + n - (sizeof(suffix) - 1), suffix) == 0 &&
           strncmp(name, "worker-", 7) == 0;
}

/* True when the file's worker still runs (its counts are live, not history). */
static bool owner_alive(const char *path)
{
    struct counters head;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool alive = false;

    if (fd < 0)
        return false;
    if (pread(fd, &head, offsetof(struct counters, c), 0) ==
            (ssize_t)offsetof(struct counters, c) &&
        head.magic == MAGIC)
        alive = kill((pid_t)head.pid, 0) == 0 || errno == EPERM;
    close(fd);
    return alive;
}

void fl_metrics_clear(const char *dir)
{
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    char path[4096];

    while (d && (e = readdir(d)) != NULL) {
        if (!is_metrics_file(e->d_name))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        /* Another pool may share the directory: its running workers' files stay. */
        if (!owner_alive(path))
            unlink(path);
    }
    if (d)
        closedir(d);
}

void fl_metrics_add(enum fl_metric m, uint64_t n)
{
    mine->c[m] += n;
}

void fl_metrics_set(enum fl_metric m, uint64_t value)
{
    mine->c[m] = value;
}

void fl_metrics_replica_add(unsigned replica, enum fl_metric_replica m)
{
    if (replica < FL_METRICS_REPLICAS_MAX)
        mine->replica[replica][m]++;
}

void fl_metrics_request(unsigned route, unsigned method, int status, double seconds)
{
    size_t s = STATUSES_N - 1, b = BUCKETS_N;

    if (route >= FL_METRICS_ROUTES_MAX)
        route = 0;
    if (method >= METHODS_MAX)
        method = METHODS_MAX - 1;
    for (size_t i = 0; i < STATUSES_N - 1; i++)
        if (statuses[i] == status)
            s = i;
    for (size_t i = 0; i < BUCKETS_N; i++)
        if (seconds <= buckets[i]) {
            b = i;
            break;
        }
    mine->requests[route][method][s]++;
    mine->bucket[route][b]++;
    mine->duration_us[route] += (uint64_t)(seconds * 1e6);
}

/* Adds every file's counters into sum; returns how many of their workers are alive. */
static unsigned sum_files(const char *dir, struct counters *sum)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    unsigned alive = 0;

    while (d && (e = readdir(d)) != NULL) {
        struct counters *c = NULL;
        char path[4096];
        struct stat st;
        int fd;

        if (!is_metrics_file(e->d_name))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (fstat(fd, &st) == 0 && (size_t)st.st_size == sizeof(*c)) {
            c = mmap(NULL, sizeof(*c), PROT_READ, MAP_SHARED, fd, 0);
            if (c == MAP_FAILED)
                c = NULL;
        }
        close(fd);
        if (c == NULL || c->magic != MAGIC) {
            if (c)
                munmap(c, sizeof(*c));
            continue;
        }
        for (size_t i = 0; i < FL_M__MAX; i++)
            sum->c[i] += c->c[i];
        for (size_t r = 0; r < FL_METRICS_ROUTES_MAX; r++) {
            for (size_t m = 0; m < METHODS_MAX; m++)
                for (size_t s = 0; s < STATUSES_N; s++)
                    sum->requests[r][m][s] += c->requests[r][m][s];
            for (size_t b = 0; b <= BUCKETS_N; b++)
                sum->bucket[r][b] += c->bucket[r][b];
            sum->duration_us[r] += c->duration_us[r];
        }
        for (size_t r = 0; r < FL_METRICS_REPLICAS_MAX; r++)
            for (size_t m = 0; m < FL_MR__MAX; m++)
                sum->replica[r][m] += c->replica[r][m];
        alive += kill((pid_t)c->pid, 0) == 0 || errno == EPERM;
        munmap(c, sizeof(*c));
    }
    if (d)
        closedir(d);
    return alive;
}

static void counter(struct fl_buf *out, const char *name, const char *help, const char *labels,
                    uint64_t v)
{
    if (help)
        fl_buf_appendf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    fl_buf_appendf(out, "%s%s %llu\n", name, labels, (unsigned long long)v);
}

/* http_requests_total and http_request_duration_seconds, by route (and method, status). */
static void render_requests(const struct counters *sum, const struct fl_metrics_labels *labels,
                            struct fl_buf *out)
{
    const char *const *route_names = labels->routes, *const *method_names = labels->methods;
    size_t n_routes = labels->n_routes, n_methods = labels->n_methods;

    fl_buf_puts(out, "# HELP http_requests_total Requests answered, by method, route and status.\n"
                     "# TYPE http_requests_total counter\n");
    for (size_t r = 0; r < n_routes && r < FL_METRICS_ROUTES_MAX; r++) {
        if (route_names[r] == NULL)
            continue;
        for (size_t m = 0; m < n_methods && m < METHODS_MAX; m++)
            for (size_t s = 0; s < STATUSES_N; s++) {
                char status[8];
                if (sum->requests[r][m][s] == 0)
                    continue;
                if (s < STATUSES_N - 1)
                    snprintf(status, sizeof(status), "%d", statuses[s]);
                else
                    snprintf(status, sizeof(status), "other");
                fl_buf_appendf(
                    out, "http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %llu\n",
                    method_names[m], route_names[r], status,
                    (unsigned long long)sum->requests[r][m][s]);
            }
    }
    fl_buf_puts(out, "# HELP http_request_duration_seconds Time to answer, by route.\n"
                     "# TYPE http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < n_routes && r < FL_METRICS_ROUTES_MAX; r++) {
        uint64_t cum = 0;
        if (route_names[r] == NULL)
            continue;
        for (size_t b = 0; b <= BUCKETS_N; b++) {
            cum += sum->bucket[r][b];
            if (b < BUCKETS_N)
                fl_buf_appendf(
                    out, "http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                    route_names[r], buckets[b], (unsigned long long)cum);
            else
                fl_buf_appendf(
                    out, "http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                    route_names[r], (unsigned long long)cum);
        }
        fl_buf_appendf(out, "http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
                       route_names[r], (double)sum->duration_us[r] / 1e6);
        fl_buf_appendf(out, "http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                       route_names[r], (unsigned long long)cum);
    }
}

/* Reads and pass-overs of each replica, labelled by its address. */
static void render_replicas(const struct counters *sum, const struct fl_metrics_labels *labels,
                            struct fl_buf *out)
{
    static const char *const reasons[FL_MR__MAX] = {
        [FL_MR_PASSED_DOWN] = "down",
        [FL_MR_PASSED_BEHIND] = "behind",
    };

    if (labels->n_replicas == 0)
        return;
    fl_buf_puts(out, "# HELP farmlokal_replica_served_total Reads run on each replica.\n"
                     "# TYPE farmlokal_replica_served_total counter\n");
    for (size_t r = 0; r < labels->n_replicas && r < FL_METRICS_REPLICAS_MAX; r++)
        fl_buf_appendf(out, "farmlokal_replica_served_total{replica=\"%s\"} %llu\n",
                       labels->replicas[r], (unsigned long long)sum->replica[r][FL_MR_READS]);
    fl_buf_puts(out, "# HELP farmlokal_replica_passed_over_total Times each replica was passed "
                     "over, by why.\n# TYPE farmlokal_replica_passed_over_total counter\n");
    for (size_t r = 0; r < labels->n_replicas && r < FL_METRICS_REPLICAS_MAX; r++)
        for (size_t m = FL_MR_PASSED_DOWN; m < FL_MR__MAX; m++)
            fl_buf_appendf(
                out, "farmlokal_replica_passed_over_total{replica=\"%s\",reason=\"%s\"} %llu\n",
                labels->replicas[r], reasons[m], (unsigned long long)sum->replica[r][m]);
}

/* The plain counters and the breaker's state. */
/* One counter line: a family's first line carries its help, the others NULL. */
struct counter_line {
    enum fl_metric m;
    const char *name, *help, *labels;
};

#define UPSTREAM "farmlokal_upstream_requests_total"
#define WEBHOOK  "farmlokal_webhook_events_total"
#define REPLICA  "farmlokal_replica_reads_total"

/* The counters before the circuit gauge, and after it. */
static const struct counter_line counters_upstream[] = {
    {FL_M_CACHE_HIT, "farmlokal_cache_requests_total", "Listing cache lookups by result.",
     "{result=\"hit\"}"},
    {FL_M_CACHE_MISS, "farmlokal_cache_requests_total", NULL, "{result=\"miss\"}"},
    {FL_M_CACHE_BYPASS, "farmlokal_cache_requests_total", NULL, "{result=\"bypass\"}"},
    {FL_M_CACHE_STALE, "farmlokal_cache_requests_total", NULL, "{result=\"stale\"}"},
    {FL_M_CACHE_NEAR_HIT, "farmlokal_cache_near_hits_total",
     "Hits served from a worker's near copy, the page not read from Redis (also hits above).", ""},
    {FL_M_DB_QUERIES, "farmlokal_db_queries_total", "Statements sent to MySQL.", ""},
    {FL_M_DB_ERRORS, "farmlokal_db_errors_total", "MySQL failures.", ""},
    {FL_M_DB_SKIPPED, "farmlokal_db_skipped_total",
     "Statements not sent: the worker's MySQL breaker was open.", ""},
    {FL_M_DB_TX_RETRIES, "farmlokal_db_tx_retries_total",
     "Transactions run again after a deadlock, a Galera certification conflict or a lost node.",
     ""},
    {FL_M_REDIS_ERRORS, "farmlokal_redis_errors_total", "Redis failures.", ""},
    {FL_M_UPSTREAM_OK, UPSTREAM, "Upstream calls by outcome.",
     "{upstream=\"api_a\",outcome=\"ok\"}"},
    {FL_M_UPSTREAM_NOT_FOUND, UPSTREAM, NULL, "{upstream=\"api_a\",outcome=\"not_found\"}"},
    {FL_M_UPSTREAM_FAILED, UPSTREAM, NULL, "{upstream=\"api_a\",outcome=\"failed\"}"},
    {FL_M_UPSTREAM_TIMED_OUT, UPSTREAM, NULL, "{upstream=\"api_a\",outcome=\"timed_out\"}"},
    {FL_M_UPSTREAM_REJECTED, UPSTREAM, NULL, "{upstream=\"api_a\",outcome=\"rejected\"}"},
    {FL_M_UPSTREAM_BULKHEAD_FULL, UPSTREAM, NULL, "{upstream=\"api_a\",outcome=\"bulkhead_full\"}"},
    {FL_M_UPSTREAM_RETRIES, "farmlokal_upstream_retries_total", "Tries after the first.",
     "{upstream=\"api_a\"}"},
};

static const struct counter_line counters_rest[] = {
    {FL_M_TOKEN_FETCHES, "farmlokal_oauth_token_fetches_total", "Token requests to the provider.",
     ""},
    {FL_M_WEBHOOK_APPLIED, WEBHOOK, "Webhook deliveries by outcome.", "{outcome=\"applied\"}"},
    {FL_M_WEBHOOK_STALE, WEBHOOK, NULL, "{outcome=\"stale\"}"},
    {FL_M_WEBHOOK_UNKNOWN, WEBHOOK, NULL, "{outcome=\"unknown_product\"}"},
    {FL_M_WEBHOOK_DUPLICATE, WEBHOOK, NULL, "{outcome=\"duplicate\"}"},
    {FL_M_WEBHOOK_REJECTED, WEBHOOK, NULL, "{outcome=\"rejected\"}"},
    {FL_M_RATELIMITED, "farmlokal_rate_limited_total", "Requests refused with 429.", ""},
    {FL_M_RATELIMIT_FAIL_OPEN, "farmlokal_rate_limit_fail_open_total",
     "Requests served unchecked because Redis was unreachable.", ""},
    {FL_M_READS_REPLICA, REPLICA, "Catalogue reads with a replica configured, by where they ran.",
     "{outcome=\"replica\"}"},
    {FL_M_READS_PASSED_OVER, REPLICA, NULL, "{outcome=\"passed_over\"}"},
    {FL_M_READS_REPLICA_BEHIND, REPLICA, NULL, "{outcome=\"replica_behind\"}"},
    {FL_M_LISTING_STOPPED, "farmlokal_listing_statements_stopped_total",
     "Listing statements stopped by their bound on rows examined (an estimate was wrong), "
     "the page then read again.",
     ""},
    {FL_M_SHED, "farmlokal_shed_total",
     "Requests refused unserved after waiting longer than the queue budget.", ""},
};

static void render_lines(const struct counter_line *l, size_t n, const uint64_t *c,
                         struct fl_buf *out)
{
    for (size_t i = 0; i < n; i++)
        counter(out, l[i].name, l[i].help, l[i].labels, c[l[i].m]);
}

static void render_counters(const uint64_t *c, int circuit_open, struct fl_buf *out)
{
    render_lines(counters_upstream, FL_COUNTOF(counters_upstream), c, out);
    fl_buf_appendf(out,
                   "# HELP farmlokal_circuit_state 0 closed, 1 open, 2 half-open.\n"
                   "# TYPE farmlokal_circuit_state gauge\n"
                   "farmlokal_circuit_state{upstream=\"api_a\"} %d\n",
                   circuit_open);
    render_lines(counters_rest, FL_COUNTOF(counters_rest), c, out);
}

void fl_metrics_render(const char *dir, const struct fl_metrics_labels *labels, int circuit_open,
                       unsigned pool_workers, struct fl_buf *out)
{
    struct counters *sum = calloc(1, sizeof(*sum));
    unsigned alive = pool_workers;

    if (sum == NULL) {
        out->err = out->err ? out->err : FL_ENOMEM;
        return;
    }
    if (dir)
        alive = sum_files(dir, sum);
    else
        *sum = local;
    render_requests(sum, labels, out);
    render_counters(sum->c, circuit_open, out);
    render_replicas(sum, labels, out);
    fl_buf_appendf(out,
                   "# HELP farmlokal_workers_alive Workers with a live process.\n"
                   "# TYPE farmlokal_workers_alive gauge\nfarmlokal_workers_alive %u\n",
                   alive);
    free(sum);
}
