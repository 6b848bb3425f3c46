/* SPDX-License-Identifier: MIT */
/*
 * fl_json: the string escaper of the writer, and against hostile bodies (issue #15) the
 * strict reader and the product field rules
 * of app/product_input that admin writes and webhooks share.
 */
#include <stdlib.h>

#include "fl_arena.h"
#include "fl_json.h"
#include "product_input.h"
#include "test.h"

static struct fl_arena *arena;
static struct fl_buf detail;

/* Parses body against the product fields; returns the error, detail holds the reason. */
static enum fl_err parse(struct fl_str body, struct fl_json_field f[FL_PF__MAX])
{
    fl_buf_reset(&detail);
    fl_pfields_init(f);
    return fl_json_parse_object(body, arena, f, FL_PF__MAX, 0, &detail);
}

#define REFUSED(body, why)                                                                         \
    do {                                                                                           \
        struct fl_json_field f_[FL_PF__MAX];                                                       \
        ASSERT_EQ(parse(FL_STR(body), f_), FL_EINVAL);                                             \
        ASSERT_CONTAINS(detail.p, why);                                                            \
        ASSERT_TRUE(detail.p == NULL || fl_utf8_valid(fl_buf_str(&detail)));                       \
    } while (0)

/* Finding 3 and 4: json-c took these bytes as they were and MariaDB or clients got them. */
static void test_strict_utf8(void)
{
    struct fl_json_field f[FL_PF__MAX];

    REFUSED("{\"name\":\"\xc0\x80\"}", "invalid UTF-8 in a string at byte 8 (in 'name')");
    REFUSED("{\"name\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8");
    REFUSED("{\"name\":\"ab\xed\xa0\x80"
            "cd\"}",
            "invalid UTF-8");
    REFUSED("{\"name\":\"\xe0\x80\x80\"}", "invalid UTF-8");
    REFUSED("{\"name\":\"\xf5\x80\x80\x80\"}", "invalid UTF-8");
    REFUSED("{\"na\xc0\x80me\":\"x\"}", "invalid UTF-8 in a string at byte 1");
    /* Escaped surrogates must pair up; json-c turned a lone one into U+FFFD. */
    REFUSED("{\"name\":\"\\ud800\"}", "lone surrogate");
    REFUSED("{\"name\":\"\\ud800x\"}", "lone surrogate");
    REFUSED("{\"name\":\"\\udc00\\ud800\"}", "lone surrogate");
    REFUSED("{\"name\":\"\\ud800\\u0041\"}", "lone surrogate");
    ASSERT_EQ(parse(FL_STR("{\"name\":\"\\ud83c\\udf45 caf\\u00e9 \xe2\x82\xac\"}"), f), FL_OK);
    ASSERT_EQ(f[FL_PF_NAME].type, FL_JSON_STRING);
    ASSERT_TRUE(fl_str_eq(f[FL_PF_NAME].text, FL_STR("\xf0\x9f\x8d\x85 caf\xc3\xa9 \xe2\x82\xac")));
}

/* Finding 8: json-c's "strict" mode still took all of these. */
static void test_strict_grammar(void)
{
    struct fl_json_field f[FL_PF__MAX];

    REFUSED("{\"price\":\"1.00\",\"price\":\"2.00\"}", "field 'price' is repeated");
    REFUSED("{\"price\":\"1.00\",\"\\u0070rice\":\"2.00\"}", "field 'price' is repeated");
    REFUSED("{'price':\"1.00\"}", "expected a string in double quotes");
    REFUSED("{\"price\":'1.00'}", "not valid JSON");
    REFUSED("{\"stock\":NaN}", "not valid JSON");
    REFUSED("{\"stock\":Infinity}", "not valid JSON");
    REFUSED("{\"stock\":01}", "expected ',' or '}'");
    REFUSED("{\"stock\":1.}", "digits after '.'");
    REFUSED("{\"stock\":.5}", "not valid JSON");
    REFUSED("{\"stock\":1e}", "exponent");
    REFUSED("{\"stock\":-}", "not valid JSON");
    REFUSED("{\"name\":\"a\tb\"}", "a control character in a string");
    REFUSED("{\"name\":\"a\\xb\"}", "an unknown escape");
    REFUSED("{\"name\":\"x\",}", "expected a string in double quotes");
    REFUSED("{\"name\":\"x\"} {}", "text after the object");
    REFUSED("[1]", "the body must be a JSON object");
    REFUSED("null", "the body must be a JSON object");
    REFUSED("{\"sku\":{\"a\":[1,]}}", "not valid JSON");
    /* Numbers and objects reach the caller as sent: "-0" stays "-0", never 0. */
    ASSERT_EQ(parse(FL_STR(" {\"stock\":-0, \"price\":-0.0 ,\"sku\":{\"a\" : 1e+2}}\n"), f), FL_OK);
    ASSERT_TRUE(fl_str_eq(f[FL_PF_STOCK].text, FL_STR("-0")));
    ASSERT_TRUE(fl_str_eq(f[FL_PF_PRICE].text, FL_STR("-0.0")));
    ASSERT_EQ(f[FL_PF_SKU].type, FL_JSON_OBJECT);
    ASSERT_TRUE(fl_str_eq(f[FL_PF_SKU].text, FL_STR("{\"a\" : 1e+2}")));
    ASSERT_EQ(parse(FL_STR("{}"), f), FL_OK);
    ASSERT_EQ(f[FL_PF_NAME].type, FL_JSON_MISSING);
}

static void test_valid(void)
{
    char deep[64];

    ASSERT_TRUE(fl_json_valid(FL_STR(" [1, -0.5e-3, \"x\", true, false, null, {\"a\": {}}] ")));
    ASSERT_TRUE(fl_json_valid(FL_STR("null")));
    ASSERT_TRUE(!fl_json_valid(FL_STR("[\"\xed\xa0\x80\"]")));
    ASSERT_TRUE(!fl_json_valid(FL_STR("[NaN]")));
    ASSERT_TRUE(!fl_json_valid(FL_STR("")));
    ASSERT_TRUE(!fl_json_valid(FL_STR("[1] [2]")));
    /* FL_JSON_DEPTH_MAX levels of nesting, and not one more. */
    memset(deep, '[', FL_JSON_DEPTH_MAX);
    memset(deep + FL_JSON_DEPTH_MAX, ']', FL_JSON_DEPTH_MAX);
    ASSERT_TRUE(fl_json_valid((struct fl_str){deep, 2 * FL_JSON_DEPTH_MAX}));
    memset(deep, '[', FL_JSON_DEPTH_MAX + 1);
    memset(deep + FL_JSON_DEPTH_MAX + 1, ']', FL_JSON_DEPTH_MAX + 1);
    ASSERT_TRUE(!fl_json_valid((struct fl_str){deep, 2 * FL_JSON_DEPTH_MAX + 2}));
}

/* An unknown key is quoted back cut at a character boundary, so the reply stays UTF-8. */
static void test_unknown_key_clipped(void)
{
    struct fl_json_field f[FL_PF__MAX];
    struct fl_buf body;

    fl_buf_init(&body, 0);
    fl_buf_puts(&body, "{\"x");
    for (int i = 0; i < 40; i++)
        fl_buf_puts(&body, "\xc3\xa9");
    fl_buf_puts(&body, "\":1}");
    ASSERT_EQ(parse(fl_buf_str(&body), f), FL_EINVAL);
    ASSERT_CONTAINS(detail.p, "unknown field 'x\xc3\xa9");
    ASSERT_TRUE(fl_utf8_valid(fl_buf_str(&detail)));
    fl_buf_free(&body);
}

/* Runs the product rules over body as an admin POST would; returns the problem or NULL. */
static const char *product(const char *body, struct fl_resp *resp)
{
    static const char *const env[] = {"REQUEST_METHOD=POST", "PATH_INFO=/products", NULL};
    struct fl_json_field f[FL_PF__MAX];
    struct fl_product_input in;
    struct fl_req req;

    fl_resp_reset(resp);
    fl_req_init(&req, arena, env, FL_STR(""), &detail);
    if (parse(fl_str_c(body), f) != FL_OK)
        return detail.p;
    if (fl_product_input_parse(&req, resp, f, 0, "data.", &in))
        return NULL;
    return resp->body.p;
}

/* Finding 8: "-0" was read through json-c as 0; names of nothing visible were taken. */
static void test_product_rules(void)
{
    struct fl_resp resp;

    fl_resp_init(&resp, 0);
    ASSERT_CONTAINS(product("{\"stock\":-0}", &resp), "data.stock must be an integer");
    ASSERT_CONTAINS(product("{\"price\":-0}", &resp), "data.price must be a decimal");
    ASSERT_CONTAINS(product("{\"price\":\"-0\"}", &resp), "data.price must be a decimal");
    ASSERT_CONTAINS(product("{\"price\":-0.00}", &resp), "data.price must be a decimal");
    ASSERT_CONTAINS(product("{\"name\":\"   \"}", &resp), "data.name must be visible");
    ASSERT_CONTAINS(product("{\"name\":\"\\u200b\"}", &resp), "data.name must be visible");
    ASSERT_CONTAINS(product("{\"name\":\" \xe2\x80\x8b\xe3\x80\x80\xef\xbb\xbf\"}", &resp),
                    "data.name must be visible");
    ASSERT_CONTAINS(product("{\"category\":\"\xe2\x80\x8b\"}", &resp),
                    "data.category must be visible");
    ASSERT_CONTAINS(product("{\"producer\":\"\\u2800\"}", &resp), "data.producer must be visible");
    ASSERT_NULL(product("{\"stock\":0,\"price\":0,\"name\":\"\\u200bKale\"}", &resp));
    ASSERT_NULL(product("{\"description\":\" \"}", &resp));
    fl_resp_free(&resp);
}

/* Returns the status fl_json_body leaves for Content-Type ct (200 when accepted). */
static int content_type(const char *ct)
{
    char var[128] = "CONTENT_TYPE=";
    const char *env[] = {"REQUEST_METHOD=POST", "PATH_INFO=/products", var, NULL};
    struct fl_resp resp;
    struct fl_req req;
    int status;

    strncat(var, ct, sizeof(var) - strlen(var) - 1);
    fl_resp_init(&resp, 0);
    fl_req_init(&req, arena, env, FL_STR(""), &detail);
    fl_json_body(&req, &resp);
    status = resp.status;
    fl_resp_free(&resp);
    return status;
}

/* Finding 8: any charset was taken, and the body then read as UTF-8 anyway. */
static void test_charset(void)
{
    ASSERT_EQ(content_type("application/json"), 200);
    ASSERT_EQ(content_type("Application/JSON"), 200);
    ASSERT_EQ(content_type("application/json; charset=utf-8"), 200);
    ASSERT_EQ(content_type("application/json;charset=\"UTF-8\""), 200);
    ASSERT_EQ(content_type("application/json; charset=latin1"), 415);
    ASSERT_EQ(content_type("application/json; charset=utf-16"), 415);
    ASSERT_EQ(content_type("application/json; charset=utf-8x"), 415);
    ASSERT_EQ(content_type("application/json; v=1"), 415);
    ASSERT_EQ(content_type("application/json;"), 415);
    ASSERT_EQ(content_type("application/jsonp"), 415);
    ASSERT_EQ(content_type("text/plain"), 415);
}

static void test_escape(void)
{
    struct fl_buf b;

    fl_buf_init(&b, 0);
    fl_json_str(&b, FL_STR("a\"b\\c\n\x01\x7f caf\xc3\xa9"));
    ASSERT_STREQ(b.p, "\"a\\\"b\\\\c\\n\\u0001\\u007f caf\xc3\xa9\"");
    fl_buf_reset(&b);
    fl_json_str(&b, FL_STR_NULL);
    ASSERT_STREQ(b.p, "\"\"");
    fl_buf_free(&b);
}

int main(void)
{
    test_escape();
    arena = fl_arena_new(1 << 20);
    fl_buf_init(&detail, 1024);
    test_strict_utf8();
    test_strict_grammar();
    test_valid();
    test_unknown_key_clipped();
    test_product_rules();
    test_charset();
    fl_buf_free(&detail);
    fl_arena_free(arena);
    return fl_test_done("test_json");
}
