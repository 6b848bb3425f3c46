/* SPDX-License-Identifier: MIT */
/*
 * GCRA: each client has a theoretical arrival time (TAT) in Redis. A request at time now is
 * allowed when TAT - burst * interval <= now, and moves TAT to max(TAT, now) + interval. The
 * key expires when TAT passes, so idle clients cost nothing.
 */
#include "fl_ratelimit.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

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

/* True when text is an address inside one of cfg's trusted ranges. */
static bool trusted(const struct fl_config *cfg, struct fl_str text)
{
    unsigned char addr[16];
    char buf[64];
    int family;

    if (text.len == 0 || text.len >= sizeof(buf))
        return false;
    memcpy(buf, text.p, text.len);
    buf[text.len] = '\0';
    family = strchr(buf, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(family, buf, addr) != 1)
        return false;
    for (size_t i = 0; i < cfg->n_trusted_proxies; i++) {
        const struct fl_cidr *c = &cfg->trusted_proxies[i];
        unsigned bits = c->prefix_bits, whole = bits / 8, rest = bits % 8;
        if (c->family != family || memcmp(addr, c->addr, whole) != 0)
            continue;
        if (rest == 0 || ((addr[whole] ^ c->addr[whole]) & (0xff << (8 - rest))) == 0)
            return true;
    }
    return false;
}

static struct fl_str trim(struct fl_str s)
{
    while (s.len && (s.p[0] == ' ' || s.p[0] == '\t'))
        s.p++, s.len--;
    while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    return s;
}

bool fl_ratelimit_prepare(const struct fl_config *cfg, const struct fl_req *req,
                          struct fl_ratelimit *rl)
{
    struct fl_str client = fl_str_c(fl_req_env(req, "REMOTE_ADDR"));
    const char *xff = fl_req_env(req, "HTTP_X_FORWARDED_FOR");

    memset(rl, 0, sizeof(*rl));
    if (cfg->rate_limit == 0)
        return false;
    if (xff && trusted(cfg, client)) {
        /* Walk from the nearest hop; the first one we do not trust is the client. */
        struct fl_str list = fl_str_c(xff);
        while (list.len > 0) {
            const char *comma = NULL;
            for (size_t i = list.len; i > 0; i--)
                if (list.p[i - 1] == ',') {
                    comma = list.p + i - 1;
                    break;
                }
            struct fl_str hop = trim(
                comma ? (struct fl_str){comma + 1, list.len - (size_t)(comma + 1 - list.p)} : list);
            list.len = comma ? (size_t)(comma - list.p) : 0;
            if (hop.len == 0)
                continue;
            client = hop;
            if (!trusted(cfg, hop))
                break;
        }
    }
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
