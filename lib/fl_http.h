/* SPDX-License-Identifier: MIT */
/*
 * The FastCGI (and one-shot CGI) transport: accepting a request, reading its body, writing
 * the response, finishing. The only module that includes libfcgi. It does not route,
 * parse queries or build responses; fl_request and fl_response do.
 */
#ifndef FL_HTTP_H
#define FL_HTTP_H

#include <stdbool.h>

#include "fl_err.h"
#include "fl_request.h"
#include "fl_response.h"

struct fl_http;

/*
 * Opens the transport on listen_fd (a listening socket: ours, or fd 0 from spawn-fcgi or
 * systemd), or, when listen_fd is -1, on this process's CGI environment for one request.
 * Returns NULL when out of memory. Free with fl_http_close().
 */
struct fl_http *fl_http_open(int listen_fd);

/* Closes the transport. Accepts NULL. */
void fl_http_close(struct fl_http *h);

/* True when fd 0 is a listening socket (FastCGI), false for CGI. */
bool fl_http_stdin_is_listener(void);

/*
 * Waits for the next request and returns its NAME=VALUE parameters in env (borrowed until
 * fl_http_finish). Returns FL_OK, or FL_EIO when there is none: accept failed, the CGI
 * request was already served, or fl_http_stop() was called and nothing is queued.
 */
enum fl_err fl_http_accept(struct fl_http *h, const char *const **env);

/* True when fl_http_accept has nothing more to give by design: stopped, or CGI served. */
bool fl_http_done(const struct fl_http *h);

/*
 * Reads the request body (req->content_length bytes) into req->body in req's arena.
 * Returns FL_OK; FL_ETOOBIG when content_length exceeds max_bytes (nothing is read);
 * FL_EINVAL when the body ends early; FL_ENOMEM.
 */
enum fl_err fl_http_read_body(struct fl_http *h, struct fl_req *req, size_t max_bytes);

/* Writes resp: status, content type and length, its headers, and the body unless HEAD. */
void fl_http_send(struct fl_http *h, const struct fl_req *req, const struct fl_resp *resp);

/* Ends the current request, releasing its parameters and connection. */
void fl_http_finish(struct fl_http *h);

/*
 * Async-signal-safe: from now on fl_http_accept hands out only the connections already
 * queued on the listening socket (for at most FL_HTTP_DRAIN_MAX_US), then returns FL_EIO.
 * So a worker waiting in accept leaves at once when nothing is queued, one serving a
 * request leaves after it, and a pool whose workers all stop refuses none of the requests
 * queued to it. Other processes sharing the socket are not affected.
 */
void fl_http_stop(struct fl_http *h);

/* How long a stopping worker keeps taking queued requests (the queue is never empty under
 * overload); its supervisor's own stop timeout is longer (master 30 s, systemd 90 s). */
#define FL_HTTP_DRAIN_MAX_US 10000000

#endif
