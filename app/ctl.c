/* SPDX-License-Identifier: MIT */
/*
 * farmlokal-ctl, the admin tool: loads and checks the same configuration as the worker
 * program, then runs one command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "ctl.h"
#include "fl_arena.h"
#include "fl_cache.h"
#include "fl_log.h"
#include "fl_redis.h"

static const char usage[] =
    "usage: farmlokal-ctl [--config FILE] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  migrate        apply the schema migrations not applied yet (safe to rerun)\n"
    "  check-config   validate the configuration and print it, secrets masked\n"
    "  check-data     report stored products whose text is not valid UTF-8 (exit 1 if any)\n"
    "  reindex [--after ID] [--batch N]\n"
    "                 rewrite every product's search words (after an upgrade; safe to rerun)\n"
    "  seed --rows N [--seed S] [--replace]\n"
    "                 fill the catalogue with N generated products (deterministic per S)\n"
    "  webhook-register\n"
    "                 subscribe to API B's product updates (once; a rerun reuses it)\n"
    "\n"
    "--config FILE reads FL_* settings from FILE (KEY=VALUE lines); the environment wins.\n";

static int check_config(const struct fl_config *cfg, int argc)
{
    struct fl_buf out;

    if (argc > 1) {
        fputs("usage: farmlokal-ctl check-config\n", stderr);
        return 2;
    }
    fl_buf_init(&out, 0);
    fl_config_dump(cfg, &out);
    fputs(out.p ? out.p : "", stdout);
    fl_buf_free(&out);
    return 0;
}

void fl_ctl_invalidate_cache(const struct fl_config *cfg, const char *command)
{
    struct fl_redis *r = fl_redis_new(&cfg->redis, 1000);
    struct fl_arena *a = fl_arena_new(1 << 16);

    if (r == NULL || a == NULL || fl_cache_invalidate(r, a) != FL_OK)
        fprintf(stderr, "%s: warning: Redis unreachable, cached listings expire by TTL\n", command);
    fl_arena_free(a);
    fl_redis_free(r);
}

int main(int argc, char **argv)
{
    const char *config_file = NULL;
    struct fl_config cfg;
    struct fl_buf err;
    int i = 1, status;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            puts("farmlokal-ctl " FL_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_file = argv[++i];
        } else {
            fprintf(stderr, "farmlokal-ctl: unknown option '%s'\n%s", argv[i], usage);
            return 2;
        }
    }
    if (i == argc) {
        fputs(usage, stderr);
        return 2;
    }
    fl_buf_init(&err, 1024);
    if (fl_config_load(&cfg, config_file, &err) != FL_OK) {
        fprintf(stderr, "farmlokal-ctl: %s\n", err.p ? err.p : "configuration failed");
        fl_buf_free(&err);
        return 2;
    }
    fl_buf_free(&err);
    fl_log_set_level(cfg.log_level);
    if (strcmp(argv[i], "migrate") == 0) {
        status = fl_ctl_migrate(&cfg, argc - i, argv + i);
    } else if (strcmp(argv[i], "seed") == 0) {
        status = fl_ctl_seed(&cfg, argc - i, argv + i);
    } else if (strcmp(argv[i], "webhook-register") == 0) {
        status = fl_ctl_webhook_register(&cfg, argc - i, argv + i);
    } else if (strcmp(argv[i], "check-data") == 0) {
        status = fl_ctl_check_data(&cfg, argc - i, argv + i);
    } else if (strcmp(argv[i], "reindex") == 0) {
        status = fl_ctl_reindex(&cfg, argc - i, argv + i);
    } else if (strcmp(argv[i], "check-config") == 0) {
        status = check_config(&cfg, argc - i);
    } else {
        fprintf(stderr, "farmlokal-ctl: unknown command '%s'\n%s", argv[i], usage);
        status = 2;
    }
    fl_config_free(&cfg);
    return status;
}
