/* SPDX-License-Identifier: MIT */
/*
 * The fields of a product as clients send them in JSON (admin writes, webhooks), and the
 * one set of rules that validates them, so both paths accept exactly the same values.
 */
#ifndef FL_PRODUCT_INPUT_H
#define FL_PRODUCT_INPUT_H

#include <stdbool.h>

#include "fl_catalog_write.h"
#include "fl_json.h"
#include "fl_request.h"
#include "fl_response.h"

enum fl_pfield {
    FL_PF_SKU,
    FL_PF_NAME,
    FL_PF_DESCRIPTION,
    FL_PF_CATEGORY,
    FL_PF_PRICE,
    FL_PF_UNIT,
    FL_PF_STOCK,
    FL_PF_PRODUCER,
    FL_PF__MAX
};

/* The fields POST /products must have. */
#define FL_PF_REQUIRED_ON_CREATE                                                                   \
    (1u << FL_PF_SKU | 1u << FL_PF_NAME | 1u << FL_PF_CATEGORY | 1u << FL_PF_PRICE |               \
     1u << FL_PF_UNIT | 1u << FL_PF_PRODUCER)

/* Names f[0..FL_PF__MAX) for fl_json_parse_object, in enum order. */
void fl_pfields_init(struct fl_json_field f[FL_PF__MAX]);

/*
 * True when the request's Content-Type is application/json with no parameter but an optional
 * charset=utf-8; else a 415 is in resp.
 */
bool fl_json_body(const struct fl_req *req, struct fl_resp *resp);

/*
 * Validates the parsed fields f (FL_JSON_MISSING: not sent) into in, borrowing f's text.
 * Fields in the required bitmask must be present, and at least one field must be. prefix
 * goes before field names in messages ("data."). Returns false with a 400 in resp.
 */
bool fl_product_input_parse(const struct fl_req *req, struct fl_resp *resp,
                            const struct fl_json_field f[FL_PF__MAX], unsigned required,
                            const char *prefix, struct fl_product_input *in);

#endif
