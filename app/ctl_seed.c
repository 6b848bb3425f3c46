/* SPDX-License-Identifier: MIT */
/*
 * farmlokal-ctl seed: fills the catalogue with N realistic, deterministic products (same
 * --seed, same rows) as fast as MariaDB allows. Rows are generated in memory, then loaded
 * into fresh copies of products, product_words and vocabulary (CREATE TABLE ... LIKE, so
 * the schema stays in sql/ alone) without their secondary indexes, in primary-key order
 * through LOAD DATA LOCAL (no temporary file): products and each partition of
 * product_words at once, on a connection each, each then indexed in one ALTER; the
 * partitions are exchanged in, and all are analysed and swapped in with one atomic
 * RENAME: an interrupted seed leaves the live tables untouched.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ctl.h"
#include "fl_buf.h"
#include "fl_db.h"
#include "fl_search.h"
#include "fl_time.h"
#include "seed_data.h"

#define ROWS_MAX    50000000ULL
#define PLACE_WORDS 3000
#define PRODUCERS   4000
#define TIE_PERCENT 20
#define SPAN_US     (2LL * 365 * 24 * 3600 * 1000000)
#define DB_TIME_LEN 26           /* "YYYY-MM-DD HH:MM:SS.ffffff", fl_time_format_db */
#define END_EPOCH_S 1793491200LL /* 2026-11-01T00:00:00Z: fixed, so seeds are reproducible */

/* ---- deterministic randomness ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t pick(size_t n)
{
    return (size_t)(rnd() % n);
}

static size_t count(const char *const *list)
{
    size_t n = 0;

    while (list[n])
        n++;
    return n;
}

/* ---- the dictionary: every word the generator can write, with a dense id ---- */

struct dict {
    char **words; /* sorted by bytes (utf8mb4_bin order), distinct */
    size_t n, cap;
    uint32_t *slots; /* open addressing: id + 1, 0 = empty */
    size_t n_slots;
};

static uint64_t hash(struct fl_str s)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < s.len; i++)
        h = (h ^ (unsigned char)s.p[i]) * 1099511628211ULL;
    return h;
}

static int add_raw(void *ud, struct fl_str w)
{
    struct dict *d = ud;

    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 1024;
        char **p = realloc(d->words, cap * sizeof(*p));
        if (p == NULL)
            return 1;
        d->words = p;
        d->cap = cap;
    }
    d->words[d->n] = strndup(w.p, w.len);
    if (d->words[d->n] == NULL)
        return 1;
    d->n++;
    return 0;
}

static int cmp_words(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int64_t dict_find(const struct dict *d, struct fl_str w)
{
    for (size_t i = hash(w) & (d->n_slots - 1);; i = (i + 1) & (d->n_slots - 1)) {
        uint32_t s = d->slots[i];
        if (s == 0)
            return -1;
        if (strlen(d->words[s - 1]) == w.len && memcmp(d->words[s - 1], w.p, w.len) == 0)
            return s - 1;
    }
}

/* Sorts, removes duplicates and builds the hash index. */
static bool dict_seal(struct dict *d)
{
    size_t k = 0;

    qsort(d->words, d->n, sizeof(*d->words), cmp_words);
    for (size_t i = 0; i < d->n; i++) {
        if (k && strcmp(d->words[k - 1], d->words[i]) == 0)
            free(d->words[i]);
        else
            d->words[k++] = d->words[i];
    }
    d->n = k;
    for (d->n_slots = 1; d->n_slots < 2 * d->n; d->n_slots *= 2)
        ;
    d->slots = calloc(d->n_slots, sizeof(*d->slots));
    if (d->slots == NULL)
        return false;
    for (size_t id = 0; id < d->n; id++) {
        struct fl_str w = fl_str_c(d->words[id]);
        size_t i = hash(w) & (d->n_slots - 1);
        while (d->slots[i])
            i = (i + 1) & (d->n_slots - 1);
        d->slots[i] = (uint32_t)id + 1;
    }
    return true;
}

static void dict_free(struct dict *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->words[i]);
    free(d->words);
    free(d->slots);
}

/* ---- the generator ---- */

struct pair {
    uint32_t word, product;
};

/* What a product's search index rows repeat of it: its sort keys and category. */
struct product_keys {
    int64_t created_us, cents;
    size_t name_at;    /* the name's offset in the products TSV */
    size_t created_at; /* and its created_at text's (DB_TIME_LEN bytes) */
    size_t first_pair; /* its first (word, product) pair */
    uint16_t name_len;
    uint8_t category;
};

struct gen {
    uint64_t rows;
    char **place_words; /* generated, e.g. "Kelmora" */
    char **producers;   /* e.g. "Kelmora Valley Farm" */
    const char **vocab; /* description words, most frequent first (Zipf) */
    double *vocab_cdf;
    size_t n_vocab;
    int64_t last_created_us;
    struct dict dict;
    struct pair *pairs; /* (word, product) of every product, in product order */
    size_t n_pairs, cap_pairs;
    struct product_keys *keys; /* [id - 1] */
    char line[4096];           /* the row being generated */
    size_t line_len;
    int64_t t0_us, last_report_us;
    bool failed;
};

static char *capitalised(const char *s)
{
    char *p = strdup(s);

    if (p && p[0] >= 'a' && p[0] <= 'z')
        p[0] = (char)(p[0] - 32);
    return p;
}

/* Place words from 2-3 syllables, distinct; they make producers and rare search words. */
static bool make_places(struct gen *g)
{
    size_t n_syl = count(fl_seed_syllables), made = 0, tries = 0;

    g->place_words = calloc(PLACE_WORDS, sizeof(char *));
    if (g->place_words == NULL)
        return false;
    while (made < PLACE_WORDS && tries++ < PLACE_WORDS * 20) {
        char w[32];
        size_t parts = 2 + pick(2), len = 0;
        bool dup = false;
        for (size_t i = 0; i < parts; i++)
            len += (size_t)snprintf(w + len, sizeof(w) - len, "%s", fl_seed_syllables[pick(n_syl)]);
        for (size_t i = 0; i < made && !dup; i++)
            dup = strcasecmp(g->place_words[i], w) == 0;
        if (!dup && (g->place_words[made] = capitalised(w)) != NULL)
            made++;
    }
    return made == PLACE_WORDS;
}

static bool make_producers(struct gen *g)
{
    size_t nw = count(fl_seed_place_words), nk = count(fl_seed_place_kinds),
           np = count(fl_seed_producer_kinds);

    g->producers = calloc(PRODUCERS, sizeof(char *));
    if (g->producers == NULL)
        return false;
    for (size_t i = 0; i < PRODUCERS; i++) {
        char b[128];
        const char *first =
            i % 3 ? g->place_words[pick(PLACE_WORDS)] : fl_seed_place_words[pick(nw)];
        snprintf(b, sizeof(b), "%s %s %s", first, fl_seed_place_kinds[pick(nk)],
                 fl_seed_producer_kinds[pick(np)]);
        if ((g->producers[i] = strdup(b)) == NULL)
            return false;
    }
    return true;
}

/* Description words: the common words first, then place words; Zipf weights 1/rank. */
static bool make_vocab(struct gen *g)
{
    size_t nc = count(fl_seed_common_words);
    double total = 0;

    g->n_vocab = nc + PLACE_WORDS;
    g->vocab = calloc(g->n_vocab, sizeof(*g->vocab));
    g->vocab_cdf = calloc(g->n_vocab, sizeof(*g->vocab_cdf));
    if (g->vocab == NULL || g->vocab_cdf == NULL)
        return false;
    for (size_t i = 0; i < g->n_vocab; i++) {
        g->vocab[i] = i < nc ? fl_seed_common_words[i] : g->place_words[i - nc];
        total += 1.0 / (double)(i + 1);
        g->vocab_cdf[i] = total;
    }
    for (size_t i = 0; i < g->n_vocab; i++)
        g->vocab_cdf[i] /= total;
    return true;
}

static const char *zipf_word(struct gen *g)
{
    double u = (double)(rnd() >> 11) / 9007199254740992.0;
    size_t lo = 0, hi = g->n_vocab - 1;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g->vocab_cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return g->vocab[lo];
}

/* Every word any product can contain goes into the dictionary up front. */
static bool make_dict(struct gen *g)
{
    const char *const *lists[] = {fl_seed_adjectives, fl_seed_common_words, fl_seed_place_words,
                                  fl_seed_place_kinds, fl_seed_producer_kinds};
    static const char *const glue[] = {"from", "grown", "by", "with", "and", "per", NULL};
    struct dict *d = &g->dict;

    for (size_t l = 0; l < FL_COUNTOF(lists); l++)
        for (size_t i = 0; lists[l][i]; i++)
            fl_search_words(fl_str_c(lists[l][i]), add_raw, d);
    for (size_t i = 0; glue[i]; i++)
        fl_search_words(fl_str_c(glue[i]), add_raw, d);
    for (size_t i = 0; i < PLACE_WORDS; i++)
        fl_search_words(fl_str_c(g->place_words[i]), add_raw, d);
    for (size_t c = 0; c < fl_seed_n_categories; c++) {
        const struct fl_seed_category *cat = &fl_seed_categories[c];
        for (size_t i = 0; cat->products[i]; i++)
            fl_search_words(fl_str_c(cat->products[i]), add_raw, d);
        for (size_t i = 0; cat->traits[i]; i++)
            fl_search_words(fl_str_c(cat->traits[i]), add_raw, d);
    }
    return dict_seal(d);
}

struct word_sink {
    struct gen *g;
    uint32_t product;
    size_t first; /* this product's first pair, for de-duplication */
};

static int record_word(void *ud, struct fl_str w)
{
    struct word_sink *s = ud;
    struct gen *g = s->g;
    int64_t id = dict_find(&g->dict, w);

    if (id < 0) {
        fprintf(stderr, "seed: word '%.*s' is missing from the dictionary\n", (int)w.len, w.p);
        g->failed = true;
        return 1;
    }
    for (size_t i = s->first; i < g->n_pairs; i++)
        if (g->pairs[i].word == (uint32_t)id)
            return 0;
    if (g->n_pairs == g->cap_pairs) {
        size_t cap = g->cap_pairs ? g->cap_pairs * 2 : (size_t)1 << 20;
        struct pair *p = realloc(g->pairs, cap * sizeof(*p));
        if (p == NULL) {
            g->failed = true;
            return 1;
        }
        g->pairs = p;
        g->cap_pairs = cap;
    }
    g->pairs[g->n_pairs++] = (struct pair){(uint32_t)id, s->product};
    return 0;
}

/* Writes product id's row into g->line and records its words. */
static void make_product(struct gen *g, uint64_t id)
{
    const struct fl_seed_category *c = &fl_seed_categories[pick(fl_seed_n_categories)];
    const char *base = c->products[pick(count(c->products))];
    const char *producer = g->producers[pick(PRODUCERS)];
    char name[256], desc[1024], created[64];
    struct word_sink sink = {g, (uint32_t)id, g->n_pairs};
    int64_t cents = c->min_cents + (int64_t)pick((size_t)(c->max_cents - c->min_cents + 1));
    size_t n_traits = count(c->traits), len, words = 3 + pick(4);
    static const int endings[] = {0, 50, 99};

    if (pick(100) < 70)
        snprintf(name, sizeof(name), "%s %s", fl_seed_adjectives[pick(count(fl_seed_adjectives))],
                 base);
    else
        snprintf(name, sizeof(name), "%s", base);
    len = (size_t)snprintf(desc, sizeof(desc), "%s, %s and %s", base, c->traits[pick(n_traits)],
                           c->traits[pick(n_traits)]);
    for (size_t i = 0; i < words && len < sizeof(desc) - 40; i++)
        len += (size_t)snprintf(desc + len, sizeof(desc) - len, " %s", zipf_word(g));
    snprintf(desc + len, sizeof(desc) - len, ".");
    if (pick(2)) {
        /* Shop prices end in .00, .50 or .99: many ties, as in a real catalogue. */
        int64_t rounded = cents / 100 * 100 + endings[pick(3)];
        if (rounded >= c->min_cents && rounded <= c->max_cents)
            cents = rounded;
    }
    if (id == 1 || pick(100) >= TIE_PERCENT)
        g->last_created_us = END_EPOCH_S * 1000000 - (int64_t)(rnd() % (uint64_t)SPAN_US);
    fl_time_format_db(g->last_created_us, created);
    g->keys[id - 1] = (struct product_keys){g->last_created_us,
                                            cents,
                                            0,
                                            0,
                                            g->n_pairs,
                                            (uint16_t)strlen(name),
                                            (uint8_t)(c - fl_seed_categories)};
    g->line_len = (size_t)snprintf(
        g->line, sizeof(g->line),
        "%" PRIu64 "\t%s-%09" PRIu64 "\t%s\t%s\t%s\t%lld.%02lld\t%s\t%zu\t%s\t%s\t%s\n", id,
        c->code, id, name, desc, c->name, (long long)(cents / 100), (long long)(cents % 100),
        c->units[pick(count(c->units))], pick(501), producer, created, created);
    fl_search_words(fl_str_c(name), record_word, &sink);
    fl_search_words(fl_str_c(desc), record_word, &sink);
}

static void progress(struct gen *g, const char *what, uint64_t done, uint64_t total, bool last)
{
    int64_t now = fl_time_mono_us();
    double s = (double)(now - g->t0_us) / 1e6, rate = s > 0 ? (double)done / s : 0;
    bool tty;

    if (!last && now - g->last_report_us < 1000000)
        return;
    g->last_report_us = now;
    /* On a terminal one line redrawn in place; in a log or a journal, one line each. */
    tty = isatty(STDERR_FILENO);
    fprintf(stderr, "%sseed: %s %" PRIu64 "/%" PRIu64 " (%.0f rows/s, ETA %.0f s)%s%s",
            tty ? "\r" : "", what, done, total, rate,
            rate > 0 ? (double)(total - done) / rate : 0.0, tty ? "   " : "",
            !tty || last ? "\n" : "");
}

/* Generates every product row (TSV, for LOAD DATA) into out, and their words into g. */
static bool generate(struct gen *g, struct fl_buf *out)
{
    for (uint64_t id = 1; id <= g->rows && !g->failed; id++) {
        make_product(g, id);
        /* The name is the third field ("id\tsku\tname\t..."); the line ends with
         * "created_at\tupdated_at\n", both the creation time. */
        g->keys[id - 1].name_at =
            out->len + (size_t)(strchr(strchr(g->line, '\t') + 1, '\t') - g->line) + 1;
        g->keys[id - 1].created_at = out->len + g->line_len - 2 * DB_TIME_LEN - 2;
        fl_buf_append(out, g->line, g->line_len);
        progress(g, "generated", id, g->rows, id == g->rows);
    }
    return !g->failed && fl_buf_err(out) == FL_OK;
}

/* A LOAD DATA source reading from memory. */
struct mem_source {
    struct fl_str text;
    size_t at;
};

static long mem_source(void *ud, char *buf, size_t cap)
{
    struct mem_source *m = ud;
    size_t n = m->text.len - m->at < cap ? m->text.len - m->at : cap;

    memcpy(buf, m->text.p + m->at, n);
    m->at += n;
    return (long)n;
}

/* product_words rows in primary-key order (word, created_at, product_id), each with the
 * product's sort keys and category. */
struct word_stream {
    struct gen *g;
    const char *tsv; /* the products TSV, where the names are */
    struct pair *sorted;
    size_t at, end; /* the rows [at, end) of sorted */
    char line[512];
    size_t line_len, line_off;
};

static long word_source(void *ud, char *buf, size_t cap)
{
    struct word_stream *w = ud;
    size_t n = 0;

    while (n < cap) {
        if (w->line_off == w->line_len) {
            const struct product_keys *k;
            struct pair *p;
            if (w->at == w->end)
                break;
            p = &w->sorted[w->at++];
            k = &w->g->keys[p->product - 1];
            /* The products TSV's text, not formatted again (9.7M times for 1M rows). */
            w->line_len = (size_t)snprintf(
                w->line, sizeof(w->line), "%s\t%u\t%.*s\t%lld.%02lld\t%.*s\t%s\n",
                w->g->dict.words[p->word], p->product, DB_TIME_LEN, w->tsv + k->created_at,
                (long long)(k->cents / 100), (long long)(k->cents % 100), (int)k->name_len,
                w->tsv + k->name_at, fl_seed_categories[k->category].name);
            w->line_off = 0;
        }
        size_t k = w->line_len - w->line_off < cap - n ? w->line_len - w->line_off : cap - n;
        memcpy(buf + n, w->line + w->line_off, k);
        w->line_off += k;
        n += k;
    }
    return (long)n;
}

/* The vocabulary: the dictionary's words some product has, in byte (primary-key) order. */
struct vocab_stream {
    struct gen *g;
    bool *used;
    size_t at;
};

static long vocab_source(void *ud, char *buf, size_t cap)
{
    struct vocab_stream *v = ud;
    size_t n = 0;

    for (; v->at < v->g->dict.n; v->at++) {
        size_t len = strlen(v->g->dict.words[v->at]);
        if (!v->used[v->at])
            continue;
        if (cap - n < len + 1)
            break;
        memcpy(buf + n, v->g->dict.words[v->at], len);
        buf[n + len] = '\n';
        n += len + 1;
    }
    return (long)n;
}

static enum fl_err load_vocabulary(struct fl_db *db, struct gen *g)
{
    struct vocab_stream v = {g, calloc(g->dict.n ? g->dict.n : 1, sizeof(bool)), 0};
    uint64_t loaded = 0;
    enum fl_err err;

    if (v.used == NULL)
        return FL_ENOMEM;
    for (size_t i = 0; i < g->n_pairs; i++)
        v.used[g->pairs[i].word] = true;
    err = fl_db_load_data(db,
                          "LOAD DATA LOCAL INFILE 'vocabulary' INTO TABLE vocabulary_seed "
                          "CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '' "
                          "LINES TERMINATED BY '\\n' (word)",
                          vocab_source, &v, &loaded);
    free(v.used);
    return err;
}

struct by_created {
    int64_t created_us;
    uint32_t id;
};

static int cmp_created(const void *a, const void *b)
{
    const struct by_created *x = a, *y = b;

    if (x->created_us != y->created_us)
        return x->created_us < y->created_us ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* The pairs in (word, created_at, product) order: products in (created_at, id) order,
 * each one's pairs dealt into per-word buckets (a counting sort by word). */
static struct pair *sort_pairs(struct gen *g)
{
    size_t *start = calloc(g->dict.n + 1, sizeof(size_t));
    struct pair *out = malloc((g->n_pairs ? g->n_pairs : 1) * sizeof(*out));
    struct by_created *order = malloc(g->rows * sizeof(*order));

    if (start == NULL || out == NULL || order == NULL) {
        free(start);
        free(out);
        free(order);
        return NULL;
    }
    for (size_t i = 0; i < g->n_pairs; i++)
        start[g->pairs[i].word + 1]++;
    for (size_t i = 1; i <= g->dict.n; i++)
        start[i] += start[i - 1];
    for (uint64_t i = 0; i < g->rows; i++)
        order[i] = (struct by_created){g->keys[i].created_us, (uint32_t)(i + 1)};
    qsort(order, g->rows, sizeof(*order), cmp_created);
    for (uint64_t i = 0; i < g->rows; i++) {
        uint32_t id = order[i].id;
        size_t end = id < g->rows ? g->keys[id].first_pair : g->n_pairs;
        for (size_t k = g->keys[id - 1].first_pair; k < end; k++)
            out[start[g->pairs[k].word]++] = g->pairs[k];
    }
    free(start);
    free(order);
    return out;
}

/* ---- the tables ---- */

struct ddl {
    struct fl_buf drop, add;
};

static enum fl_err collect_index(void *ud, const struct fl_str *c, size_t n)
{
    struct ddl *d = ud;

    if (n != 3 || c[0].p == NULL || c[2].p == NULL)
        return FL_EDB;
    fl_buf_appendf(&d->drop, "%sDROP INDEX `%.*s`", d->drop.len ? ", " : "", (int)c[0].len, c[0].p);
    fl_buf_appendf(&d->add, "%sADD %sKEY `%.*s` (%.*s)", d->add.len ? ", " : "",
                   c[1].len == 1 && c[1].p[0] == '0' ? "UNIQUE " : "", (int)c[0].len, c[0].p,
                   (int)c[2].len, c[2].p);
    return fl_buf_err(&d->drop) ? fl_buf_err(&d->drop) : fl_buf_err(&d->add);
}

/* The live table's secondary indexes, as DROP and ADD clauses. */
static enum fl_err read_indexes(struct fl_db *db, const char *table, struct ddl *d)
{
    static const char sql[] =
        "SELECT INDEX_NAME, MIN(NON_UNIQUE), GROUP_CONCAT(CONCAT('`', COLUMN_NAME, '`',"
        " IF(SUB_PART IS NULL, '', CONCAT('(', SUB_PART, ')'))) ORDER BY SEQ_IN_INDEX"
        " SEPARATOR ',') FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()"
        " AND TABLE_NAME = ? AND INDEX_NAME <> 'PRIMARY' GROUP BY INDEX_NAME ORDER BY INDEX_NAME";
    struct fl_db_arg a = FL_DB_ARG_STR(fl_str_c(table));

    fl_buf_init(&d->drop, 8192);
    fl_buf_init(&d->add, 8192);
    return fl_db_query(db, sql, &a, 1, collect_index, d);
}

/*
 * product_words is partitioned by word so that its halves load and index at once on two
 * cores (one ALTER builds a table's indexes on one core): each partition is filled as a
 * table of its own, then exchanged into the shadow table.
 */
#define PARTS_MAX 8

struct part {
    char name[64];  /* "p0" */
    char bound[64]; /* its words sort below this; "" for MAXVALUE */
    char table[96]; /* what the rows load into */
    char load_sql[512];
    struct word_stream ws;
};

struct parts {
    struct part p[PARTS_MAX];
    size_t n;
};

static enum fl_err collect_part(void *ud, const struct fl_str *c, size_t n)
{
    struct parts *ps = ud;
    struct part *p;

    if (n != 2 || c[0].p == NULL || c[1].p == NULL || ps->n == PARTS_MAX ||
        c[0].len >= sizeof(p->name) || c[1].len >= sizeof(p->bound))
        return FL_EDB; /* not partitioned as sql/005 makes it, or too finely */
    p = &ps->p[ps->n++];
    snprintf(p->name, sizeof(p->name), "%.*s", (int)c[0].len, c[0].p);
    /* RANGE COLUMNS bounds read "'h'" or "MAXVALUE". */
    if (c[1].len >= 2 && c[1].p[0] == '\'' && c[1].p[c[1].len - 1] == '\'')
        snprintf(p->bound, sizeof(p->bound), "%.*s", (int)c[1].len - 2, c[1].p + 1);
    else if (fl_str_eq(c[1], FL_STR("MAXVALUE")))
        p->bound[0] = '\0';
    else
        return FL_EDB;
    return FL_OK;
}

/* product_words' partitions, each with the table its rows load into. */
static enum fl_err read_parts(struct fl_db *db, struct parts *ps)
{
    static const char sql[] =
        "SELECT PARTITION_NAME, PARTITION_DESCRIPTION FROM information_schema.PARTITIONS"
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'product_words'"
        " ORDER BY PARTITION_ORDINAL_POSITION";
    enum fl_err err;

    ps->n = 0;
    if ((err = fl_db_query(db, sql, NULL, 0, collect_part, ps)) != FL_OK)
        return err;
    for (size_t i = 0; i < ps->n; i++)
        snprintf(ps->p[i].table, sizeof(ps->p[i].table), "product_words_seed_%s", ps->p[i].name);
    return ps->n ? FL_OK : FL_EDB;
}

/* Gives each part its rows of the sorted pairs: the words below its bound. */
static void split_pairs(struct parts *ps, struct gen *g, struct pair *sorted, const char *tsv)
{
    size_t at = 0;

    for (size_t i = 0; i < ps->n; i++) {
        const char *bound = ps->p[i].bound;
        size_t end = at;
        while (end < g->n_pairs &&
               (bound[0] == '\0' || strcmp(g->dict.words[sorted[end].word], bound) < 0))
            end++;
        ps->p[i].ws =
            (struct word_stream){.g = g, .tsv = tsv, .sorted = sorted, .at = at, .end = end};
        snprintf(ps->p[i].load_sql, sizeof(ps->p[i].load_sql),
                 "LOAD DATA LOCAL INFILE 'words' INTO TABLE %s CHARACTER SET utf8mb4 FIELDS "
                 "TERMINATED BY '\\t' ESCAPED BY '' LINES TERMINATED BY '\\n' (word, product_id, "
                 "created_at, price, name, category)",
                 ps->p[i].table);
        at = end;
    }
}

static enum fl_err run(struct fl_db *db, const char *sql)
{
    return fl_db_exec_script(db, fl_str_c(sql));
}

static enum fl_err runf(struct fl_db *db, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum fl_err runf(struct fl_db *db, const char *fmt, ...)
{
    char sql[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return run(db, sql);
}

/* Runs "ALTER TABLE <table> <clauses>" when there are clauses. */
static enum fl_err alter(struct fl_db *db, const char *table, const struct fl_buf *clauses)
{
    struct fl_buf sql;
    enum fl_err err = FL_OK;

    if (clauses->len == 0)
        return FL_OK;
    fl_buf_init(&sql, 16384);
    fl_buf_appendf(&sql, "ALTER TABLE %s %s", table, clauses->p);
    err = fl_buf_err(&sql) ? fl_buf_err(&sql) : run(db, sql.p);
    fl_buf_free(&sql);
    return err;
}

static enum fl_err flag(void *ud, const struct fl_str *c, size_t n)
{
    *(bool *)ud = n == 1 && c[0].p && c[0].len == 1 && c[0].p[0] == '1';
    return FL_OK;
}

static void phase(const char *what, int64_t t0)
{
    fprintf(stderr, "seed: %-28s %6.1f s\n", what, (double)(fl_time_mono_us() - t0) / 1e6);
}

/*
 * One table's load: rows from src into <table>_seed, then its secondary indexes. The two
 * tables load on two connections at once (MariaDB loads and indexes a table on one core).
 */
struct load_job {
    const struct fl_config *cfg;
    const char *load_sql;
    const char *table; /* the shadow table */
    const char *what;
    struct fl_buf *add; /* ADD KEY clauses */
    fl_db_source_fn src;
    void *src_ud;
    uint64_t expect; /* rows */
    int64_t load_us, index_us;
    bool ok;
};

static void *run_job(void *ud)
{
    struct load_job *j = ud;
    struct fl_db *db = fl_db_new(&j->cfg->mysql, 3600);
    int64_t t = fl_time_mono_us();
    uint64_t loaded = 0;

    j->ok = false;
    if (db == NULL)
        return NULL;
    fl_db_enable_bulk_load(db);
    if (run(db, "SET SESSION unique_checks = 0, foreign_key_checks = 0") == FL_OK &&
        fl_db_load_data(db, j->load_sql, j->src, j->src_ud, &loaded) == FL_OK &&
        loaded == j->expect) {
        j->load_us = fl_time_mono_us() - t;
        t = fl_time_mono_us();
        j->ok = alter(db, j->table, j->add) == FL_OK;
        j->index_us = fl_time_mono_us() - t;
    }
    fl_db_free(db);
    return NULL;
}

/* Creates the shadow tables: the ones rows load into without their secondary indexes, and
 * product_words_seed whole (its partitions are exchanged in). */
static enum fl_err prepare(struct fl_db *db, struct ddl *pd, struct ddl *wd, struct parts *ps)
{
    enum fl_err err = FL_OK;

    if ((err = run(db, "CREATE TABLE products_seed LIKE products")) != FL_OK ||
        (err = run(db, "CREATE TABLE product_words_seed LIKE product_words")) != FL_OK ||
        (err = run(db, "CREATE TABLE vocabulary_seed LIKE vocabulary")) != FL_OK ||
        (err = alter(db, "products_seed", &pd->drop)) != FL_OK)
        return err;
    for (size_t i = 0; i < ps->n && err == FL_OK; i++) {
        if ((err = runf(db, "CREATE TABLE %s LIKE product_words", ps->p[i].table)) == FL_OK &&
            (err = runf(db, "ALTER TABLE %s REMOVE PARTITIONING", ps->p[i].table)) == FL_OK)
            err = alter(db, ps->p[i].table, &wd->drop);
    }
    return err;
}

/* Drops every shadow table (they are empty or unfinished after a failure). */
static void drop_shadows(struct fl_db *db, const struct parts *ps)
{
    run(db, "DROP TABLE IF EXISTS products_seed, product_words_seed, vocabulary_seed");
    for (size_t i = 0; i < ps->n; i++)
        runf(db, "DROP TABLE IF EXISTS %s", ps->p[i].table);
}

/* Phase 1: the schema is migrated, and the catalogue empty unless replace. */
static bool may_seed(struct fl_db *db, struct parts *ps, bool replace)
{
    bool non_empty = false;

    if (fl_db_query(db, "SELECT EXISTS (SELECT 1 FROM products)", NULL, 0, flag, &non_empty) !=
            FL_OK ||
        read_parts(db, ps) != FL_OK) {
        fputs("seed: cannot read the schema (run farmlokal-ctl migrate first)\n", stderr);
        return false;
    }
    if (non_empty && !replace) {
        fputs("seed: products is not empty; --replace replaces the catalogue\n", stderr);
        return false;
    }
    return true;
}

/*
 * Phase 3: every shadow table (and partition) loaded at once, each on a connection and a
 * thread of its own: MariaDB loads and indexes each on one core.
 */
static bool load_all(const struct fl_config *cfg, struct parts *ps, struct gen *g,
                     struct pair *sorted, const struct fl_buf *tsv, struct ddl *pd, struct ddl *wd)
{
    struct mem_source src = {fl_buf_str(tsv), 0};
    struct load_job jobs[1 + PARTS_MAX];
    pthread_t threads[PARTS_MAX];
    size_t started = 0;
    bool ok = true;

    split_pairs(ps, g, sorted, tsv->p);
    jobs[0] = (struct load_job){cfg,
                                "LOAD DATA LOCAL INFILE 'products' INTO TABLE products_seed "
                                "CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '' "
                                "LINES TERMINATED BY '\\n' (id, sku, name, description, category, "
                                "price, unit, stock, producer, created_at, updated_at)",
                                "products_seed",
                                "products",
                                &pd->add,
                                mem_source,
                                &src,
                                g->rows,
                                0,
                                0,
                                false};
    for (size_t i = 0; i < ps->n; i++) {
        struct part *p = &ps->p[i];
        jobs[1 + i] = (struct load_job){cfg,      p->load_sql, p->table, p->table,
                                        &wd->add, word_source, &p->ws,   p->ws.end - p->ws.at,
                                        0,        0,           false};
        if (pthread_create(&threads[i], NULL, run_job, &jobs[1 + i]) != 0)
            break;
        started++;
    }
    run_job(&jobs[0]);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    for (size_t i = 0; i <= started; i++) {
        fprintf(stderr, "seed: %-24s %9" PRIu64 " rows loaded in %5.1f s, indexed in %5.1f s%s\n",
                jobs[i].what, jobs[i].expect, (double)jobs[i].load_us / 1e6,
                (double)jobs[i].index_us / 1e6, jobs[i].ok ? "" : " (FAILED)");
        ok = ok && jobs[i].ok;
    }
    return ok && started == ps->n;
}

/* Phase 4: the partitions exchanged into the shadow tables, which replace the live ones. */
static bool swap_in(struct fl_db *db, const struct parts *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        if (runf(db, "ALTER TABLE product_words_seed EXCHANGE PARTITION %s WITH TABLE %s",
                 ps->p[i].name, ps->p[i].table) != FL_OK ||
            runf(db, "DROP TABLE %s", ps->p[i].table) != FL_OK)
            return false;
    return run(db, "ANALYZE TABLE products_seed, product_words_seed, vocabulary_seed") == FL_OK &&
           run(db, "RENAME TABLE products TO products_old, products_seed TO products, "
                   "product_words TO product_words_old, product_words_seed TO product_words, "
                   "vocabulary TO vocabulary_old, vocabulary_seed TO vocabulary") == FL_OK &&
           run(db, "DROP TABLE products_old, product_words_old, vocabulary_old") == FL_OK;
}

/* Frees what generating the rows allocated. */
static void gen_free(struct gen *g)
{
    free(g->pairs);
    free(g->keys);
    for (size_t i = 0; g->place_words && i < PLACE_WORDS; i++)
        free(g->place_words[i]);
    for (size_t i = 0; g->producers && i < PRODUCERS; i++)
        free(g->producers[i]);
    free(g->place_words);
    free(g->producers);
    free(g->vocab);
    free(g->vocab_cdf);
    dict_free(&g->dict);
}

/* Phase 2: the rows generated (TSV for products, sorted pairs for the words). */
static bool generated(struct gen *g, struct fl_buf *tsv, struct pair **sorted)
{
    int64_t t = g->t0_us = fl_time_mono_us();

    if (!generate(g, tsv) || (*sorted = sort_pairs(g)) == NULL) {
        fputs("seed: generating the rows failed\n", stderr);
        return false;
    }
    fprintf(stderr, "seed: %zu search index rows (%.1f per product)\n", g->n_pairs,
            (double)g->n_pairs / (double)g->rows);
    phase("generated rows", t);
    return true;
}

static int seed(struct fl_db *db, const struct fl_config *cfg, uint64_t rows, uint64_t seed_value,
                bool replace)
{
    struct gen g = {.rows = rows};
    struct ddl pd = {0}, wd = {0};
    struct parts *ps = calloc(1, sizeof(*ps));
    struct pair *sorted = NULL;
    struct fl_buf tsv;
    int64_t t_all = fl_time_mono_us(), t;
    int status = 1;

    rng_state = seed_value;
    fl_buf_init(&tsv, (size_t)rows * 1024 + 4096);
    g.keys = malloc(rows * sizeof(*g.keys));
    if (ps == NULL || g.keys == NULL || !make_places(&g) || !make_producers(&g) ||
        !make_vocab(&g) || !make_dict(&g)) {
        fputs("seed: out of memory\n", stderr);
        goto free_all;
    }
    if (!may_seed(db, ps, replace))
        goto free_all;
    t = fl_time_mono_us();
    drop_shadows(db, ps);
    if (read_indexes(db, "products", &pd) != FL_OK ||
        read_indexes(db, "product_words", &wd) != FL_OK || prepare(db, &pd, &wd, ps) != FL_OK)
        goto drop_shadows;
    phase("prepared tables", t);
    if (!generated(&g, &tsv, &sorted) || load_vocabulary(db, &g) != FL_OK)
        goto drop_shadows;
    t = fl_time_mono_us();
    if (!load_all(cfg, ps, &g, sorted, &tsv, &pd, &wd))
        goto drop_shadows;
    phase("loaded and indexed, together", t);
    t = fl_time_mono_us();
    if (!swap_in(db, ps))
        goto drop_shadows;
    phase("exchanged, analysed, swapped in", t);
    status = 0;
    /* Cached listings show the old catalogue: invalidate them (best effort). */
    fl_ctl_invalidate_cache(cfg, "seed");
    phase("seeded in all", t_all);
    goto free_all;
drop_shadows:
    fputs("\nseed: failed (see the log line above); the live tables are unchanged\n", stderr);
    drop_shadows(db, ps);
free_all:
    fl_buf_free(&tsv);
    fl_buf_free(&pd.drop);
    fl_buf_free(&pd.add);
    fl_buf_free(&wd.drop);
    fl_buf_free(&wd.add);
    free(sorted);
    free(ps);
    gen_free(&g);
    return status;
}

int fl_ctl_seed(const struct fl_config *cfg, int argc, char **argv)
{
    uint64_t rows = 0, seed_value = 42;
    bool replace = false;
    struct fl_db *db;
    int status;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc &&
            fl_str_to_u64(fl_str_c(argv[i + 1]), 1, ROWS_MAX, &rows) == FL_OK) {
            i++;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc &&
                   fl_str_to_u64(fl_str_c(argv[i + 1]), 0, UINT64_MAX, &seed_value) == FL_OK) {
            i++;
        } else if (strcmp(argv[i], "--replace") == 0) {
            replace = true;
        } else {
            rows = 0;
            break;
        }
    }
    if (rows == 0) {
        fputs(fl_ctl_usage("seed"), stderr);
        return 2;
    }
    db = fl_db_new(&cfg->mysql, 3600);
    if (db == NULL)
        return 1;
    fl_db_enable_bulk_load(db);
    status = seed(db, cfg, rows, seed_value, replace);
    fl_db_free(db);
    return status;
}
