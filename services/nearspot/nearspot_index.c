/* nearspot_index.c: places in one array sorted by latitude, their strings in one arena. A search
 * takes the circle's bounding box (nearspot_box), binary-searches the latitude band, drops what
 * lies outside the box's longitude range(s), computes the exact haversine distance of the rest
 * and keeps the `cap` nearest.
 *
 * Memory (nearspot idles under 10 MiB with 20 000 places): an entry is 24 bytes. Coordinates
 * are 32-bit fixed point in 1e-7 degree (1.1 cm; exact for the 6 decimals the seed and most
 * clients write), turned back into doubles for the box test's bounds and the haversine, so a
 * search is exactly a scan of the stored coordinates. Strings are interned while places are
 * added: equal names, addresses and categories share one copy in the arena (the set that finds
 * them is freed by finish), and a category filter compares the query's category's offset. */
#include "nearspot_index.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define E7 10000000.0

struct entry {
    int32_t lat, lon;                 /* degrees * 1e7, rounded */
    uint32_t name, address, category; /* arena offsets of interned strings */
    uint32_t id_lo, id_hi;            /* the id in two halves: 28 bytes, not 32 */
};

/* A set of arena offsets by their strings' contents: open addressing, at most half full. */
struct strset {
    uint32_t *slot; /* UINT32_MAX: empty */
    size_t n, cap;  /* cap: 0 or a power of two */
};

struct nearspot_index {
    struct entry *e;
    size_t n, cap;
    char *arena;
    size_t used, size;
    struct strset strs; /* every string, while places are added (freed by finish) */
    struct strset cats; /* the distinct categories, for a search's category filter */
};

struct nearspot_index *nearspot_index_new(void)
{
    return calloc(1, sizeof(struct nearspot_index));
}

void nearspot_index_free(struct nearspot_index *ix)
{
    if (!ix)
        return;
    free(ix->e);
    free(ix->arena);
    free(ix->strs.slot);
    free(ix->cats.slot);
    free(ix);
}

/* deg in [-180, 180] (place checks what it stores); clamped to what 32 bits hold otherwise */
static int32_t to_e7(double deg)
{
    return (int32_t)lround(fmax(-214.0, fmin(214.0, deg)) * E7);
}

static double from_e7(int32_t v)
{
    return (double)v / E7;
}

static long long id_of(const struct entry *e)
{
    return (long long)(((uint64_t)e->id_hi << 32) | e->id_lo);
}

/* Makes room for len more bytes in the arena. False on OOM or past 4 GiB. */
static bool arena_room(struct nearspot_index *ix, size_t len)
{
    if (ix->used + len <= ix->size)
        return true;
    size_t size = ix->size ? 2 * ix->size : 64 * 1024;
    while (size < ix->used + len)
        size *= 2;
    if (size >= UINT32_MAX)
        return false;
    char *a = realloc(ix->arena, size);
    if (!a)
        return false;
    ix->arena = a;
    ix->size = size;
    return true;
}

static size_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot of string s in set: where it is, or the empty slot where it would go. */
static size_t set_slot(const struct nearspot_index *ix, const struct strset *set, const char *s)
{
    size_t mask = set->cap - 1, i = hash(s) & mask;
    while (set->slot[i] != UINT32_MAX && strcmp(ix->arena + set->slot[i], s) != 0)
        i = (i + 1) & mask;
    return i;
}

/* Makes room for one more string in set (kept at most half full). False on OOM. */
static bool set_room(struct nearspot_index *ix, struct strset *set)
{
    if (2 * (set->n + 1) <= set->cap)
        return true;
    size_t cap = set->cap ? 2 * set->cap : 16;
    struct strset old = *set;
    uint32_t *t = malloc(cap * sizeof(*t));
    if (!t)
        return false;
    memset(t, 0xff, cap * sizeof(*t));
    set->slot = t;
    set->cap = cap;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slot[i] != UINT32_MAX)
            t[set_slot(ix, set, ix->arena + old.slot[i])] = old.slot[i];
    free(old.slot);
    return true;
}

/* The arena offset of a copy of s: the one already there (names, addresses and categories
 * repeat: chains, streets) or a new one. UINT32_MAX on OOM or past 4 GiB. */
static uint32_t intern(struct nearspot_index *ix, struct strset *set, const char *s)
{
    if (!set_room(ix, set))
        return UINT32_MAX;
    size_t i = set_slot(ix, set, s);
    if (set->slot[i] != UINT32_MAX)
        return set->slot[i];
    size_t len = strlen(s) + 1;
    if (!arena_room(ix, len))
        return UINT32_MAX;
    memcpy(ix->arena + ix->used, s, len);
    set->slot[i] = (uint32_t)ix->used;
    set->n++;
    ix->used += len;
    return set->slot[i];
}

bool nearspot_index_add(struct nearspot_index *ix, long long id, const char *name,
                        const char *category, const char *address, double lat, double lon)
{
    if (ix->n == ix->cap) {
        size_t cap = ix->cap ? 2 * ix->cap : 1024;
        struct entry *e = realloc(ix->e, cap * sizeof(*e));
        if (!e)
            return false;
        ix->e = e;
        ix->cap = cap;
    }
    /* a category goes into both sets: the first copy of its text, wherever it came from */
    uint32_t n = intern(ix, &ix->strs, name), a = intern(ix, &ix->strs, address);
    uint32_t c = intern(ix, &ix->strs, category);
    if (n == UINT32_MAX || a == UINT32_MAX || c == UINT32_MAX || !set_room(ix, &ix->cats))
        return false;
    size_t i = set_slot(ix, &ix->cats, category);
    if (ix->cats.slot[i] == UINT32_MAX) {
        ix->cats.slot[i] = c;
        ix->cats.n++;
    }
    uint64_t u = (uint64_t)id;
    ix->e[ix->n++] = (struct entry){to_e7(lat), to_e7(lon), n, a, c, (uint32_t)u,
                                    (uint32_t)(u >> 32)};
    return true;
}

bool nearspot_index_reserve(struct nearspot_index *ix, size_t n, size_t string_bytes)
{
    if (n > ix->cap) {
        struct entry *e = realloc(ix->e, n * sizeof(*e));
        if (!e)
            return false;
        ix->e = e;
        ix->cap = n;
    }
    if (string_bytes > ix->size && string_bytes < UINT32_MAX) {
        char *a = realloc(ix->arena, string_bytes);
        if (!a)
            return false;
        ix->arena = a;
        ix->size = string_bytes;
    }
    return true;
}

static int by_lat(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->lat != y->lat)
        return x->lat < y->lat ? -1 : 1;
    return id_of(x) < id_of(y) ? -1 : id_of(x) > id_of(y);
}

void nearspot_index_finish(struct nearspot_index *ix)
{
    if (ix->n)
        qsort(ix->e, ix->n, sizeof(*ix->e), by_lat);
    free(ix->strs.slot);
    ix->strs = (struct strset){0};
    /* give back what the reservation held beyond the places (a shrinking realloc cannot fail
     * to keep the block; when it returns NULL the block stays as it was) */
    if (ix->cap > ix->n && ix->n) {
        struct entry *e = realloc(ix->e, ix->n * sizeof(*e));
        if (e) {
            ix->e = e;
            ix->cap = ix->n;
        }
    }
    if (ix->size > ix->used && ix->used) {
        char *a = realloc(ix->arena, ix->used);
        if (a) {
            ix->arena = a;
            ix->size = ix->used;
        }
    }
}

size_t nearspot_index_size(const struct nearspot_index *ix)
{
    return ix->n;
}

size_t nearspot_index_bytes(const struct nearspot_index *ix)
{
    return sizeof(*ix) + ix->cap * sizeof(*ix->e) + ix->size +
           ix->cats.cap * sizeof(*ix->cats.slot);
}

/* The smallest v with from_e7(v) >= deg (the first stored value the box takes). */
static long long e7_at_least(double deg)
{
    long long v = llround(deg * E7);
    while ((double)(v - 1) / E7 >= deg)
        v--;
    while ((double)v / E7 < deg)
        v++;
    return v;
}

/* The largest v with from_e7(v) <= deg. */
static long long e7_at_most(double deg)
{
    long long v = llround(deg * E7);
    while ((double)(v + 1) / E7 <= deg)
        v++;
    while ((double)v / E7 > deg)
        v--;
    return v;
}

/* The first entry with lat >= lat_min. */
static size_t lower_bound(const struct nearspot_index *ix, long long lat_min)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->e[mid].lat < lat_min)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool nearer(const struct nearspot_hit *x, const struct nearspot_hit *y)
{
    return x->km < y->km || (x->km == y->km && x->id < y->id);
}

/* Inserts h into out[0..*n) kept nearest first, at most cap long (an insertion into a short
 * sorted array: cap is at most a page of results). */
static void keep(struct nearspot_hit *out, size_t *n, size_t cap, const struct nearspot_hit *h)
{
    if (*n == cap && (cap == 0 || !nearer(h, &out[cap - 1])))
        return;
    size_t i = *n < cap ? (*n)++ : cap - 1;
    while (i > 0 && nearer(h, &out[i - 1])) {
        out[i] = out[i - 1];
        i--;
    }
    out[i] = *h;
}

size_t nearspot_index_search(const struct nearspot_index *ix, const struct nearspot_query *q,
                             struct nearspot_hit *out, size_t cap, size_t *total)
{
    struct nearspot_box b;
    size_t n = 0;
    uint32_t cat = UINT32_MAX;

    *total = 0;
    if (q->category) {
        if (!ix->cats.cap)
            return 0;
        cat = ix->cats.slot[set_slot(ix, &ix->cats, q->category)];
        if (cat == UINT32_MAX) /* no place has it */
            return 0;
    }
    nearspot_box(q->lat, q->lon, q->radius_km, &b);
    /* the box in stored units: exactly the places whose converted coordinates lie in it */
    long long lat_min = e7_at_least(b.lat_min), lat_max = e7_at_most(b.lat_max);
    long long lon_min[2] = {e7_at_least(b.lon_min[0]), e7_at_least(b.lon_min[1])};
    long long lon_max[2] = {e7_at_most(b.lon_max[0]), e7_at_most(b.lon_max[1])};
    for (size_t i = lower_bound(ix, lat_min); i < ix->n && ix->e[i].lat <= lat_max; i++) {
        const struct entry *e = &ix->e[i];
        if (!((e->lon >= lon_min[0] && e->lon <= lon_max[0]) ||
              (e->lon >= lon_min[1] && e->lon <= lon_max[1])))
            continue;
        if (q->category && e->category != cat)
            continue;
        double lat = from_e7(e->lat), lon = from_e7(e->lon);
        double km = nearspot_haversine_km(q->lat, q->lon, lat, lon);
        if (km > q->radius_km)
            continue;
        struct nearspot_hit h = {km,
                                 id_of(e),
                                 lat,
                                 lon,
                                 ix->arena + e->name,
                                 ix->arena + e->category,
                                 ix->arena + e->address};
        (*total)++;
        keep(out, &n, cap, &h);
    }
    return n;
}
