/* engine_state.c: persistence of the state table: snapshot, save, load. */
#include "engine_internal.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "store.h"
#include "utf8.h"

static const char *str_of(const json_t *j)
{
    const char *s = json_string_value(j);
    return s ? s : "";
}

static int64_t get_i64(const json_t *o, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(o, key));
}

static void res_from_json(struct res_state *r, const json_t *o)
{
    const json_t *f;
    size_t i;

    engine_clear_res(r);
    r->out = json_is_true(json_object_get(o, "scaled_out"));
    r->base = get_i64(o, "baseline");
    r->base_swap = get_i64(o, "baseline_swap");
    r->applied = get_i64(o, "applied");
    r->applied_swap = get_i64(o, "applied_swap");
    r->base_res = get_i64(o, "baseline_reservation");
    r->applied_res = get_i64(o, "applied_reservation");
    r->deadline_ms = get_i64(o, "deadline_ms");
    r->since_ms = get_i64(o, "since_ms");
    json_array_foreach(json_object_get(o, "firing"), i, f)
    {
        if (r->n_firing == MAX_FIRING)
            break;
        utf8_copy(r->firing[r->n_firing].fingerprint, sizeof(r->firing[0].fingerprint),
                  str_of(json_object_get(f, "fingerprint")));
        utf8_copy(r->firing[r->n_firing].alertname, sizeof(r->firing[0].alertname),
                  str_of(json_object_get(f, "alertname")));
        r->n_firing++;
    }
}

/* Snapshot of the table (lock held). NULL when an entry cannot be serialized: then nothing is
 * saved, rather than a state file that silently lacks a container. */
static json_t *table_json(struct engine *e)
{
    json_t *arr = json_array();
    char qn[300];

    for (size_t i = 0; arr && i < e->n_t; i++) {
        if (json_array_append_new(arr, engine_entry_json(&e->t[i])) != 0) {
            log_error("cannot serialize a container's state; state file not updated",
                      "container=%s", log_quote(qn, sizeof(qn), e->t[i].name));
            json_decref(arr);
            return NULL;
        }
    }
    return arr ? json_pack("{s:i, s:o}", "version", 1, "containers", arr) : NULL;
}

/* Bumps the generation and snapshots (lock held); save outside the lock with persist_save(). */
static json_t *persist_begin(struct engine *e, uint64_t *gen)
{
    *gen = ++e->gen;
    return e->o.store ? table_json(e) : NULL;
}

/* Saves doc (consumed). False when a store is configured and this snapshot is not on disk: it
 * could not be serialized, or the write failed (the store then retries it in the background).
 * serr, optional, gets the store's message. */
static bool persist_save(struct engine *e, json_t *doc, uint64_t gen, struct store_err *serr)
{
    struct store_err local = {0};
    bool ok;

    if (!e->o.store)
        return true;
    if (!serr)
        serr = &local;
    if (!doc) {
        snprintf(serr->msg, sizeof(serr->msg), "state could not be serialized");
        return false;
    }
    ok = store_save(e->o.store, doc, gen, serr) == STORE_OK;
    if (!ok)
        log_error("cannot save state", "error=%s", serr->msg[0] ? serr->msg : "unknown");
    json_decref(doc);
    return ok;
}

/* Unlocks after snapshotting, then saves; returns persist_save()'s verdict. */
bool engine_unlock_persist_err(struct engine *e, struct store_err *serr)
{
    uint64_t gen;
    json_t *doc = persist_begin(e, &gen);

    pthread_mutex_unlock(&e->lock);
    return persist_save(e, doc, gen, serr);
}

void engine_unlock_persist(struct engine *e)
{
    engine_unlock_persist_err(e, NULL);
}

engine_code engine_load(struct engine *e, struct engine_err *err)
{
    struct store_err serr = {0};
    json_t *doc = NULL, *c;
    size_t i;

    if (!e->o.store)
        return ENGINE_OK;
    store_code rc = store_load(e->o.store, &doc, &serr);
    if (rc == STORE_E_NOTFOUND)
        return ENGINE_OK;
    if (rc != STORE_OK) {
        ERR_SET(err, ENGINE_E_STORE, "%s", serr.msg);
        return ENGINE_E_STORE;
    }
    pthread_mutex_lock(&e->lock);
    json_array_foreach(json_object_get(doc, "containers"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        /* never cut a container name: a prefix could name another container */
        bool usable = name && *name && strlen(name) < sizeof(e->t[0].name);
        struct entry *en = usable ? engine_get_entry(e, name) : NULL;
        if (!en)
            continue;
        utf8_copy(en->id, sizeof(en->id), str_of(json_object_get(c, "id")));
        res_from_json(&en->r[POLICY_CPU], json_object_get(c, "cpu"));
        res_from_json(&en->r[POLICY_MEMORY], json_object_get(c, "memory"));
        en->service = strcmp(str_of(json_object_get(c, "kind")), "service") == 0;
        if (en->service) {
            res_from_json(&en->r[POLICY_REPLICAS], json_object_get(c, "replicas"));
            en->version = (uint64_t)get_i64(c, "version");
        }
        const json_t *last = json_object_get(c, "last_action");
        utf8_copy(en->last_action, sizeof(en->last_action),
                  str_of(json_object_get(last, "action")));
        utf8_copy(en->last_result, sizeof(en->last_result),
                  str_of(json_object_get(last, "result")));
        utf8_copy(en->last_error, sizeof(en->last_error), str_of(json_object_get(last, "error")));
        en->last_action_ms = get_i64(last, "at_ms");
        en->h.maintenance = json_is_true(json_object_get(c, "maintenance"));
        en->h.operator_stopped =
            json_is_true(json_object_get(json_object_get(c, "heal"), "operator_stopped"));
    }
    log_info("state loaded", "path=%s containers=%zu", store_path(e->o.store), e->n_t);
    pthread_mutex_unlock(&e->lock);
    json_decref(doc);
    return ENGINE_OK;
}
