/* SPDX-License-Identifier: MIT */
/*
 * /products: the listing (validated parameters, cache, keyset pages, Link and ETag), one
 * product, and the admin writes. Parsing and rendering live here; the queries live in the
 * catalog service and the cache in the cache service.
 */
#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fl_cache.h"
#include "fl_catalog.h"
#include "fl_listing.h"
#include "fl_crypto.h"
#include "fl_gzip.h"
#include "fl_json.h"
#include "fl_memo.h"
#include "fl_metrics.h"
#include "fl_search.h"
#include "fl_time.h"
#include "product_input.h"

#define SEARCH_MAX_CHARS 100
#define LIMIT_DEFAULT    20

/* ---- rendering ---- */

static void render_product(struct fl_buf *b, const struct fl_product *p)
{
    fl_buf_appendf(b, "{\"id\":%llu,\"sku\":", (unsigned long long)p->id);
    fl_json_str(b, p->sku);
    fl_buf_puts(b, ",\"name\":");
    fl_json_str(b, p->name);
    fl_buf_puts(b, ",\"description\":");
    fl_json_str(b, p->description);
    fl_buf_puts(b, ",\"category\":");
    fl_json_str(b, p->category);
    fl_buf_puts(b, ",\"price\":");
    fl_json_str(b, p->price);
    fl_buf_puts(b, ",\"unit\":");
    fl_json_str(b, p->unit);
    fl_buf_appendf(b, ",\"stock\":%llu,\"producer\":", (unsigned long long)p->stock);
    fl_json_str(b, p->producer);
    fl_buf_puts(b, ",\"created_at\":");
    fl_json_str(b, p->created_at);
    fl_buf_puts(b, ",\"updated_at\":");
    fl_json_str(b, p->updated_at);
    fl_buf_putc(b, '}');
}

static void render_one_body(struct fl_buf *body, const struct fl_product *p)
{
    fl_buf_puts(body, "{\"status\":\"success\",\"data\":");
    render_product(body, p);
    fl_buf_puts(body, "}\n");
}

static void render_one(struct fl_resp *resp, int status, const struct fl_product *p)
{
    resp->status = status;
    resp->content_type = FL_CT_JSON;
    render_one_body(&resp->body, p);
}

/* ---- listing parameters ---- */

static const char sort_names[] = "newest, oldest, price_asc, price_desc, name_asc";

static bool bad(struct fl_resp *resp, const struct fl_req *req, const char *slug,
                const char *detail)
{
    fl_resp_problem(resp, req, 400, slug, "%s", detail);
    return false;
}

static bool parse_price(struct fl_resp *resp, const struct fl_req *req, const char *name,
                        int64_t *out)
{
    const struct fl_str *v = fl_req_param(req, name);
    char detail[160];

    if (v == NULL)
        return true;
    if (fl_str_to_cents(*v, FL_CATALOG_PRICE_MAX_CENTS, out) == FL_OK)
        return true;
    snprintf(detail, sizeof(detail),
             "%s must be a decimal with at most 2 decimals, from 0 to 99999999.99", name);
    return bad(resp, req, "invalid-parameter", detail);
}

/*
 * Splits "a,b" into distinct, sorted categories. Every element counts against the limit,
 * repeated or not: the Link header echoes them all.
 */
static bool parse_categories(struct fl_resp *resp, const struct fl_req *req, struct fl_listing *q)
{
    const struct fl_str *v = fl_req_param(req, "category");
    size_t at = 0;

    if (v == NULL)
        return true;
    for (size_t n = 1;; n++) {
        const char *comma = memchr(v->p + at, ',', v->len - at);
        struct fl_str c = {v->p + at, comma ? (size_t)(comma - v->p) - at : v->len - at};
        bool dup = false;

        if (c.len == 0 || c.len > FL_CATALOG_CATEGORY_MAX_BYTES)
            return bad(resp, req, "invalid-parameter",
                       "category must be a comma-separated list of 1 to 20 names of 1 to 64 "
                       "bytes");
        if (n > FL_CATALOG_CATEGORIES_MAX)
            return bad(resp, req, "invalid-parameter", "category may list at most 20 categories");
        for (size_t i = 0; i < q->n_categories; i++)
            dup = dup || fl_str_eq(q->categories[i], c);
        if (!dup)
            q->categories[q->n_categories++] = c;
        if (comma == NULL)
            break;
        at = (size_t)(comma - v->p) + 1;
    }
    qsort(q->categories, q->n_categories, sizeof(q->categories[0]), fl_str_cmp);
    return true;
}

struct word_collector {
    struct fl_listing *q;
    struct fl_arena *arena;
    bool too_many;
};

static int collect_word(void *ud, struct fl_str w)
{
    struct word_collector *c = ud;

    for (size_t i = 0; i < c->q->n_words; i++)
        if (fl_str_eq(c->q->words[i], w))
            return 0;
    if (c->q->n_words == FL_CATALOG_WORDS_MAX) {
        c->too_many = true;
        return 1;
    }
    c->q->words[c->q->n_words] = fl_arena_strdup(c->arena, w);
    if (c->q->words[c->q->n_words].p == NULL) {
        c->too_many = true;
        return 1;
    }
    c->q->n_words++;
    return 0;
}

static bool parse_search(struct fl_resp *resp, const struct fl_req *req, struct fl_listing *q)
{
    const struct fl_str *s = fl_req_param(req, "search"), *alias = fl_req_param(req, "q");
    struct word_collector c = {q, req->arena, false};

    if (s && alias)
        return bad(resp, req, "invalid-parameter", "use search or q, not both");
    if (s == NULL)
        s = alias;
    if (s == NULL)
        return true;
    if (fl_utf8_count(*s) > SEARCH_MAX_CHARS)
        return bad(resp, req, "invalid-parameter", "search must be at most 100 characters");
    fl_search_words(*s, collect_word, &c);
    if (c.too_many)
        return bad(resp, req, "invalid-parameter", "search may have at most 16 distinct words");
    if (q->n_words == 0)
        return bad(resp, req, "invalid-parameter",
                   "search must contain a word (letters or digits)");
    qsort(q->words, q->n_words, sizeof(q->words[0]), fl_str_cmp);
    return true;
}

static bool parse_listing(struct fl_resp *resp, const struct fl_req *req, struct fl_listing *q)
{
    const struct fl_str *v;
    uint64_t limit = LIMIT_DEFAULT;

    memset(q, 0, sizeof(*q));
    q->max_cents = FL_CATALOG_PRICE_MAX_CENTS;
    v = fl_req_param(req, "limit");
    if (v && fl_str_to_u64(*v, 1, FL_CATALOG_LIMIT_MAX, &limit) != FL_OK)
        return bad(resp, req, "invalid-parameter", "limit must be an integer from 1 to 100");
    q->limit = (unsigned)limit;
    v = fl_req_param(req, "sort");
    if (v && fl_sort_parse(*v, &q->sort) != FL_OK) {
        fl_resp_problem(resp, req, 400, "invalid-parameter", "sort must be one of %s", sort_names);
        return false;
    }
    if (!parse_categories(resp, req, q) || !parse_price(resp, req, "minPrice", &q->min_cents) ||
        !parse_price(resp, req, "maxPrice", &q->max_cents) || !parse_search(resp, req, q))
        return false;
    if (q->min_cents > q->max_cents)
        return bad(resp, req, "invalid-parameter", "minPrice must not be greater than maxPrice");
    v = fl_req_param(req, "cursor");
    if (v) {
        if (fl_cursor_decode(*v, req->arena, &q->after) != FL_OK)
            return bad(resp, req, "invalid-cursor", "invalid cursor");
        if (q->after.sort != q->sort) {
            fl_resp_problem(resp, req, 400, "invalid-cursor",
                            "invalid cursor: it was made for sort=%s", fl_sort_name(q->after.sort));
            return false;
        }
        q->has_cursor = true;
    }
    return true;
}

/* ---- the listing ---- */

/* True when a raw "name=value" part is the cursor, however its name was encoded. */
static bool is_cursor(struct fl_str part)
{
    const char *eq = memchr(part.p, '=', part.len);
    struct fl_str name = {part.p, eq ? (size_t)(eq - part.p) : part.len};
    char decoded[16];
    size_t n;

    return name.len <= sizeof(decoded) && fl_str_unescape(name, true, decoded, &n) == FL_OK &&
           fl_str_eq((struct fl_str){decoded, n}, FL_STR("cursor"));
}

/* Appends the client's query without its cursor, re-escaping what is unsafe in a URL. */
static void query_without_cursor(const struct fl_req *req, struct fl_buf *out)
{
    struct fl_str q = req->query;
    bool first = true;

    for (size_t i = 0; i < q.len;) {
        const char *amp = memchr(q.p + i, '&', q.len - i);
        size_t end = amp ? (size_t)(amp - q.p) : q.len;
        struct fl_str part = {q.p + i, end - i};

        i = end + 1;
        if (part.len == 0 || is_cursor(part))
            continue;
        if (!first)
            fl_buf_putc(out, '&');
        first = false;
        fl_buf_url_escape(out, part, "%=+,:/");
    }
    if (!first)
        fl_buf_putc(out, '&');
}

static void listing_headers(struct fl_resp *resp, const struct fl_req *req,
                            const struct fl_listing_result *page, struct fl_str etag)
{
    int64_t edge_ttl_s = fl_req_edge_ttl_s(req);

    fl_resp_header(resp, "ETag", "%.*s", (int)etag.len, etag.p);
    fl_resp_header(resp, "Vary", "Accept-Encoding");
    fl_resp_header(resp, "Cache-Control", "public, max-age=%lld", (long long)page->max_age_s);
    /* How long nginx's edge may keep the page: its FL_EDGE_TTL_S, never past the page's own
     * Cache-Control. nginx counts in whole seconds and keeps an entry to the end of its last
     * second, so "keep 1 s" can mean almost 2: name the last whole second that ends within
     * the bound instead (@epoch). The header is nginx's own and never reaches the client. */
    if (edge_ttl_s && page->max_age_s > 0) {
        int64_t keep_s = page->max_age_s < edge_ttl_s ? page->max_age_s : edge_ttl_s;
        fl_resp_header(resp, "X-Accel-Expires", "@%lld",
                       (long long)((fl_time_wall_ms() + keep_s * 1000) / 1000 - 1));
    }
    fl_resp_header(resp, "X-Cache", "%s", fl_listing_source_name(page->source));
    if (page->next.len) {
        struct fl_buf link;
        fl_buf_init(&link, 16 << 10);
        query_without_cursor(req, &link);
        fl_resp_header(resp, "Link", "<%.*s/products?%scursor=%.*s>; rel=\"next\"",
                       (int)req->prefix.len, req->prefix.p ? req->prefix.p : "",
                       link.p ? link.p : "", (int)page->next.len, page->next.p);
        fl_buf_free(&link);
    }
}

/* The ETag of the gzip representation: the plain one's, "-gz" inside the quotes. */
static struct fl_str gzip_etag(struct fl_arena *arena, struct fl_str etag)
{
    char *p = fl_arena_alloc(arena, etag.len + 4);

    if (p == NULL || etag.len < 2)
        return etag; /* out of arena: the plain ETag only risks a needless 200 */
    memcpy(p, etag.p, etag.len - 1);
    memcpy(p + etag.len - 1, "-gz\"", 5);
    return (struct fl_str){p, etag.len + 3};
}

/*
 * The plain body of a gzip page, from the worker's memo when it sent that page plain
 * lately, else decompressed (and memoised). The key names the content: the ETag (a hash of
 * the plain body) and the gzip trailer (its CRC-32 and length).
 */
static enum fl_err plain_body(struct fl_memo *memo, struct fl_arena *arena,
                              const struct fl_listing_result *page, struct fl_str *out)
{
    char key[FL_MEMO_KEY_MAX_BYTES];
    struct fl_str k = {key, page->etag.len + 8};
    enum fl_err err;

    if (page->body.len < 8 || k.len > sizeof(key))
        return fl_gzip_decompress(arena, page->body, FL_LISTING_BODY_MAX_BYTES, out);
    memcpy(key, page->etag.p, page->etag.len);
    memcpy(key + page->etag.len, page->body.p + page->body.len - 8, 8);
    if (fl_memo_get(memo, k, out))
        return FL_OK;
    err = fl_gzip_decompress(arena, page->body, FL_LISTING_BODY_MAX_BYTES, out);
    if (err == FL_OK)
        fl_memo_put(memo, k, *out); /* not kept (too big, no memory): inflated next time */
    return err;
}

/*
 * Sends a page the listing service served: a gzip body as it is to a client that takes
 * gzip, decompressed to others (plain_body), each with an ETag of its own (RFC 9110: one
 * per representation), a plain one (built, not stored) as it is; or 304 when the client
 * has that representation.
 */
static void send_page(struct fl_app *app, struct fl_resp *resp, const struct fl_req *req,
                      const struct fl_listing_result *page)
{
    bool gzip = page->gzip && fl_req_accepts_gzip(req);
    struct fl_str etag = gzip ? gzip_etag(req->arena, page->etag) : page->etag;
    struct fl_str body = page->body;
    enum fl_err err;

    if (fl_req_not_modified(req, etag)) {
        resp->status = 304;
        resp->content_type = NULL;
    } else if (page->gzip && !gzip &&
               (err = plain_body(app->plain, req->arena, page, &body)) != FL_OK) {
        fl_log(FL_LOG_ERROR, "event=page_unreadable err=%s", fl_strerror(err));
        fl_resp_problem(resp, req, 500, NULL, "the page could not be read");
        return;
    } else {
        resp->status = 200;
        resp->content_type = FL_CT_JSON;
        fl_buf_put(&resp->body, body);
        if (gzip)
            fl_resp_header(resp, "Content-Encoding", "gzip");
    }
    listing_headers(resp, req, page, etag);
}

static void render_page(struct fl_buf *body, const struct fl_product *rows, size_t n,
                        struct fl_str next)
{
    fl_buf_puts(body, "{\"status\":\"success\",\"data\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            fl_buf_putc(body, ',');
        render_product(body, &rows[i]);
    }
    fl_buf_puts(body, "],\"nextCursor\":");
    if (next.len)
        fl_json_str(body, next);
    else
        fl_buf_puts(body, "null");
    fl_buf_puts(body, "}\n");
}

/*
 * Applies the rate limit's verdict and the listing service's error (detail, when not NULL,
 * says what was not found). Returns true when the page may be sent.
 */
static bool servable(const struct fl_app *app, struct fl_req *req, struct fl_resp *resp,
                     enum fl_err err, const char *detail)
{
    if (req->rate_limit && !fl_rate_verdict(app, req, resp))
        return false;
    if (err == FL_OK)
        return true;
    if (err == FL_EINVAL)
        fl_resp_problem(resp, req, 400, "search-too-broad",
                        "search is too broad to answer: use longer or fewer words");
    else
        fl_resp_error(resp, req, err, err == FL_ENOTFOUND ? detail : NULL);
    return false;
}

void fl_h_products_list(struct fl_app *app, struct fl_req *req, struct fl_resp *resp)
{
    struct fl_listing q;
    struct fl_listing_result page;
    enum fl_err err;

    if (!parse_listing(resp, req, &q))
        return;
    err = fl_listing_page(&app->listing, req->arena, &q, req->rate_limit, render_page, &page);
    if (servable(app, req, resp, err, NULL))
        send_page(app, resp, req, &page);
}

/* ---- one product ---- */

static bool parse_id(struct fl_resp *resp, const struct fl_req *req, uint64_t *id)
{
    if (fl_str_to_u64(req->route_arg, 1, UINT64_MAX, id) == FL_OK)
        return true;
    return bad(resp, req, "invalid-parameter", "id must be a positive integer");
}

void fl_h_products_get(struct fl_app *app, struct fl_req *req, struct fl_resp *resp)
{
    struct fl_listing_result page;
    char detail[64];
    uint64_t id;
    enum fl_err err;

    if (!parse_id(resp, req, &id))
        return;
    err =
        fl_listing_product(&app->listing, req->arena, id, req->rate_limit, render_one_body, &page);
    snprintf(detail, sizeof(detail), "no product with id %llu", (unsigned long long)id);
    if (servable(app, req, resp, err, detail))
        send_page(app, resp, req, &page);
}

/* ---- admin writes ---- */

/* Admin routes exist only with a configured token; a wrong or missing one is a 401. */
static bool authorised(struct fl_app *app, const struct fl_req *req, struct fl_resp *resp)
{
    const char *auth = fl_req_env(req, "HTTP_AUTHORIZATION");
    struct fl_str a = fl_str_c(auth);

    if (app->cfg->admin_token == NULL) {
        fl_resp_problem(resp, req, 404, NULL, "no such resource");
        return false;
    }
    /* The scheme is case-insensitive (RFC 9110, 11.1). */
    if (auth && a.len > 7 && strncasecmp(a.p, "Bearer ", 7) == 0 &&
        fl_crypto_equal((struct fl_str){a.p + 7, a.len - 7}, fl_str_c(app->cfg->admin_token)))
        return true;
    fl_resp_problem(resp, req, 401, "unauthorized", "a valid admin bearer token is required");
    fl_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"farmlokal\"");
    return false;
}

/* Parses and validates a POST (create) or PATCH body. */
static bool read_input(const struct fl_req *req, struct fl_resp *resp, bool create,
                       struct fl_product_input *in)
{
    struct fl_json_field f[FL_PF__MAX];
    struct fl_buf detail;
    enum fl_err err;

    if (!fl_json_body(req, resp))
        return false;
    fl_pfields_init(f);
    fl_buf_init(&detail, 512);
    /* PATCH cannot change the sku: offer it only to create. */
    err = fl_json_parse_object(req->body, req->arena, create ? f : f + 1,
                               create ? FL_PF__MAX : FL_PF__MAX - 1, 0, &detail);
    if (err == FL_EINVAL)
        fl_resp_problem(resp, req, 400, "invalid-body", "%s", detail.p ? detail.p : "");
    else if (err != FL_OK)
        fl_resp_error(resp, req, err, NULL);
    fl_buf_free(&detail);
    if (err != FL_OK)
        return false;
    if (!create)
        f[FL_PF_SKU].type = FL_JSON_MISSING;
    return fl_product_input_parse(req, resp, f, create ? FL_PF_REQUIRED_ON_CREATE : 0, "", in);
}

/* After a committed write: every cached listing is stale now. */
static void written(struct fl_app *app, struct fl_req *req, struct fl_resp *resp, uint64_t id,
                    int status)
{
    struct fl_product p;
    enum fl_err err;

    fl_cache_invalidate(app->redis, req->arena);
    err = fl_catalog_get(app->db, req->arena, id, &p);
    if (err != FL_OK) {
        fl_resp_error(resp, req, err, NULL);
        return;
    }
    render_one(resp, status, &p);
    if (status == 201)
        fl_resp_header(resp, "Location", "%.*s/products/%llu", (int)req->prefix.len,
                       req->prefix.p ? req->prefix.p : "", (unsigned long long)id);
}

void fl_h_products_create(struct fl_app *app, struct fl_req *req, struct fl_resp *resp)
{
    struct fl_product_input in;
    uint64_t id = 0;
    enum fl_err err;

    if (!authorised(app, req, resp) || !read_input(req, resp, true, &in))
        return;
    err = fl_catalog_write_create(app->db, &in, &id);
    if (err == FL_ECONFLICT)
        fl_resp_problem(resp, req, 409, "sku-taken", "a product with this sku exists");
    else if (err != FL_OK)
        fl_resp_error(resp, req, err, NULL);
    else
        written(app, req, resp, id, 201);
}

void fl_h_products_update(struct fl_app *app, struct fl_req *req, struct fl_resp *resp)
{
    struct fl_product_input in;
    uint64_t id;
    enum fl_err err;

    if (!authorised(app, req, resp) || !parse_id(resp, req, &id) ||
        !read_input(req, resp, false, &in))
        return;
    err = fl_catalog_write_update(app->db, id, &in);
    if (err == FL_ENOTFOUND)
        fl_resp_problem(resp, req, 404, NULL, "no product with id %llu", (unsigned long long)id);
    else if (err != FL_OK)
        fl_resp_error(resp, req, err, NULL);
    else
        written(app, req, resp, id, 200);
}
