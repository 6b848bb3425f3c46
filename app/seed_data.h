/* SPDX-License-Identifier: MIT */
/* The vocabulary farmlokal-ctl seed draws realistic farm produce from (seed_data.c). */
#ifndef FL_SEED_DATA_H
#define FL_SEED_DATA_H

#include <stddef.h>

struct fl_seed_category {
    const char *name;            /* "vegetables" */
    const char *code;            /* sku prefix, "VEG" */
    const char *const *products; /* base names, "Cherry Tomatoes" */
    const char *const *units;
    const char *const *traits; /* category words for descriptions */
    int min_cents, max_cents;  /* price range */
};

extern const struct fl_seed_category fl_seed_categories[];
extern const size_t fl_seed_n_categories;

/* Words for names ("Organic"), producers ("Green", "Valley", "Farm") and descriptions. */
extern const char *const fl_seed_adjectives[];
extern const char *const fl_seed_place_words[];
extern const char *const fl_seed_place_kinds[];
extern const char *const fl_seed_producer_kinds[];
extern const char *const fl_seed_common_words[];
extern const char *const fl_seed_syllables[];

#endif
