/* nearspot_index.h: an in-memory spatial index of places: sorted by latitude, searched with the
 * circle's bounding box and the exact haversine distance. Pure: no I/O, no locks. */
#ifndef NEARSPOT_INDEX_H
#define NEARSPOT_INDEX_H

#include <stdbool.h>
#include <stddef.h>

#include "nearspot.h"

struct nearspot_index;

/* One place as a search returns it: borrowed from the index, valid while the index lives. */
struct nearspot_hit {
    double km;
    long long id;
    double lat, lon;
    const char *name, *category, *address;
};

/* Makes an empty index that can take places (nearspot_index_add) until nearspot_index_finish.
 * NULL on OOM. */
struct nearspot_index *nearspot_index_new(void);
void nearspot_index_free(struct nearspot_index *ix);

/* Copies one place in. False on OOM (the index stays usable, without it). Before finish only. */
bool nearspot_index_add(struct nearspot_index *ix, long long id, const char *name,
                        const char *category, const char *address, double lat, double lon);
/* Makes room for n places and string_bytes of their strings (NULs included) at once, so that a
 * load of a known size does not grow by doubling (each step leaves a freed copy in the heap).
 * False on OOM (the index is unchanged). Before finish only. */
bool nearspot_index_reserve(struct nearspot_index *ix, size_t n, size_t string_bytes);
/* Sorts the places; after it the index is read-only and may be searched from any thread. */
void nearspot_index_finish(struct nearspot_index *ix);
size_t nearspot_index_size(const struct nearspot_index *ix);
/* Bytes the index holds (places and their strings). */
size_t nearspot_index_bytes(const struct nearspot_index *ix);

/*
 * The places within q->radius_km of (q->lat, q->lon) (and of q->category when set), nearest
 * first, ties by id. Writes at most `cap` hits into out and returns how many it wrote; *total
 * gets the number of places in the circle. Allocates nothing. Read-only; any thread once
 * finished.
 */
size_t nearspot_index_search(const struct nearspot_index *ix, const struct nearspot_query *q,
                             struct nearspot_hit *out, size_t cap, size_t *total);

#endif
