/* SPDX-License-Identifier: MIT */
/* Text for the error codes of fl_err.h. */
#include "fl_err.h"

static const char *const texts[FL_ERR__MAX] = {
    [FL_OK] = "success",
    [FL_EINVAL] = "invalid input",
    [FL_ENOTFOUND] = "not found",
    [FL_ECONFLICT] = "conflict",
    [FL_ETOOBIG] = "too large",
    [FL_EAUTH] = "not authorised",
    [FL_ETIMEOUT] = "timed out",
    [FL_EDB] = "database error",
    [FL_ECACHE] = "cache error",
    [FL_EUPSTREAM] = "upstream error",
    [FL_ENOMEM] = "out of memory",
    [FL_EIO] = "i/o error",
    [FL_ELIMITED] = "rate limited",
    [FL_EUNAVAIL] = "unavailable for now",
};

const char *fl_strerror(enum fl_err err)
{
    if ((unsigned)err >= FL_ERR__MAX || texts[err] == 0)
        return "unknown error";
    return texts[err];
}
