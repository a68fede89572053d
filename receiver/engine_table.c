/* engine_table.c: the state table of managed containers and services (lock held throughout). */
#include "engine_internal.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "utf8.h"

/* The engine's wall clock (engine_opts.clock), in milliseconds. */
int64_t engine_now(struct engine *e)
{
    return e->o.clock(e->o.clock_ud);
}

/* Whether ref reads as a container or service ID or an ID prefix `docker ps` shows: 12 to 64
 * lowercase hexadecimal digits. */
static bool id_like(const char *ref)
{
    size_t len = strspn(ref, "0123456789abcdef");

    return len >= 12 && len <= 64 && ref[len] == '\0';
}

bool engine_id_alias(const char *id, const char *ref)
{
    return id[0] && id_like(ref) && strncmp(id, ref, strlen(ref)) == 0;
}

uint64_t engine_name_hash(const char *name)
{
    uint64_t h = 1469598103934665603ULL;

    for (const char *p = name; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    return h;
}

/* ID-keyed: once an entry knows its target's ID, the name, the full ID and any prefix of at least
 * 12 characters all find it (one entry, one claim, one maintenance flag). A prefix two entries
 * share finds neither. */
struct entry *engine_find_entry(struct engine *e, const char *name)
{
    struct entry *by_id = NULL;
    uint64_t h = engine_name_hash(name);

    for (size_t i = 0; i < e->n_t; i++) {
        if (e->t_hash[i] == h && strcmp(e->t[i].name, name) == 0)
            return &e->t[i];
    }
    for (size_t i = 0; id_like(name) && i < e->n_t; i++) {
        if (engine_id_alias(e->t[i].id, name)) {
            if (by_id)
                return NULL;
            by_id = &e->t[i];
        }
    }
    return by_id;
}

/* Lock held. The cache entry ref names (its name, else its ID or an unambiguous ID prefix), or
 * NULL. */
const struct cache_entry *engine_cache_find(const struct engine *e, const char *ref)
{
    const struct cache_entry *by_id = NULL;
    uint64_t h = engine_name_hash(ref);

    for (size_t i = 0; i < e->n_cache; i++) {
        if (e->cache_hash[i] == h && strcmp(e->cache[i].name, ref) == 0)
            return &e->cache[i];
    }
    for (size_t i = 0; id_like(ref) && i < e->n_cache; i++) {
        if (engine_id_alias(e->cache[i].c.id, ref)) {
            if (by_id)
                return NULL;
            by_id = &e->cache[i];
        }
    }
    return by_id;
}

void engine_canonical(struct engine *e, const char *ref, char *out, size_t size)
{
    const struct entry *en = engine_find_entry(e, ref);
    const struct cache_entry *ce = en ? NULL : engine_cache_find(e, ref);

    utf8_copy(out, size, en ? en->name : ce ? ce->name : ref);
}

struct entry *engine_get_entry(struct engine *e, const char *name)
{
    struct entry *en = engine_find_entry(e, name);

    if (en || e->n_t >= MAX_ENTRIES)
        return en;
    if (e->n_t == e->cap_t) {
        size_t cap = e->cap_t ? e->cap_t * 2 : 16;
        uint64_t *th = realloc(e->t_hash, cap * sizeof(*th));
        if (!th)
            return NULL;
        e->t_hash = th; /* larger than needed until t grows too: harmless */
        struct entry *t = realloc(e->t, cap * sizeof(*t));
        if (!t)
            return NULL;
        e->t = t;
        e->cap_t = cap;
    }
    en = &e->t[e->n_t++];
    memset(en, 0, sizeof(*en));
    utf8_copy(en->name, sizeof(en->name), name);
    e->t_hash[e->n_t - 1] = engine_name_hash(en->name); /* as stored (utf8_copy may cut) */
    const struct cache_entry *ce = engine_cache_find(e, name);
    if (ce && strcmp(ce->name, name) == 0) /* keyed by ID from the start when the cache knows it */
        utf8_copy(en->id, sizeof(en->id), ce->c.id);
    return en;
}

void engine_drop_entry(struct engine *e, const char *name)
{
    struct entry *en = engine_find_entry(e, name);

    if (!en)
        return;
    size_t i = (size_t)(en - e->t);
    *en = e->t[e->n_t - 1];
    e->t_hash[i] = e->t_hash[e->n_t - 1];
    e->n_t--;
}

/* Records the job's alert as firing. Returns true when it was not recorded yet. */
bool engine_add_firing(struct res_state *r, const struct engine_job *job)
{
    if (!job->from_alert || !job->fingerprint[0])
        return false;
    for (size_t i = 0; i < r->n_firing; i++) {
        if (strcmp(r->firing[i].fingerprint, job->fingerprint) == 0)
            return false;
    }
    if (r->n_firing == MAX_FIRING) {
        memmove(&r->firing[0], &r->firing[1], sizeof(r->firing[0]) * (MAX_FIRING - 1));
        r->n_firing--;
    }
    utf8_copy(r->firing[r->n_firing].fingerprint, sizeof(r->firing[0].fingerprint),
              job->fingerprint);
    utf8_copy(r->firing[r->n_firing].alertname, sizeof(r->firing[0].alertname), job->alertname);
    r->n_firing++;
    return true;
}

/* Returns true when the alert was recorded. */
bool engine_remove_firing(struct res_state *r, const char *fingerprint)
{
    for (size_t i = 0; i < r->n_firing; i++) {
        if (strcmp(r->firing[i].fingerprint, fingerprint) == 0) {
            r->firing[i] = r->firing[r->n_firing - 1];
            r->n_firing--;
            return true;
        }
    }
    return false;
}

void engine_clear_res(struct res_state *r)
{
    memset(r, 0, sizeof(*r));
}

void engine_note(struct entry *en, int64_t now, const char *action, const char *result,
                 const char *error)
{
    utf8_copy(en->last_action, sizeof(en->last_action), action);
    utf8_copy(en->last_result, sizeof(en->last_result), result);
    utf8_copy(en->last_error, sizeof(en->last_error), error);
    en->last_action_ms = now;
}

bool engine_in_maintenance(struct engine *e, const char *name)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, name);
    bool m = en && en->h.maintenance;
    pthread_mutex_unlock(&e->lock);
    return m;
}

const char *engine_kind_label(enum policy_kind k, enum policy_resource r)
{
    if (k == POLICY_SCALE_OUT)
        return policy_resources[r].kind_out;
    if (k == POLICY_SCALE_IN || k == POLICY_RESOLVE)
        return policy_resources[r].kind_in;
    return "restart";
}

double engine_since_s(int64_t t0)
{
    return (double)(clock_mono_ms() - t0) / 1000.0;
}
