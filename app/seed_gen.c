/* SPDX-License-Identifier: MIT */
/*
 * farmlokal-ctl seed's generator (seed_gen.h). Products are drawn from seed_data.c's
 * vocabulary with a seeded splitmix64; every word a product can contain is in a dictionary
 * made up front, so a product's search words are (word id, product id) pairs, sorted by a
 * counting sort into product_words' primary-key order.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fl_buf.h"
#include "fl_search.h"
#include "fl_time.h"
#include "seed_data.h"
#include "seed_gen.h"

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

struct seed_gen {
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
    struct fl_buf tsv;         /* the products as LOAD DATA text */
    struct pair *sorted;       /* pairs in product_words order (word, created_at, product) */
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
static bool make_places(struct seed_gen *g)
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

static bool make_producers(struct seed_gen *g)
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
static bool make_vocab(struct seed_gen *g)
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

static const char *zipf_word(struct seed_gen *g)
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
static bool make_dict(struct seed_gen *g)
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
    struct seed_gen *g;
    uint32_t product;
    size_t first; /* this product's first pair, for de-duplication */
};

static int record_word(void *ud, struct fl_str w)
{
    struct word_sink *s = ud;
    struct seed_gen *g = s->g;
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
static void make_product(struct seed_gen *g, uint64_t id)
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

static void progress(struct seed_gen *g, const char *what, uint64_t done, uint64_t total, bool last)
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

/* Generates every product row into g->tsv, and their words into g->pairs. */
static bool generate(struct seed_gen *g)
{
    struct fl_buf *out = &g->tsv;

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

long seed_text_source(void *ud, char *buf, size_t cap)
{
    struct seed_text *m = ud;
    size_t n = m->text.len - m->at < cap ? m->text.len - m->at : cap;

    memcpy(buf, m->text.p + m->at, n);
    m->at += n;
    return (long)n;
}

long seed_words_source(void *ud, char *buf, size_t cap)
{
    struct seed_words *w = ud;
    size_t n = 0;

    while (n < cap) {
        if (w->line_off == w->line_len) {
            const struct product_keys *k;
            struct pair *p;
            if (w->at == w->end)
                break;
            p = &w->g->sorted[w->at++];
            k = &w->g->keys[p->product - 1];
            /* The products TSV's text, not formatted again (9.7M times for 1M rows). */
            w->line_len = (size_t)snprintf(
                w->line, sizeof(w->line), "%s\t%u\t%.*s\t%lld.%02lld\t%.*s\t%s\n",
                w->g->dict.words[p->word], p->product, DB_TIME_LEN, w->g->tsv.p + k->created_at,
                (long long)(k->cents / 100), (long long)(k->cents % 100), (int)k->name_len,
                w->g->tsv.p + k->name_at, fl_seed_categories[k->category].name);
            w->line_off = 0;
        }
        size_t k = w->line_len - w->line_off < cap - n ? w->line_len - w->line_off : cap - n;
        memcpy(buf + n, w->line + w->line_off, k);
        w->line_off += k;
        n += k;
    }
    return (long)n;
}

long seed_vocab_source(void *ud, char *buf, size_t cap)
{
    struct seed_vocab *v = ud;
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

bool seed_gen_vocab(const struct seed_gen *g, struct seed_vocab *v)
{
    *v = (struct seed_vocab){g, calloc(g->dict.n ? g->dict.n : 1, sizeof(bool)), 0};
    if (v->used == NULL)
        return false;
    for (size_t i = 0; i < g->n_pairs; i++)
        v->used[g->pairs[i].word] = true;
    return true;
}

void seed_vocab_free(struct seed_vocab *v)
{
    free(v->used);
    v->used = NULL;
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
static struct pair *sort_pairs(struct seed_gen *g)
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

struct seed_gen *seed_gen_new(uint64_t rows, uint64_t seed)
{
    struct seed_gen *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return NULL;
    rng_state = seed;
    g->rows = rows;
    fl_buf_init(&g->tsv, (size_t)rows * 1024 + 4096);
    g->keys = malloc(rows * sizeof(*g->keys));
    if (g->keys == NULL || !make_places(g) || !make_producers(g) || !make_vocab(g) ||
        !make_dict(g)) {
        seed_gen_free(g);
        return NULL;
    }
    return g;
}

bool seed_gen_run(struct seed_gen *g)
{
    g->t0_us = fl_time_mono_us();
    if (!generate(g) || (g->sorted = sort_pairs(g)) == NULL) {
        fputs("seed: generating the rows failed\n", stderr);
        return false;
    }
    fprintf(stderr, "seed: %zu search index rows (%.1f per product)\n", g->n_pairs,
            (double)g->n_pairs / (double)g->rows);
    return true;
}

struct fl_str seed_gen_products(const struct seed_gen *g)
{
    return fl_buf_str(&g->tsv);
}

size_t seed_gen_words(const struct seed_gen *g, size_t at, const char *below, struct seed_words *w)
{
    size_t end = at;

    while (end < g->n_pairs &&
           (below[0] == '\0' || strcmp(g->dict.words[g->sorted[end].word], below) < 0))
        end++;
    *w = (struct seed_words){.g = g, .at = at, .end = end};
    return end;
}

void seed_gen_free(struct seed_gen *g)
{
    if (g == NULL)
        return;
    free(g->pairs);
    free(g->sorted);
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
    fl_buf_free(&g->tsv);
    free(g);
}
