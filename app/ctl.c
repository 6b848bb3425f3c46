/* SPDX-License-Identifier: MIT */
/*
 * farmlokal-ctl, the admin tool: loads and checks the same configuration as the worker
 * program, then runs one command. Every command answers --help before the configuration is
 * read, so help works on a machine that is not configured yet.
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

struct command {
    const char *name;
    int (*run)(const struct fl_config *cfg, int argc, char **argv);
    const char *usage; /* "usage: ..." and what it does, printed by --help */
};

static const struct command commands[] = {
    {"migrate", fl_ctl_migrate,
     "usage: farmlokal-ctl migrate\n"
     "  apply the schema migrations not applied yet (safe to rerun)\n"},
    {"check-config", fl_ctl_check_config,
     "usage: farmlokal-ctl check-config [--connect]\n"
     "  validate the configuration and print it, secrets masked; warn about placeholders\n"
     "  --connect also reaches MySQL, the replica, Redis and the OAuth token URL\n"},
    {"check-data", fl_ctl_check_data,
     "usage: farmlokal-ctl check-data\n"
     "  report stored products whose text is not valid UTF-8 (exit 1 if any)\n"},
    {"reindex", fl_ctl_reindex,
     "usage: farmlokal-ctl reindex [--after ID] [--batch N]\n"
     "  rewrite every product's search words (after an upgrade; safe to rerun)\n"},
    {"seed", fl_ctl_seed,
     "usage: farmlokal-ctl seed --rows N [--seed S] [--replace]\n"
     "  fill the catalogue with N generated products, N from 1 to 50000000; the same S\n"
     "  gives the same catalogue (default 42); --replace replaces one that is not empty\n"},
    {"webhook-register", fl_ctl_webhook_register,
     "usage: farmlokal-ctl webhook-register\n"
     "  subscribe to API B's product updates (once; a rerun reuses it)\n"},
};

static const char usage[] =
    "usage: farmlokal-ctl [--config FILE] COMMAND [ARGS]   (COMMAND --help for its usage)\n"
    "\n"
    "Commands: migrate, check-config [--connect], check-data,\n"
    "          reindex [--after ID] [--batch N], seed --rows N [--seed S] [--replace],\n"
    "          webhook-register\n"
    "\n"
    "--config FILE reads FL_* settings from FILE (KEY=VALUE lines); the environment wins.\n"
    "Exit status: 0 done, 1 failed (a server unreachable, a check found problems),\n"
    "2 bad arguments or configuration.\n";

const char *fl_ctl_usage(const char *name)
{
    for (size_t i = 0; i < FL_COUNTOF(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].usage;
    return usage;
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/* Parses the options before the command; returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, int *i, const char **config_file)
{
    for (; *i < argc && argv[*i][0] == '-'; (*i)++) {
        if (strcmp(argv[*i], "--help") == 0 || strcmp(argv[*i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[*i], "--version") == 0) {
            puts("farmlokal-ctl " FL_VERSION);
            return 0;
        } else if (strcmp(argv[*i], "--config") == 0 && *i + 1 < argc) {
            *config_file = argv[++*i];
        } else {
            fprintf(stderr, "farmlokal-ctl: unknown option '%s'\n%s", argv[*i], usage);
            return 2;
        }
    }
    if (*i == argc) {
        fputs(usage, stderr);
        return 2;
    }
    return -1;
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
    const struct command *cmd = NULL;
    struct fl_config cfg;
    struct fl_buf err;
    int i = 1, status = parse_options(argc, argv, &i, &config_file);

    if (status >= 0)
        return status;
    for (size_t c = 0; c < FL_COUNTOF(commands); c++)
        if (strcmp(argv[i], commands[c].name) == 0)
            cmd = &commands[c];
    if (cmd == NULL) {
        fprintf(stderr, "farmlokal-ctl: unknown command '%s'\n%s", argv[i], usage);
        return 2;
    }
    if (wants_help(argc - i, argv + i)) {
        fputs(cmd->usage, stdout);
        return 0;
    }
    fl_buf_init(&err, 1024);
    if (fl_config_load(&cfg, config_file, &err) != FL_OK) {
        fprintf(stderr, "farmlokal-ctl: %s\n", err.p ? err.p : "configuration failed");
        fl_buf_free(&err);
        return 2;
    }
    fl_buf_free(&err);
    fl_log_set_level(cfg.log_level);
    if (cfg.warnings)
        fprintf(stderr, "farmlokal-ctl: warning: %s", cfg.warnings);
    status = cmd->run(&cfg, argc - i, argv + i);
    fl_config_free(&cfg);
    return status;
}
