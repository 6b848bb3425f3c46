/* SPDX-License-Identifier: MIT */
/*
 * farmlokal, the worker program, in each of the ways admins run it: with --listen it is a
 * supervising master of --workers N; with a listening socket on fd 0 (spawn-fcgi,
 * multiwatch, systemd, lighttpd bin-path) it is one worker; with neither it answers one CGI
 * request. The configuration is loaded and checked before anything starts.
 */
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
    "                  SIGTERM: drain and stop)\n"
    "  --workers N     pool size with --listen (default 2, at most 256)\n"
    "  --version       print the version\n"
    "Without --listen: one worker on the listening socket at fd 0 (spawn-fcgi, systemd),\n"
    "or, when fd 0 is not a socket, one CGI request from the environment.\n";

int main(int argc, char **argv)
{
    const char *config_file = NULL, *listen_spec = NULL;
    unsigned workers = 2;
    struct fl_config *cfg = calloc(1, sizeof(*cfg));
    struct fl_buf err;
    int status;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            free(cfg);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            puts("farmlokal " FL_VERSION);
            free(cfg);
            return 0;
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            config_file = argv[++i];
        } else if (strcmp(a, "--listen") == 0 && i + 1 < argc) {
            listen_spec = argv[++i];
        } else if (strcmp(a, "--workers") == 0 && i + 1 < argc) {
            if (fl_str_to_u64(fl_str_c(argv[++i]), 1, 256, &n) != FL_OK) {
                fputs("farmlokal: --workers must be an integer from 1 to 256\n", stderr);
                free(cfg);
                return 2;
            }
            workers = (unsigned)n;
        } else {
            fprintf(stderr, "farmlokal: unknown or incomplete argument '%s'\n%s", a, usage);
            free(cfg);
            return 2;
        }
    }
    if (cfg == NULL)
        return 1;
    fl_buf_init(&err, 1024);
    if (fl_config_load(cfg, config_file, &err) != FL_OK) {
        fprintf(stderr, "farmlokal: %s\n", err.p ? err.p : "configuration failed");
        fl_buf_free(&err);
        free(cfg);
        return 2;
    }
    fl_buf_free(&err);
    fl_log_set_level(cfg->log_level);
    if (listen_spec) {
        status = fl_master_run(listen_spec, workers, config_file, cfg);
        free(cfg);
        return status;
    }
    status = fl_worker_run(cfg, fl_http_stdin_is_listener() ? 0 : -1);
    fl_config_free(cfg);
    free(cfg);
    return status;
}
