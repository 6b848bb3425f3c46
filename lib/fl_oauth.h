/* SPDX-License-Identifier: MIT */
/*
 * OAuth2 client credentials (RFC 6749 section 4.4) for the upstream services. The token is
 * cached in this process and in Redis until expires_in minus a skew of min(60 s, 10%). When
 * it must be renewed, exactly one process among all sharing the Redis fetches it: a Redis
 * lock (SET NX PX, random value, compare-and-delete release) elects the fetcher, the others
 * wait for the token it publishes and never call the provider. Tokens and secrets are
 * never logged.
 */
#ifndef FL_OAUTH_H
#define FL_OAUTH_H

#include <stdint.h>

#include "fl_arena.h"
#include "fl_config.h"
#include "fl_err.h"
#include "fl_httpc.h"
#include "fl_redis.h"
#include "fl_str.h"

struct fl_oauth;

/* Returns a token cache for cfg's provider (borrowed, must outlive it), or NULL. */
struct fl_oauth *fl_oauth_new(const struct fl_config *cfg);

/* Frees it. Accepts NULL. */
void fl_oauth_free(struct fl_oauth *o);

/*
 * Returns a valid access token in out (valid until the next call), fetching or waiting for
 * one no later than deadline_us (monotonic). Returns FL_OK; FL_ETIMEOUT when the deadline
 * passed; FL_EAUTH when the provider refused our credentials; FL_EUPSTREAM when it failed.
 */
enum fl_err fl_oauth_token(struct fl_oauth *o, struct fl_redis *r, struct fl_httpc *http,
                           struct fl_arena *arena, int64_t deadline_us, struct fl_str *out);

/*
 * Asks the provider for a token now, whatever is cached, so a check reaches the token URL
 * (farmlokal-ctl check-config --connect); the token is kept as fl_oauth_token keeps one.
 * Returns FL_OK; FL_EAUTH when the provider refused our credentials; FL_ETIMEOUT when the
 * deadline passed; FL_EUPSTREAM when it failed.
 */
enum fl_err fl_oauth_probe(struct fl_oauth *o, struct fl_redis *r, struct fl_httpc *http,
                           struct fl_arena *arena, int64_t deadline_us);

/* Forgets token (an upstream answered 401 with it), here and in Redis if still shared. */
void fl_oauth_drop(struct fl_oauth *o, struct fl_redis *r, struct fl_arena *arena,
                   struct fl_str token);

/* Token requests this process made to the provider. */
uint64_t fl_oauth_fetches(const struct fl_oauth *o);

#endif
