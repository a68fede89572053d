/* place.h: the place service: places with a name, category, address and position. */
#ifndef PLACE_H
#define PLACE_H

#include <jansson.h>
#include <stdbool.h>

#include "svc_app.h"

#define PLACE_NAME_MAX 120
#define PLACE_ADDRESS_MAX 200
#define PLACE_CATEGORY_MAX 32
#define PLACE_SEED_COUNT 20000

extern const struct svc_service place_service;

/* A place's fields as a request gives them; has_* says which were present. */
struct place_input {
    const char *name, *category, *address; /* borrowed from the JSON body */
    double lat, lon;
    bool has_lat, has_lon;
};

/* Validates a POST (partial false: name, category, lat, lon required) or PATCH body (partial
 * true: at least one field). False with rep set to 400. Pure. */
bool place_input_parse(json_t *body, bool partial, struct place_input *in, struct svc_reply *rep);

/* A search: prefix (≤ 120 characters), category, limit, offset. */
struct place_query {
    char like[PLACE_NAME_MAX * 8 + 2]; /* the prefix escaped for LIKE, then % */
    const char *category;              /* NULL: any */
    long long limit, offset;
};

/* Validates GET /places's query. False with rep set to 400. Pure. */
bool place_query_parse(const struct svc_req *req, struct place_query *q, struct svc_reply *rep);

/* True when s is a category: 1..32 of a-z and _. Pure. */
bool place_category_valid(const char *s);

/* Inserts the deterministic data set (PLACE_SEED_COUNT places around real cities). */
bool place_seed(struct svc_app *app, struct svc_db_conn *c, struct svc_db_err *err);

#endif
