/* SPDX-License-Identifier: MIT */
/*
 * Request parsing. Query strings are parsed strictly: every name and value is
 * percent-decoded once, must be UTF-8 without control characters, and must be one the route
 * accepts, exactly once. Limits are checked before anything is allocated.
 */
#include "fl_request.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "fl_crypto.h"

static const char *const method_names[FL_METHOD__MAX] = {
    [FL_METHOD_GET] = "GET",         [FL_METHOD_HEAD] = "HEAD",   [FL_METHOD_POST] = "POST",
    [FL_METHOD_PUT] = "PUT",         [FL_METHOD_PATCH] = "PATCH", [FL_METHOD_DELETE] = "DELETE",
    [FL_METHOD_OPTIONS] = "OPTIONS", [FL_METHOD_OTHER] = "OTHER",
};

const char *fl_method_name(enum fl_method m)
{
    return (unsigned)m < FL_METHOD__MAX ? method_names[m] : "OTHER";
}

const char *fl_req_env(const struct fl_req *req, const char *name)
{
    size_t n = strlen(name);

    /* The first byte first: most of the 30-odd parameters differ there, and this runs a
     * few times per parameter per request. */
    for (const char *const *e = req->env; e && *e; e++) {
        if ((*e)[0] == name[0] && strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    }
    return NULL;
}

bool fl_req_not_modified(const struct fl_req *req, struct fl_str etag)
{
    const char *inm = fl_req_env(req, "HTTP_IF_NONE_MATCH");
    struct fl_str s = fl_str_c(inm);

    if (inm == NULL)
        return false;
    if (fl_str_eq(s, FL_STR("*")))
        return true;
    for (size_t i = 0; i + etag.len <= s.len; i++) {
        if (memcmp(s.p + i, etag.p, etag.len) == 0)
            return true;
    }
    return false;
}

static enum fl_method parse_method(const char *m)
{
    for (int i = 0; m && i < FL_METHOD_OTHER; i++) {
        if (strcmp(m, method_names[i]) == 0)
            return (enum fl_method)i;
    }
    return FL_METHOD_OTHER;
}

/* Takes the client's X-Request-Id when it is 1-128 visible ASCII bytes, else makes one. */
static void set_request_id(struct fl_req *req)
{
    const char *in = fl_req_env(req, "HTTP_X_REQUEST_ID");
    size_t n = in ? strlen(in) : 0;
    bool ok = n >= 1 && n <= FL_REQ_ID_MAX_BYTES;

    for (size_t i = 0; ok && i < n; i++)
        ok = in[i] > 0x20 && in[i] < 0x7f;
    if (ok) {
        memcpy(req->id, in, n + 1);
        return;
    }
    /* Uniqueness is best effort: a request is never refused for want of an id. */
    fl_crypto_random_hex(12, req->id);
}

static struct fl_str strip_slashes(struct fl_str s)
{
    while (s.len > 0 && s.p[s.len - 1] == '/')
        s.len--;
    return s;
}

static enum fl_err set_path(struct fl_req *req, struct fl_str base_path, struct fl_buf *detail)
{
    const char *script = fl_req_env(req, "SCRIPT_NAME");
    const char *info = fl_req_env(req, "PATH_INFO");
    const char *uri = fl_req_env(req, "REQUEST_URI");
    struct fl_str path = FL_STR("/");

    req->prefix = script && *script ? strip_slashes(fl_str_c(script)) : base_path;
    if (info && *info) {
        path = fl_str_c(info);
    } else if (uri && *uri) {
        const char *q = strchr(uri, '?');
        size_t n = q ? (size_t)(q - uri) : strlen(uri), len;
        char *p;

        if (n > FL_REQ_PATH_MAX_BYTES) {
            fl_buf_puts(detail, "the path is too long");
            return FL_EINVAL;
        }
        p = fl_arena_alloc(req->arena, n + 1);
        if (p == NULL)
            return FL_ENOMEM;
        if (fl_str_unescape((struct fl_str){uri, n}, false, p, &len) != FL_OK) {
            fl_buf_puts(detail, "the path has malformed percent-encoding");
            return FL_EINVAL;
        }
        path = (struct fl_str){p, len};
        if (fl_str_has_prefix(path, req->prefix) &&
            (path.len == req->prefix.len || path.p[req->prefix.len] == '/')) {
            path.p += req->prefix.len;
            path.len -= req->prefix.len;
        }
        if (path.len == 0)
            path = FL_STR("/");
    }
    req->path = path;
    if (path.len > FL_REQ_PATH_MAX_BYTES || path.p[0] != '/' || !fl_utf8_valid(path) ||
        memchr(path.p, '\0', path.len)) {
        req->path = FL_STR("/");
        fl_buf_puts(detail, "the path is not a valid UTF-8 URL path");
        return FL_EINVAL;
    }
    return FL_OK;
}

enum fl_err fl_req_init(struct fl_req *req, struct fl_arena *arena, const char *const *env,
                        struct fl_str base_path, struct fl_buf *detail)
{
    const char *cl;
    enum fl_err err;

    memset(req, 0, sizeof(*req));
    req->arena = arena;
    req->env = env;
    req->method = parse_method(fl_req_env(req, "REQUEST_METHOD"));
    req->query = fl_str_c(fl_req_env(req, "QUERY_STRING"));
    if (req->query.p == NULL)
        req->query = FL_STR("");
    set_request_id(req);
    err = set_path(req, base_path, detail);
    if (err != FL_OK)
        return err;
    cl = fl_req_env(req, "CONTENT_LENGTH");
    if (cl && *cl &&
        fl_str_to_u64(fl_str_c(cl), 0, UINT64_MAX / 2, &req->content_length) != FL_OK) {
        fl_buf_puts(detail, "Content-Length is not a number");
        return FL_EINVAL;
    }
    return FL_OK;
}

int64_t fl_req_queued_ms(const struct fl_req *req, int64_t now_ms)
{
    const char *start = fl_req_env(req, "FL_REQUEST_START"), *dot;
    size_t n_int, n_frac = 0;
    uint64_t s, ms = 0;

    if (start == NULL)
        return -1;
    dot = strchr(start, '.');
    n_int = dot ? (size_t)(dot - start) : strlen(start);
    if (fl_str_to_u64((struct fl_str){start, n_int}, 0, (uint64_t)INT64_MAX / 1000 - 1, &s) !=
        FL_OK)
        return -1;
    /* Milliseconds, leading zeros included ("0.005"): digits, not a number. */
    for (const char *f = dot ? dot + 1 : ""; *f; f++, n_frac++) {
        if (n_frac == 3 || *f < '0' || *f > '9')
            return -1;
        ms = ms * 10 + (uint64_t)(*f - '0');
    }
    for (; n_frac < 3; n_frac++)
        ms *= 10;
    ms += s * 1000;
    return now_ms > (int64_t)ms ? now_ms - (int64_t)ms : 0;
}

int64_t fl_req_edge_ttl_s(const struct fl_req *req)
{
    uint64_t ttl_s;

    if (fl_str_to_u64(fl_str_c(fl_req_env(req, "FL_EDGE_TTL_S")), 1, FL_REQ_EDGE_TTL_MAX_S,
                      &ttl_s) != FL_OK)
        return 0;
    return (int64_t)ttl_s;
}

/* True when one Accept-Encoding element ("gzip;q=0.5") takes gzip. */
static bool takes_gzip(struct fl_str item)
{
    const char *semi = memchr(item.p, ';', item.len);
    struct fl_str coding =
        fl_str_trim((struct fl_str){item.p, semi ? (size_t)(semi - item.p) : item.len});
    struct fl_str q;

    if (!(coding.len == 4 && strncasecmp(coding.p, "gzip", 4) == 0) &&
        !(coding.len == 6 && strncasecmp(coding.p, "x-gzip", 6) == 0))
        return false;
    if (semi == NULL)
        return true;
    q = fl_str_trim((struct fl_str){semi + 1, item.len - (size_t)(semi + 1 - item.p)});
    if (q.len < 2 || (q.p[0] != 'q' && q.p[0] != 'Q') || q.p[1] != '=')
        return true; /* another parameter: the default q=1 */
    /* q=0, 0., 0.0, 0.00, 0.000 refuse; any other weight takes it. */
    for (size_t i = 2; i < q.len; i++) {
        if (q.p[i] != '0' && !(i == 3 && q.p[i] == '.'))
            return true;
    }
    return false;
}

bool fl_req_accepts_gzip(const struct fl_req *req)
{
    struct fl_str ae = fl_str_c(fl_req_env(req, "HTTP_ACCEPT_ENCODING"));

    for (size_t i = 0; i < ae.len;) {
        const char *comma = memchr(ae.p + i, ',', ae.len - i);
        size_t end = comma ? (size_t)(comma - ae.p) : ae.len;

        if (takes_gzip((struct fl_str){ae.p + i, end - i}))
            return true;
        i = end + 1;
    }
    return false;
}

/* Decodes one "name[=value]" part into an arena copy. */
static enum fl_err decode_part(struct fl_req *req, struct fl_str raw, struct fl_str *out,
                               struct fl_buf *detail)
{
    char *p = fl_arena_alloc(req->arena, raw.len + 1);
    size_t len;

    if (p == NULL)
        return FL_ENOMEM;
    if (fl_str_unescape(raw, true, p, &len) != FL_OK) {
        fl_buf_puts(detail, "the query string has malformed percent-encoding");
        return FL_EINVAL;
    }
    p[len] = '\0';
    *out = (struct fl_str){p, len};
    if (!fl_utf8_valid(*out)) {
        fl_buf_puts(detail, "the query string is not valid UTF-8");
        return FL_EINVAL;
    }
    if (fl_str_has_control(*out)) {
        fl_buf_puts(detail, "the query string contains control characters");
        return FL_EINVAL;
    }
    return FL_OK;
}

static bool is_allowed(struct fl_str name, const char *const *allowed)
{
    for (; allowed && *allowed; allowed++) {
        if (fl_str_eq(name, fl_str_c(*allowed)))
            return true;
    }
    return false;
}

enum fl_err fl_req_parse_query(struct fl_req *req, const char *const *allowed,
                               struct fl_buf *detail)
{
    struct fl_str q = req->query;
    size_t n = 0;
    enum fl_err err;

    if (q.len > FL_REQ_QUERY_MAX_BYTES) {
        fl_buf_appendf(detail, "the query string is over %d bytes", FL_REQ_QUERY_MAX_BYTES);
        return FL_ETOOBIG;
    }
    for (size_t i = 0; i < q.len; i++)
        n += q.p[i] == '&';
    if (n + 1 > FL_REQ_PARAMS_MAX) {
        /* Count the non-empty parts only when the cheap bound says there may be too many. */
        n = 0;
        for (size_t i = 0; i < q.len; i++)
            n += q.p[i] != '&' && (i + 1 == q.len || q.p[i + 1] == '&');
        if (n > FL_REQ_PARAMS_MAX) {
            fl_buf_appendf(detail, "the query string has more than %d parameters",
                           FL_REQ_PARAMS_MAX);
            return FL_ETOOBIG;
        }
    }
    req->params = fl_arena_alloc(req->arena, sizeof(*req->params) * (n + 1));
    if (req->params == NULL)
        return FL_ENOMEM;
    req->n_params = 0;
    for (size_t i = 0; i < q.len;) {
        const char *amp = memchr(q.p + i, '&', q.len - i);
        size_t end = amp ? (size_t)(amp - q.p) : q.len;
        struct fl_str part = {q.p + i, end - i}, rawname = part, rawvalue = FL_STR("");
        const char *eq = memchr(part.p, '=', part.len);
        struct fl_param *prm = &req->params[req->n_params];

        i = end + 1;
        if (part.len == 0)
            continue;
        if (eq) {
            rawname.len = (size_t)(eq - part.p);
            rawvalue = (struct fl_str){eq + 1, part.len - rawname.len - 1};
        }
        if ((err = decode_part(req, rawname, &prm->name, detail)) != FL_OK ||
            (err = decode_part(req, rawvalue, &prm->value, detail)) != FL_OK)
            return err;
        if (!is_allowed(prm->name, allowed)) {
            fl_buf_puts(detail, "unknown parameter '");
            fl_buf_put(detail, fl_utf8_clip(prm->name, 64)); /* quote at most 64 bytes */
            fl_buf_puts(detail, "'");
            return FL_EINVAL;
        }
        if (fl_req_param(req, prm->name.p) != NULL) {
            fl_buf_appendf(detail, "parameter '%s' is repeated", prm->name.p);
            return FL_EINVAL;
        }
        req->n_params++;
    }
    return FL_OK;
}

const struct fl_str *fl_req_param(const struct fl_req *req, const char *name)
{
    struct fl_str n = fl_str_c(name);

    for (size_t i = 0; i < req->n_params; i++) {
        if (fl_str_eq(req->params[i].name, n))
            return &req->params[i].value;
    }
    return NULL;
}

/* True when text is an address inside one of the n ranges of trusted. */
static bool trusted_addr(const struct fl_cidr *trusted, size_t n, struct fl_str text)
{
    unsigned char addr[16];
    char buf[64];
    int family;

    if (text.len == 0 || text.len >= sizeof(buf))
        return false;
    memcpy(buf, text.p, text.len);
    buf[text.len] = '\0';
    family = strchr(buf, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(family, buf, addr) != 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        const struct fl_cidr *c = &trusted[i];
        unsigned bits = c->prefix_bits, whole = bits / 8, rest = bits % 8;
        if (c->family != family || memcmp(addr, c->addr, whole) != 0)
            continue;
        if (rest == 0 || ((addr[whole] ^ c->addr[whole]) & (0xff << (8 - rest))) == 0)
            return true;
    }
    return false;
}

struct fl_str fl_req_client_addr(const struct fl_req *req, const struct fl_cidr *trusted, size_t n)
{
    struct fl_str client = fl_str_c(fl_req_env(req, "REMOTE_ADDR"));
    struct fl_str list = fl_str_c(fl_req_env(req, "HTTP_X_FORWARDED_FOR"));

    if (!trusted_addr(trusted, n, client))
        return client;
    /* Walk from the nearest hop; the first one we do not trust is the client. */
    while (list.len > 0) {
        const char *comma = memrchr(list.p, ',', list.len);
        struct fl_str hop =
            comma ? (struct fl_str){comma + 1, list.len - (size_t)(comma + 1 - list.p)} : list;

        list.len = comma ? (size_t)(comma - list.p) : 0;
        hop = fl_str_trim(hop);
        if (hop.len == 0)
            continue;
        client = hop;
        if (!trusted_addr(trusted, n, hop))
            break;
    }
    return client;
}
