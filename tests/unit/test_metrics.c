/* SPDX-License-Identifier: MIT */
/*
 * fl_metrics: the Prometheus text a scrape shows (counters, requests by route, method and
 * status, the latency histogram, replicas, the breaker, workers alive), summed over every
 * worker's file, and a new master's clear-out of the files of workers that exited.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fl_metrics.h"
#include "test.h"

static const char *const routes[] = {"unmatched", "/products", NULL};
static const char *const methods[] = {"GET", "POST"};
static const char *const replicas[] = {"r1:3306", "r2:3306"};
static const struct fl_metrics_labels labels = {routes, 3, methods, 2, replicas, 2};

static struct fl_buf out;

static void render(const char *dir, int circuit, unsigned pool)
{
    fl_buf_reset(&out);
    fl_metrics_render(dir, &labels, circuit, pool, &out);
    ASSERT_EQ(fl_buf_err(&out), FL_OK);
}

static void test_render_in_memory(void)
{
    ASSERT_EQ(fl_metrics_open(NULL), FL_OK);
    fl_metrics_add(FL_M_CACHE_HIT, 5);
    fl_metrics_add(FL_M_CACHE_HIT, 2);
    fl_metrics_set(FL_M_DB_QUERIES, 40);
    fl_metrics_set(FL_M_DB_QUERIES, 9); /* set, not added */
    fl_metrics_request(1, 0, 200, 0.003);
    fl_metrics_request(1, 0, 418, 7.0);   /* a status not listed, slower than every bucket */
    fl_metrics_request(1, 1, 201, 0.001); /* a bucket's bound is inside it */
    fl_metrics_request(99, 0, 404, 0.2);  /* an unknown route counts as unmatched */
    fl_metrics_replica_add(1, FL_MR_READS);
    fl_metrics_replica_add(1, FL_MR_PASSED_BEHIND);
    fl_metrics_replica_add(FL_METRICS_REPLICAS_MAX, FL_MR_READS); /* ignored */
    render(NULL, 1, 3);
    ASSERT_CONTAINS(out.p, "# TYPE http_requests_total counter\n"
                           "http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} "
                           "1\nhttp_requests_total{method=\"GET\",route=\"/products\",status="
                           "\"200\"} 1\n");
    ASSERT_CONTAINS(out.p, "{method=\"GET\",route=\"/products\",status=\"other\"} 1\n");
    ASSERT_CONTAINS(out.p, "{method=\"POST\",route=\"/products\",status=\"201\"} 1\n");
    ASSERT_CONTAINS(out.p, "http_request_duration_seconds_bucket{route=\"/products\",le=\"0.001\"} "
                           "1\nhttp_request_duration_seconds_bucket{route=\"/products\",le="
                           "\"0.0025\"} 1\nhttp_request_duration_seconds_bucket{route="
                           "\"/products\",le=\"0.005\"} 2\n");
    ASSERT_CONTAINS(out.p, "{route=\"/products\",le=\"5\"} 2\nhttp_request_duration_seconds_"
                           "bucket{route=\"/products\",le=\"+Inf\"} 3\n"
                           "http_request_duration_seconds_sum{route=\"/products\"} 7.004000\n"
                           "http_request_duration_seconds_count{route=\"/products\"} 3\n");
    ASSERT_CONTAINS(out.p, "# HELP farmlokal_cache_requests_total Listing cache lookups by "
                           "result.\n# TYPE farmlokal_cache_requests_total counter\n"
                           "farmlokal_cache_requests_total{result=\"hit\"} 7\n"
                           "farmlokal_cache_requests_total{result=\"miss\"} 0\n");
    ASSERT_CONTAINS(out.p, "\nfarmlokal_db_queries_total 9\n");
    ASSERT_CONTAINS(out.p, "\nfarmlokal_circuit_state{upstream=\"api_a\"} 1\n");
    ASSERT_CONTAINS(out.p, "\nfarmlokal_replica_served_total{replica=\"r1:3306\"} 0\n"
                           "farmlokal_replica_served_total{replica=\"r2:3306\"} 1\n");
    ASSERT_CONTAINS(out.p, "{replica=\"r2:3306\",reason=\"down\"} 0\n"
                           "farmlokal_replica_passed_over_total{replica=\"r2:3306\",reason="
                           "\"behind\"} 1\n");
    /* Without a directory the pool's own count of its workers is shown. */
    ASSERT_CONTAINS(out.p, "\nfarmlokal_workers_alive 3\n");
    /* A route without a label (NULL) is not shown. */
    ASSERT_TRUE(strstr(out.p, "(null)") == NULL);
    fl_metrics_close();
}

/* A worker that counts into dir and exits, as a killed worker would. */
static void exited_worker(const char *dir)
{
    pid_t pid = fork();
    int status = -1;

    if (pid == 0) {
        if (fl_metrics_open(dir) != FL_OK)
            _exit(1);
        fl_metrics_add(FL_M_SHED, 2);
        fl_metrics_request(1, 0, 503, 0.01);
        _exit(0);
    }
    ASSERT_GT(pid, 0);
    waitpid(pid, &status, 0);
    ASSERT_EQ(status, 0);
}

static size_t files_in(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* Removes every file in dir. */
static void remove_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[128];

    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        remove(path);
    }
    if (d)
        closedir(d);
}

static void test_files_summed_and_cleared(void)
{
    char dir[] = "/tmp/fl-unit-metrics-XXXXXX", other[64];
    FILE *f;

    ASSERT_NOT_NULL(mkdtemp(dir));
    snprintf(other, sizeof(other), "%s/notes.txt", dir);
    f = fopen(other, "w");
    ASSERT_NOT_NULL(f);
    if (f)
        fclose(f);
    ASSERT_EQ(fl_metrics_open(dir), FL_OK);
    fl_metrics_add(FL_M_SHED, 1);
    exited_worker(dir);
    render(dir, 0, 99);
    ASSERT_CONTAINS(out.p, "\nfarmlokal_shed_total 3\n");
    ASSERT_CONTAINS(out.p, "{method=\"GET\",route=\"/products\",status=\"503\"} 1\n");
    /* Alive counts the live workers' files (this one), not the pool's size. */
    ASSERT_CONTAINS(out.p, "\nfarmlokal_workers_alive 1\n");
    ASSERT_EQ(files_in(dir), 3);

    /* A new master clears the exited worker's file; this live worker's and others stay. */
    fl_metrics_clear(dir);
    ASSERT_EQ(files_in(dir), 2);
    render(dir, 2, 99);
    ASSERT_CONTAINS(out.p, "\nfarmlokal_shed_total 1\n");
    ASSERT_CONTAINS(out.p, "\nfarmlokal_circuit_state{upstream=\"api_a\"} 2\n");
    fl_metrics_close();
    /* Closing keeps the file: the worker's counts outlive it. */
    ASSERT_EQ(files_in(dir), 2);
    ASSERT_EQ(fl_metrics_open("/nonexistent/metrics"), FL_EIO);

    remove(other);
    fl_metrics_clear(dir); /* this process is alive: its file stays */
    ASSERT_EQ(files_in(dir), 1);
    remove_files(dir);
    ASSERT_EQ(rmdir(dir), 0);
}

int main(void)
{
    fl_buf_init(&out, 1 << 20);
    test_render_in_memory();
    test_files_summed_and_cleared();
    fl_buf_free(&out);
    return fl_test_done("test_metrics");
}
