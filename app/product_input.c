/* SPDX-License-Identifier: MIT */
/* Product field validation; see product_input.h. */
#include "product_input.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fl_catalog.h"

static const struct {
    const char *name;
    size_t max_chars; /* for text fields */
} rules[FL_PF__MAX] = {
    [FL_PF_SKU] = {"sku", 64},
    [FL_PF_NAME] = {"name", 200},
    [FL_PF_DESCRIPTION] = {"description", 2000},
    [FL_PF_CATEGORY] = {"category", 64},
    [FL_PF_PRICE] = {"price", 0},
    [FL_PF_UNIT] = {"unit", 32},
    [FL_PF_STOCK] = {"stock", 0},
    [FL_PF_PRODUCER] = {"producer", 200},
};

void fl_pfields_init(struct fl_json_field f[FL_PF__MAX])
{
    for (int i = 0; i < FL_PF__MAX; i++)
        f[i] = (struct fl_json_field){rules[i].name, FL_JSON_MISSING, FL_STR_NULL};
}

/* True when params (what follows the media type) is empty or exactly charset=utf-8. */
static bool utf8_params(const char *p)
{
    bool quoted;

    p += strspn(p, " \t");
    if (*p == '\0')
        return true;
    if (*p++ != ';')
        return false;
    p += strspn(p, " \t");
    if (strncasecmp(p, "charset=", 8) != 0)
        return false;
    p += 8;
    quoted = *p == '"';
    p += quoted;
    if (strncasecmp(p, "utf-8", 5) != 0)
        return false;
    p += 5;
    if (quoted && *p++ != '"')
        return false;
    return p[strspn(p, " \t")] == '\0';
}

bool fl_json_body(const struct fl_req *req, struct fl_resp *resp)
{
    const char *ct = fl_req_env(req, "CONTENT_TYPE");

    if (ct && strncasecmp(ct, "application/json", 16) == 0 && utf8_params(ct + 16))
        return true;
    fl_resp_problem(resp, req, 415, NULL,
                    "the body must be application/json in UTF-8 (charset=utf-8 or none)");
    return false;
}

static bool sku_ok(struct fl_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static struct fl_str *text_slot(struct fl_product_input *in, int i)
{
    switch (i) {
    case FL_PF_SKU:
        return &in->sku;
    case FL_PF_NAME:
        return &in->name;
    case FL_PF_DESCRIPTION:
        return &in->description;
    case FL_PF_CATEGORY:
        return &in->category;
    case FL_PF_UNIT:
        return &in->unit;
    default:
        return &in->producer;
    }
}

/* Checks one field; returns NULL when valid, else what it must be. */
static const char *check(const struct fl_req *req, int i, const struct fl_json_field *v,
                         struct fl_product_input *in)
{
    struct fl_str t = v->text;
    size_t chars;
    int64_t cents;
    char *norm;

    switch (i) {
    case FL_PF_STOCK:
        if (v->type != FL_JSON_NUMBER || fl_str_to_u64(t, 0, 4294967295u, &in->stock) != FL_OK)
            return "an integer from 0 to 4294967295";
        in->has_stock = true;
        return NULL;
    case FL_PF_PRICE:
        if ((v->type != FL_JSON_STRING && v->type != FL_JSON_NUMBER) ||
            fl_str_to_cents(t, FL_CATALOG_PRICE_MAX_CENTS, &cents) != FL_OK)
            return "a decimal with at most 2 decimals, from 0 to 99999999.99";
        if ((norm = fl_arena_alloc(req->arena, 24)) == NULL)
            return "storable (out of memory)";
        snprintf(norm, 24, "%lld.%02lld", (long long)(cents / 100), (long long)(cents % 100));
        in->price = fl_str_c(norm);
        return NULL;
    default:
        break;
    }
    chars = fl_utf8_count(t);
    if (v->type != FL_JSON_STRING || chars > rules[i].max_chars ||
        (chars == 0 && i != FL_PF_DESCRIPTION))
        return i == FL_PF_DESCRIPTION ? "a string of at most 2000 characters"
                                      : "a non-empty string within the length limit";
    if (i == FL_PF_DESCRIPTION ? memchr(t.p, '\0', t.len) != NULL : fl_str_has_control(t))
        return "free of control characters";
    if (i != FL_PF_DESCRIPTION && fl_utf8_blank(t))
        return "visible: not only spaces or invisible characters";
    if (i == FL_PF_CATEGORY && memchr(t.p, ',', t.len))
        return "a name without commas";
    if (i == FL_PF_SKU && !sku_ok(t))
        return "made of letters, digits, '-', '_' and '.'";
    *text_slot(in, i) = t;
    return NULL;
}

bool fl_product_input_parse(const struct fl_req *req, struct fl_resp *resp,
                            const struct fl_json_field f[FL_PF__MAX], unsigned required,
                            const char *prefix, struct fl_product_input *in)
{
    bool any = false;

    memset(in, 0, sizeof(*in));
    for (int i = 0; i < FL_PF__MAX; i++) {
        const char *why;
        if (f[i].type == FL_JSON_MISSING) {
            if (required & (1u << i)) {
                fl_resp_problem(resp, req, 400, "invalid-body", "%s%s is required", prefix,
                                rules[i].name);
                return false;
            }
            continue;
        }
        any = true;
        if ((why = check(req, i, &f[i], in)) != NULL) {
            fl_resp_problem(resp, req, 400, "invalid-body", "%s%s must be %s", prefix,
                            rules[i].name, why);
            return false;
        }
    }
    if (!any)
        fl_resp_problem(resp, req, 400, "invalid-body", "the body changes no field");
    return any;
}
