/* SPDX-License-Identifier: MIT */
/*
 * The least a FastCGI responder can do, as the benches' yardstick: libfcgi's accept loop
 * answering every request with the bytes of the file FL_BENCH_BODY, read once at start. It
 * parses nothing and asks nothing of MySQL or Redis, and closes each connection at once as
 * lib/fl_http.c does (not with libfcgi's linger, which costs a third of the throughput), so
 * nginx + FastCGI with it in place of the app is the most this architecture serves here.
 * Run by tests/bench/bench.py under spawn-fcgi on the app's socket (listener on fd 0).
 */
#include <fcgiapp.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define BODY_MAX_BYTES ((size_t)1 << 20)

static char body[BODY_MAX_BYTES];

int main(void)
{
    const char *path = getenv("FL_BENCH_BODY");
    FCGX_Request req;
    FILE *f;
    size_t len;

    if (path == NULL || (f = fopen(path, "rb")) == NULL) {
        fprintf(stderr, "fcgi_minimal: set FL_BENCH_BODY to a readable file\n");
        return 2;
    }
    len = fread(body, 1, sizeof(body), f);
    fclose(f);
    if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
        return 1;
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_PutS("Status: 200 OK\r\nContent-Type: application/json\r\n\r\n", req.out);
        FCGX_PutStr(body, (int)len, req.out);
        req.keepConnection = 1; /* libfcgi: finish without closing; we close at once */
        FCGX_Finish_r(&req);
        close(req.ipcFd);
        req.ipcFd = -1;
    }
    return 0;
}
