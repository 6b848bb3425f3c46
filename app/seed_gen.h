/* SPDX-License-Identifier: MIT */
/*
 * farmlokal-ctl seed's generator: N realistic, deterministic products (same seed, same
 * rows) made in memory as LOAD DATA text, with their search words, and the streams that
 * feed products, product_words and vocabulary to LOAD DATA LOCAL in primary-key order.
 */
#ifndef FL_SEED_GEN_H
#define FL_SEED_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl_str.h"

struct seed_gen;

/* A generator of rows products drawn from seed; NULL when out of memory. */
struct seed_gen *seed_gen_new(uint64_t rows, uint64_t seed);
void seed_gen_free(struct seed_gen *g);

/*
 * Generates every product and sorts their search words, saying how far it got on stderr.
 * Returns false, said on stderr, when memory ran out or a word was missing from the
 * dictionary.
 */
bool seed_gen_run(struct seed_gen *g);

/* After seed_gen_run: the products as LOAD DATA text (id, sku, name, description,
 * category, price, unit, stock, producer, created_at, updated_at), in id order. */
struct fl_str seed_gen_products(const struct seed_gen *g);

/* A LOAD DATA source (fl_db_source_fn) reading text from memory. */
struct seed_text {
    struct fl_str text;
    size_t at;
};
long seed_text_source(void *ud, char *buf, size_t cap);

/*
 * product_words rows (word, product_id, created_at, price, name, category) in primary-key
 * order, as a LOAD DATA source (seed_words_source). seed_gen_words gives *w the rows from
 * the at-th whose words sort below `below` ("" for no bound), and returns where the next
 * stream starts; w->end - w->at rows.
 */
struct seed_words {
    const struct seed_gen *g;
    size_t at, end;
    char line[512];
    size_t line_len, line_off;
};
size_t seed_gen_words(const struct seed_gen *g, size_t at, const char *below, struct seed_words *w);
long seed_words_source(void *ud, char *buf, size_t cap);

/* The vocabulary: the dictionary's words some product has, in byte (primary-key) order, as
 * a LOAD DATA source (seed_vocab_source). seed_gen_vocab returns false when out of memory;
 * seed_vocab_free frees what it allocated. */
struct seed_vocab {
    const struct seed_gen *g;
    bool *used;
    size_t at;
};
bool seed_gen_vocab(const struct seed_gen *g, struct seed_vocab *v);
long seed_vocab_source(void *ud, char *buf, size_t cap);
void seed_vocab_free(struct seed_vocab *v);

#endif
