/* SPDX-License-Identifier: MIT */
/*
 * GCRA: each client has a theoretical arrival time (TAT) in Redis. A request at time now is
 * allowed when TAT - burst * interval <= now, and moves TAT to max(TAT, now) + interval. The
 * key expires when TAT passes, so idle clients cost nothing.
 */
#include "fl_ratelimit.h"

#include <stdio.h>
#include <string.h>

static const char script[] = "local t = redis.call('TIME') "
                             "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
                             "local interval = tonumber(ARGV[1]) "
                             "local burst = tonumber(ARGV[2]) "
                             "local tat = tonumber(redis.call('GET', KEYS[1]) or now) "
                             "if tat < now then tat = now end "
                             "local allow_at = tat + interval - burst * interval "
                             "if allow_at > now then "
                             "  return string.format('0 0 %d %d', math.ceil((tat - now) / 1e6), "
                             "                       math.ceil((allow_at - now) / 1e6)) "
                             "end "
                             "local new_tat = tat + interval "
                             "redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', "
                             "           math.ceil((new_tat - now) / 1000) + 1) "
                             "return string.format('1 %d %d 0', math.floor((now - (new_tat - burst "
                             "* interval)) / interval), "
                             "                     math.ceil((new_tat - now) / 1e6))";

bool fl_ratelimit_prepare(const struct fl_config *cfg, struct fl_str client,
                          struct fl_ratelimit *rl)
{
    memset(rl, 0, sizeof(*rl));
    if (cfg->rate_limit == 0)
        return false;
    snprintf(rl->key, sizeof(rl->key), "fl:rl:%.*s", (int)(client.len > 64 ? 64 : client.len),
             client.p ? client.p : "");
    snprintf(rl->args[0], sizeof(rl->args[0]), "%u", 1000000u / cfg->rate_limit);
    snprintf(rl->args[1], sizeof(rl->args[1]), "%u", cfg->rate_burst);
    return true;
}

struct fl_redis_cmd fl_ratelimit_cmd(const struct fl_ratelimit *rl)
{
    return FL_REDIS_CMD(FL_STR("EVAL"), FL_STR(script), FL_STR("1"), fl_str_c(rl->key),
                        fl_str_c(rl->args[0]), fl_str_c(rl->args[1]));
}

void fl_ratelimit_read(struct fl_ratelimit *rl, const struct fl_redis_reply *reply)
{
    int64_t v[4];
    struct fl_str s = reply->str;
    size_t n = 0;

    rl->decided = false;
    if (reply->type != FL_REDIS_STR)
        return;
    /* "<allowed> <remaining> <reset_s> <retry_after_s>" */
    while (n < 4 && s.len > 0) {
        const char *sp = memchr(s.p, ' ', s.len);
        struct fl_str field = {s.p, sp ? (size_t)(sp - s.p) : s.len};
        if (fl_str_to_i64(field, 0, INT64_MAX, &v[n++]) != FL_OK)
            return;
        s.len -= field.len + (sp != NULL);
        s.p += field.len + (sp != NULL);
    }
    if (n != 4 || s.len != 0)
        return;
    rl->decided = true;
    rl->allowed = v[0] == 1;
    rl->remaining = v[1];
    rl->reset_s = v[2];
    rl->retry_after_s = v[3];
    if (rl->retry_after_s < 1)
        rl->retry_after_s = 1;
}

void fl_ratelimit_check(struct fl_redis *r, struct fl_arena *arena, struct fl_ratelimit *rl)
{
    struct fl_redis_cmd cmd = fl_ratelimit_cmd(rl);
    struct fl_redis_reply rep;

    if (fl_redis_pipeline(r, arena, &cmd, 1, &rep) == FL_OK)
        fl_ratelimit_read(rl, &rep);
}
