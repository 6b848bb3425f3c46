/* SPDX-License-Identifier: MIT */
/* The request parser: arbitrary QUERY_STRING and REQUEST_URI bytes. */
#include <stdlib.h>
#include <string.h>

#include "fl_arena.h"
#include "fl_request.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const char *const allowed[] = {"limit", "cursor", "category", "q", NULL};
    static struct fl_arena *arena;
    char *query = malloc(size + 16), *uri = malloc(size + 16);
    const char *env[] = {"REQUEST_METHOD=GET", query, uri, "SCRIPT_NAME=", NULL};
    struct fl_buf detail;
    struct fl_req req;

    if (arena == NULL)
        arena = fl_arena_new(1 << 22);
    memcpy(query, "QUERY_STRING=", 13);
    memcpy(query + 13, data, size);
    query[13 + size] = '\0';
    memcpy(uri, "REQUEST_URI=/", 13);
    memcpy(uri + 13, data, size);
    uri[13 + size] = '\0';
    fl_buf_init(&detail, 1024);
    if (fl_req_init(&req, arena, env, FL_STR("/api"), &detail) == FL_OK)
        fl_req_parse_query(&req, allowed, &detail);
    fl_buf_free(&detail);
    fl_arena_reset(arena);
    free(query);
    free(uri);
    return 0;
}
