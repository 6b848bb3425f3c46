/* SPDX-License-Identifier: MIT */
/*
 * The one error vocabulary of FarmLokal. Fallible functions return an enum fl_err and hand
 * results through out-parameters. Mapping an error to an HTTP status is the response
 * module's business, not this one's.
 */
#ifndef FL_ERR_H
#define FL_ERR_H

enum fl_err {
    FL_OK = 0,
    FL_EINVAL,    /* the input is malformed or out of range */
    FL_ENOTFOUND, /* the thing asked for does not exist */
    FL_ECONFLICT, /* a uniqueness rule would be broken */
    FL_ETOOBIG,   /* a size cap was hit */
    FL_EAUTH,     /* credentials or signature refused */
    FL_ETIMEOUT,  /* a deadline ran out */
    FL_EDB,       /* MySQL failed or is unreachable */
    FL_ECACHE,    /* Redis failed or is unreachable */
    FL_EUPSTREAM, /* an upstream HTTP service failed */
    FL_ENOMEM,    /* allocation failed */
    FL_EIO,       /* a local read or write failed */
    FL_ELIMITED,  /* the client is over its rate limit */
    FL_EUNAVAIL,  /* a dependency refuses calls for now (a circuit breaker is open) */
    FL_ERR__MAX
};

/* Returns a short static English description of err; never NULL. */
const char *fl_strerror(enum fl_err err);

#endif
