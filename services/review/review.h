/* review.h: the review service: 1-5 star reviews per place, and each place's rating. */
#ifndef REVIEW_H
#define REVIEW_H

#include <jansson.h>
#include <stdbool.h>

#include "svc_app.h"

#define REVIEW_TEXT_MAX 2000
#define REVIEW_SEED_PLACES 2000

extern const struct svc_service review_service;

struct review_input {
    long long stars;
    const char *text; /* borrowed from the body; "" when absent */
};

/* Validates a POST body: stars an integer 1..5, text up to 2000 characters (newlines allowed).
 * False with rep set to 400. Pure. */
bool review_input_parse(json_t *body, struct review_input *in, struct svc_reply *rep);

/* The average of count ratings summing to sum, rounded to 2 decimals; 0 when count is 0. Pure. */
double review_average(long long sum, long long count);

#endif
