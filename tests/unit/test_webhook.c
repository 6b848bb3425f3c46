/* SPDX-License-Identifier: MIT */
/* Webhook signatures, RFC 3339 times, JSON objects and rate-limit replies: pure parts. */
#include <stdlib.h>

#include "fl_arena.h"
#include "fl_crypto.h"
#include "fl_json.h"
#include "fl_ratelimit.h"
#include "fl_time.h"
#include "fl_webhook.h"
#include "test.h"

static struct fl_arena *arena;

/* The Standard Webhooks test vector's shape: v1,base64(HMAC(secret, id.ts.body)). */
static void sign(struct fl_str secret, const char *id, const char *ts, const char *body,
                 struct fl_buf *out)
{
    struct fl_str parts[5] = {fl_str_c(id), FL_STR("."), fl_str_c(ts), FL_STR("."), fl_str_c(body)};
    unsigned char mac[32];

    fl_crypto_hmac_sha256(secret, parts, 5, mac);
    fl_buf_puts(out, "v1,");
    fl_crypto_base64_encode((struct fl_str){(const char *)mac, 32}, out);
}

static void test_verify(void)
{
    struct fl_str secret = FL_STR("0123456789abcdef0123456789abcdef");
    struct fl_str other = FL_STR("fedcba9876543210fedcba9876543210");
    const char *body = "{\"event_id\":\"evt_1\"}";
    struct fl_buf good, wrong, both;
    int64_t now = 1790000000;

    fl_buf_init(&good, 0);
    fl_buf_init(&wrong, 0);
    fl_buf_init(&both, 0);
    sign(secret, "evt_1", "1790000000", body, &good);
    sign(other, "evt_1", "1790000000", body, &wrong);
    fl_buf_put(&both, fl_buf_str(&wrong));
    fl_buf_putc(&both, ' ');
    fl_buf_put(&both, fl_buf_str(&good));

    ASSERT_EQ(fl_webhook_verify(secret, FL_STR("evt_1"), FL_STR("1790000000"), fl_buf_str(&good),
                                fl_str_c(body), now),
              FL_OK);
    /* Rotation: any one matching signature of several is enough. */
    ASSERT_EQ(fl_webhook_verify(secret, FL_STR("evt_1"), FL_STR("1790000000"), fl_buf_str(&both),
                                fl_str_c(body), now),
              FL_OK);
    ASSERT_EQ(fl_webhook_verify(secret, FL_STR("evt_1"), FL_STR("1790000000"), fl_buf_str(&wrong),
                                fl_str_c(body), now),
              FL_EAUTH);
    /* A changed body, id or timestamp breaks the signature. */
    ASSERT_EQ(fl_webhook_verify(secret, FL_STR("evt_1"), FL_STR("1790000000"), fl_buf_str(&good),
                                FL_STR("{\"event_id\":\"evt_2\"}"), now),
              FL_EAUTH);
    ASSERT_EQ(fl_webhook_verify(secret, FL_STR("evt_2"), FL_STR("1790000000"), fl_buf_str(&good),
                                fl_str_c(body), now),
              FL_EAUTH);
    /* Tolerance: 5 minutes either way. */
    ASSERT_EQ(fl_webhook_verify(secret, FL_STR("evt_1"), FL_STR("1790000000"), fl_buf_str(&good),
                                fl_str_c(body), now + 300),
              FL_OK);
    ASSERT_EQ(fl_webhook_verify(secret, FL_STR("evt_1"), FL_STR("1790000000"), fl_buf_str(&good),
                                fl_str_c(body), now + 301),
              FL_EAUTH);
    ASSERT_EQ(fl_webhook_verify(secret, FL_STR("evt_1"), FL_STR("1790000000"), fl_buf_str(&good),
                                fl_str_c(body), now - 301),
              FL_EAUTH);
    ASSERT_EQ(fl_webhook_verify(secret, FL_STR("evt_1"), FL_STR("17900x0000"), fl_buf_str(&good),
                                fl_str_c(body), now),
              FL_EAUTH);
    ASSERT_EQ(fl_webhook_verify(FL_STR(""), FL_STR("evt_1"), FL_STR("1790000000"),
                                fl_buf_str(&good), fl_str_c(body), now),
              FL_EAUTH);
    ASSERT_EQ(fl_webhook_verify(secret, FL_STR("evt_1"), FL_STR("1790000000"), FL_STR(""),
                                fl_str_c(body), now),
              FL_EAUTH);
    ASSERT_EQ(fl_webhook_verify(secret, FL_STR("evt_1"), FL_STR("1790000000"),
                                FL_STR("v2,AAAA v1,"), fl_str_c(body), now),
              FL_EAUTH);
    fl_buf_free(&good);
    fl_buf_free(&wrong);
    fl_buf_free(&both);
}

static void test_time(void)
{
    int64_t us = 0;
    char db[64];

    ASSERT_EQ(fl_time_parse_rfc3339(FL_STR("2026-11-24T14:42:29.123456Z"), &us), FL_OK);
    fl_time_format_db(us, db);
    ASSERT_STREQ(db, "2026-11-24 14:42:29.123456");
    ASSERT_EQ(fl_time_parse_rfc3339(FL_STR("2026-11-24T20:12:29+05:30"), &us), FL_OK);
    fl_time_format_db(us, db);
    ASSERT_STREQ(db, "2026-11-24 14:42:29.000000");
    ASSERT_EQ(fl_time_parse_rfc3339(FL_STR("2026-11-24t14:42:29.1z"), &us), FL_OK);
    fl_time_format_db(us, db);
    ASSERT_STREQ(db, "2026-11-24 14:42:29.100000");
    ASSERT_EQ(fl_time_parse_rfc3339(FL_STR("2026-11-24T14:42:29.123456789Z"), &us), FL_OK);
    /* Before 1970 the fraction must not go negative (found by the webhook tests). */
    ASSERT_EQ(fl_time_parse_rfc3339(FL_STR("1969-12-31T23:59:59.500000Z"), &us), FL_OK);
    fl_time_format_db(us, db);
    ASSERT_STREQ(db, "1969-12-31 23:59:59.500000");
    ASSERT_EQ(fl_time_parse_rfc3339(FL_STR("2024-02-29T12:00:00Z"), &us), FL_OK);
    const char *bad[] = {"2026-11-24 14:42:29Z",
                         "2026-13-24T14:42:29Z",
                         "2026-02-30T14:42:29Z",
                         "2026-11-24T14:42:29",
                         "2026-11-24T14:42:29.Z",
                         "2026-11-24T24:00:00Z",
                         "2026-11-24T14:42:29+5:30",
                         "yesterday",
                         "",
                         "2026-02-29T12:00:00Z",
                         "1900-02-29T00:00:00Z",
                         "9999-12-31T23:30:00-01:00",
                         "1000-01-01T00:30:00+01:00"};
    for (size_t i = 0; i < FL_COUNTOF(bad); i++) {
        fl_test_checks++;
        if (fl_time_parse_rfc3339(fl_str_c(bad[i]), &us) != FL_EINVAL)
            FAIL_AT("accepted time '%s'", bad[i]);
    }
}

static void test_json(void)
{
    struct fl_json_field f[3] = {{"price", 0, {0}}, {"name", 0, {0}}, {"data", 0, {0}}};
    struct fl_buf detail;

    fl_buf_init(&detail, 256);
    ASSERT_EQ(fl_json_parse_object(FL_STR("{\"price\":64.50,\"name\":\"Caf\\u00e9\","
                                          "\"data\":{\"a\":[1,2]}}"),
                                   arena, f, 3, 0, &detail),
              FL_OK);
    ASSERT_EQ(f[0].type, FL_JSON_NUMBER);
    ASSERT_TRUE(fl_str_eq(f[0].text, FL_STR("64.50"))); /* as sent, never via a double */
    ASSERT_EQ(f[1].type, FL_JSON_STRING);
    ASSERT_TRUE(fl_str_eq(f[1].text, FL_STR("Caf\xc3\xa9")));
    ASSERT_EQ(f[2].type, FL_JSON_OBJECT);
    ASSERT_TRUE(fl_json_valid(f[2].text));

    ASSERT_EQ(fl_json_parse_object(FL_STR("{\"price\":1,\"id\":2}"), arena, f, 3, 0, &detail),
              FL_EINVAL);
    ASSERT_CONTAINS(detail.p, "unknown field 'id'");
    ASSERT_EQ(fl_json_parse_object(FL_STR("{\"price\":1,\"id\":2}"), arena, f, 3,
                                   FL_JSON_IGNORE_UNKNOWN, &detail),
              FL_OK);
    const char *bad[] = {
        "", "[]", "\"x\"", "{", "{\"price\":1}x", "{\"name\":\"\xff\"}", "{\"price\":1,}"};
    for (size_t i = 0; i < FL_COUNTOF(bad); i++) {
        fl_buf_reset(&detail);
        fl_test_checks++;
        if (fl_json_parse_object(fl_str_c(bad[i]), arena, f, 3, 0, &detail) != FL_EINVAL)
            FAIL_AT("accepted JSON '%s'", bad[i]);
    }
    /* Depth is capped: a deep nest is refused, not recursed into. */
    char deep[200];
    memset(deep, '[', sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = '\0';
    ASSERT_TRUE(!fl_json_valid(fl_str_c(deep)));
    fl_buf_free(&detail);
}

static void test_ratelimit_reply(void)
{
    struct fl_ratelimit rl;
    struct fl_redis_reply ok = {FL_REDIS_STR, 0, FL_STR("1 7 2 0")};
    struct fl_redis_reply no = {FL_REDIS_STR, 0, FL_STR("0 0 3 2")};
    struct fl_redis_reply junk = {FL_REDIS_STR, 0, FL_STR("1 7 x 0")};
    struct fl_redis_reply err = {FL_REDIS_ERROR, 0, FL_STR("NOSCRIPT")};

    fl_ratelimit_read(&rl, &ok);
    ASSERT_TRUE(rl.decided && rl.allowed);
    ASSERT_EQ(rl.remaining, 7);
    ASSERT_EQ(rl.reset_s, 2);
    fl_ratelimit_read(&rl, &no);
    ASSERT_TRUE(rl.decided && !rl.allowed);
    ASSERT_EQ(rl.retry_after_s, 2);
    fl_ratelimit_read(&rl, &junk);
    ASSERT_TRUE(!rl.decided);
    fl_ratelimit_read(&rl, &err);
    ASSERT_TRUE(!rl.decided);
}

int main(void)
{
    arena = fl_arena_new(1 << 20);
    test_verify();
    test_time();
    test_json();
    test_ratelimit_reply();
    fl_arena_free(arena);
    return fl_test_done("test_webhook");
}
