/* SPDX-License-Identifier: MIT */
/*
 * farmlokal, the worker program, in each of the ways admins run it: with --listen it is a
 * supervising master of --workers N; with a listening socket on fd 0 (spawn-fcgi,
 * multiwatch, systemd, lighttpd bin-path) it is one worker; with neither it answers one CGI
 * request. The configuration is loaded and checked before anything starts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "fl_http.h"
#include "fl_log.h"

static const char usage[] =
    "usage: farmlokal [--config FILE] [--listen unix:PATH|HOST:PORT [--workers N]]\n"
    "\n"
    "The FarmLokal product API, a FastCGI application.\n"
    "  --config FILE   read FL_* settings from FILE (KEY=VALUE lines); the environment wins\n"
    "  --listen ADDR   bind ADDR and supervise a pool of workers (SIGHUP: rolling restart,\n"
    "                  SIGTERM: drain and stop, SIGUSR1: reopen FL_LOG_FILE); port 0 binds a\n"
    "                  free port, which the master_started line names\n"
    "  --workers N     pool size with --listen (default FL_WORKERS, else 2; at most 256)\n"
    "  --version       print the version\n"
    "Without --listen: one worker on the listening socket at fd 0 (spawn-fcgi, systemd),\n"
    "or, when fd 0 is not a socket, one CGI request from the environment.\n"
    "Exit status: 0 stopped as asked, 1 failed while running (cannot bind, cannot serve),\n"
    "2 bad arguments or configuration.\n";

/* A line where the admin will look, also before FL_LOG_FILE is known: see fl_log_open. */
static int start_failed(const char *why)
{
    fl_log_open(getenv("FL_LOG_FILE"));
    fl_log(FL_LOG_ERROR, "event=start_failed reason=\"%s\"", why);
    return 2;
}

/* Parses the arguments; returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, const char **config_file, const char **listen_spec,
                      unsigned *workers)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            puts("farmlokal " FL_VERSION);
            return 0;
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            *config_file = argv[++i];
        } else if (strcmp(a, "--listen") == 0 && i + 1 < argc) {
            *listen_spec = argv[++i];
            if (!fl_master_listen_valid(*listen_spec))
                return start_failed("--listen must be unix:PATH or HOST:PORT with a port "
                                    "from 0 to 65535");
        } else if (strcmp(a, "--workers") == 0 && i + 1 < argc) {
            if (fl_str_to_u64(fl_str_c(argv[++i]), 1, FL_CONFIG_WORKERS_MAX, &n) != FL_OK)
                return start_failed("--workers must be an integer from 1 to 256");
            *workers = (unsigned)n;
        } else {
            char why[160];
            snprintf(why, sizeof(why), "unknown or incomplete argument '%.64s'", a);
            fputs(usage, stderr);
            return start_failed(why);
        }
    }
    /* Without --listen there is no pool to size: whoever spawns the workers counts them. */
    if (*workers && *listen_spec == NULL)
        return start_failed("--workers needs --listen (spawn-fcgi -F, multiwatch -f or "
                            "lighttpd max-procs set the count without it)");
    return -1;
}

/* Loads the configuration and runs the master (with listen_spec) or one worker. */
static int run(const char *config_file, const char *listen_spec, unsigned workers)
{
    struct fl_config *cfg = calloc(1, sizeof(*cfg));
    struct fl_buf err;
    int status = 2;

    if (cfg == NULL)
        return 1;
    fl_buf_init(&err, 1024);
    if (fl_config_load(cfg, config_file, &err) != FL_OK) {
        status = start_failed(err.p ? err.p : "configuration failed");
        goto free_struct; /* a failed load leaves nothing in cfg to free */
    }
    fl_log_set_level(cfg->log_level);
    if (fl_log_open(cfg->log_file) != FL_OK) {
        fl_log(FL_LOG_ERROR, "event=start_failed reason=\"FL_LOG_FILE %s: %s\"", cfg->log_file,
               strerror(errno));
        goto free_config;
    }
    for (const char *line = cfg->warnings; line && *line;) {
        size_t n = strcspn(line, "\n");
        fl_log(FL_LOG_WARN, "event=config_warning detail=\"%.*s\"", (int)n, line);
        line += n + (line[n] == '\n');
    }
    if (listen_spec) {
        /* The master owns what cfg holds from here (it reloads it on SIGHUP). */
        status = fl_master_run(listen_spec, workers ? workers : cfg->workers, config_file, cfg);
        goto free_struct;
    }
    status = fl_worker_run(cfg, fl_http_stdin_is_listener() ? 0 : -1);
free_config:
    fl_config_free(cfg);
free_struct:
    fl_buf_free(&err);
    free(cfg);
    return status;
}

int main(int argc, char **argv)
{
    const char *config_file = NULL, *listen_spec = NULL;
    unsigned workers = 0;
    int status = parse_args(argc, argv, &config_file, &listen_spec, &workers);

    if (status < 0)
        status = run(config_file, listen_spec, workers);
    return status;
}
