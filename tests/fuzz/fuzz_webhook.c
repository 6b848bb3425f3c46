/* SPDX-License-Identifier: MIT */
/* Webhook headers: the input is split into id, timestamp, signatures and body at '\n'. */
#include <string.h>

#include "fl_webhook.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    struct fl_str part[4] = {FL_STR_NULL, FL_STR_NULL, FL_STR_NULL, FL_STR_NULL};
    const char *p = (const char *)data, *end = p + size;

    for (int i = 0; i < 4 && p <= end; i++) {
        const char *nl = i < 3 ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        part[i] = (struct fl_str){p, (size_t)((nl ? nl : end) - p)};
        p = nl ? nl + 1 : end + 1;
    }
    fl_webhook_verify(FL_STR("0123456789abcdef0123456789abcdef"), part[0], part[1], part[2],
                      part[3], 1790000000);
    return 0;
}
