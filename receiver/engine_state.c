/* engine_state.c: persistence of the state table: its versioned file codec, snapshot, save,
 * load. */
#include "engine_internal.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "store.h"
#include "utf8.h"

/*
 * The state file's codec, separate from the API's view (engine_view.c): only what a restart
 * needs, in a versioned document.
 *
 * Version 2 (written): {"version": 2, "containers": [{"name", "id", "kind": "container" |
 * "service", "service_version" (services), "maintenance", "operator_stopped", "last_action":
 * {"action", "result", "error", "at_ms"}, "<resource>": {"scaled_out", "baseline", "applied",
 * "baseline_swap", "applied_swap" (container memory), "baseline_reservation",
 * "applied_reservation" (service CPU and memory), "deadline_ms", "since_ms", "firing":
 * [{"fingerprint", "alertname"}]}}]} with one object per resource the target has.
 * Every entry carries its target's "id" (a file with an entry without one is refused whole);
 * entries not yet tied to an ID are not written.
 * The file also carries "generation", the engine's save counter it was written at: records of
 * the store's journal (store.h) at or below it are older than the file and skipped on load. A
 * journal record holds one entry of this same version 2 shape.
 * Version 1 (read): the API's view of each entry as it was, the service's Version.Index as
 * "version" and operator_stopped under "heal".
 */
#define STATE_VERSION 2

static const char *str_of(const json_t *j)
{
    const char *s = json_string_value(j);
    return s ? s : "";
}

static int64_t get_i64(const json_t *o, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(o, key));
}

static bool has_res(const struct entry *en, int r)
{
    return engine_has_resource(en->service, (enum policy_resource)r);
}

static json_t *res_encode(const struct res_state *r, int which, bool service)
{
    json_t *firing = json_array();

    for (size_t i = 0; firing && i < r->n_firing; i++)
        json_array_append_new(firing,
                              json_pack("{s:s, s:s}", "fingerprint", r->firing[i].fingerprint,
                                        "alertname", r->firing[i].alertname));
    json_t *o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:o}", "scaled_out", r->out, "baseline",
                          (json_int_t)r->base, "applied", (json_int_t)r->applied, "deadline_ms",
                          (json_int_t)r->deadline_ms, "since_ms", (json_int_t)r->since_ms, "firing",
                          firing);
    if (o && !service && engine_res_docker[which].ct_aux) {
        json_object_set_new(o, "baseline_swap", json_integer(r->base_swap));
        json_object_set_new(o, "applied_swap", json_integer(r->applied_swap));
    }
    if (o && service && engine_res_docker[which].svc_reserve) {
        json_object_set_new(o, "baseline_reservation", json_integer(r->base_res));
        json_object_set_new(o, "applied_reservation", json_integer(r->applied_res));
    }
    return o;
}

static json_t *entry_encode(const struct entry *en)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:b, s:b, s:{s:s, s:s, s:s, s:I}}", "name", en->name, "id", en->id, "kind",
        en->service ? "service" : "container", "maintenance", en->h.maintenance, "operator_stopped",
        en->h.operator_stopped, "last_action", "action", en->last_action, "result", en->last_result,
        "error", en->last_error, "at_ms", (json_int_t)en->last_action_ms);

    for (int r = 0; o && r < POLICY_N_RESOURCES; r++) {
        if (has_res(en, r) && json_object_set_new(o, policy_resources[r].name,
                                                  res_encode(&en->r[r], r, en->service)) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    if (o && en->service)
        json_object_set_new(o, "service_version", json_integer((json_int_t)en->version));
    return o;
}

static void res_decode(struct res_state *r, const json_t *o)
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

/* One entry of a version 1 or 2 file into en (named already). */
static void entry_decode(struct entry *en, const json_t *c, int version)
{
    en->service = strcmp(str_of(json_object_get(c, "kind")), "service") == 0;
    utf8_copy(en->id, sizeof(en->id), str_of(json_object_get(c, "id")));
    for (int r = 0; r < POLICY_N_RESOURCES; r++) {
        if (has_res(en, r))
            res_decode(&en->r[r], json_object_get(c, policy_resources[r].name));
    }
    if (en->service)
        en->version = (uint64_t)get_i64(c, version == 1 ? "version" : "service_version");
    const json_t *last = json_object_get(c, "last_action");
    utf8_copy(en->last_action, sizeof(en->last_action), str_of(json_object_get(last, "action")));
    utf8_copy(en->last_result, sizeof(en->last_result), str_of(json_object_get(last, "result")));
    utf8_copy(en->last_error, sizeof(en->last_error), str_of(json_object_get(last, "error")));
    en->last_action_ms = get_i64(last, "at_ms");
    en->h.maintenance = json_is_true(json_object_get(c, "maintenance"));
    const json_t *stopped = version == 1
                                ? json_object_get(json_object_get(c, "heal"), "operator_stopped")
                                : json_object_get(c, "operator_stopped");
    en->h.operator_stopped = json_is_true(stopped);
}

/* Snapshot of the table at generation gen (lock held). NULL when an entry cannot be serialized:
 * then nothing is saved, rather than a state file that silently lacks a container. */
static json_t *table_json(struct engine *e, uint64_t gen)
{
    json_t *arr = json_array();
    char qn[300];

    for (size_t i = 0; arr && i < e->n_t; i++) {
        if (!e->t[i].id[0])
            continue; /* not tied to an ID yet (a heal queued by name): nothing a restart needs */
        if (json_array_append_new(arr, entry_encode(&e->t[i])) != 0) {
            log_error("cannot serialize a container's state; state file not updated",
                      "container=%s", log_quote(qn, sizeof(qn), e->t[i].name));
            json_decref(arr);
            return NULL;
        }
    }
    return arr ? json_pack("{s:i, s:I, s:o}", "version", STATE_VERSION, "generation",
                           (json_int_t)gen, "containers", arr)
               : NULL;
}

/* Bumps the generation and snapshots (lock held); save outside the lock with persist_save(). */
static json_t *persist_begin(struct engine *e, uint64_t *gen)
{
    *gen = ++e->gen;
    return e->o.store ? table_json(e, *gen) : NULL;
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

/* The journal grows by one record per action and is cut by every save of the whole table; past
 * this size the next entry is saved with the whole table instead, which cuts it. */
#define JOURNAL_COMPACT_BYTES (256 * 1024)

/* Whether a one-entry change goes to the journal (else the whole table is saved). */
static bool journal_takes_changes(struct engine *e)
{
    return e->o.store && store_journal_bytes(e->o.store) < JOURNAL_COMPACT_BYTES;
}

/* value (consumed) is the record's snapshot, taken under the lock: bumps the generation, unlocks,
 * appends {kind: value}; false (serr filled) when it is not on disk. */
static bool unlock_append(struct engine *e, const char *kind, json_t *value,
                          struct store_err *serr)
{
    uint64_t gen = ++e->gen;

    pthread_mutex_unlock(&e->lock);
    bool ok = value && store_append(e->o.store, kind, value, gen, serr) == STORE_OK;
    if (!value)
        snprintf(serr->msg, sizeof(serr->msg), "state could not be serialized");
    json_decref(value);
    return ok;
}

/* unlock_append(), and when the append fails the whole table instead, which logs the failure and
 * is retried until it is written. */
static void unlock_append_or_persist(struct engine *e, const char *kind, json_t *value)
{
    struct store_err serr = {0};

    if (unlock_append(e, kind, value, &serr))
        return;
    pthread_mutex_lock(&e->lock);
    engine_unlock_persist(e);
}

bool engine_unlock_journal_err(struct engine *e, const struct entry *en, struct store_err *serr)
{
    struct store_err local = {0};
    char qn[300];

    if (!e->o.store) {
        pthread_mutex_unlock(&e->lock);
        return true;
    }
    if (!en || !en->id[0])
        return engine_unlock_persist_err(e, serr);
    if (!serr)
        serr = &local;
    log_quote(qn, sizeof(qn), en->name);
    bool ok = unlock_append(e, "entry", entry_encode(en), serr);
    if (!ok)
        log_error("cannot save state", "container=%s error=%s", qn,
                  serr->msg[0] ? serr->msg : "unknown");
    return ok;
}

bool engine_unlock_drop(struct engine *e, const char *ref)
{
    struct entry *en = engine_find_entry(e, ref);
    char name[sizeof(en->name)];

    if (!en) {
        pthread_mutex_unlock(&e->lock);
        return false;
    }
    snprintf(name, sizeof(name), "%s", en->name);
    engine_drop_entry(e, name);
    if (journal_takes_changes(e))
        unlock_append_or_persist(e, "drop", json_string(name));
    else
        engine_unlock_persist(e);
    return true;
}

void engine_unlock_persist_entry(struct engine *e, const struct entry *en)
{
    if (en && en->id[0] && journal_takes_changes(e))
        unlock_append_or_persist(e, "entry", entry_encode(en));
    else
        engine_unlock_persist(e);
}

/* The document's shape before anything of it is read: an object with "containers" an array of
 * objects each with a non-empty string "name", and "version" an integer >= 1 (absent only in the
 * first files, which are version 1). Anything else is refused whole and the file left as it is:
 * "{}" is not an empty table to be rewritten over what the operator had. 0, or -1 with why set. */
static int check_shape(const json_t *doc, json_int_t *version, char *why, size_t size)
{
    const json_t *v = json_object_get(doc, "version");
    const json_t *arr = json_object_get(doc, "containers");
    const json_t *c;
    size_t i;

    *version = v ? json_integer_value(v) : 1; /* the first files had no number */
    if (v && !json_is_integer(v)) {
        snprintf(why, size, "\"version\" is not a number");
        return -1;
    }
    if (*version < 1) {
        snprintf(why, size, "state file version %" JSON_INTEGER_FORMAT " was never written",
                 *version);
        return -1;
    }
    if (!json_is_array(arr)) {
        snprintf(why, size, "no \"containers\" array");
        return -1;
    }
    json_array_foreach(arr, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *id = json_string_value(json_object_get(c, "id"));
        if (!json_is_object(c) || !name || !*name) {
            snprintf(why, size, "containers[%zu] is not an object with a \"name\"", i);
            return -1;
        }
        /* state is keyed by the ID it was made on: without it a claim could land on whatever
         * now carries the name */
        if (!id || !*id || strlen(id) > 64) {
            snprintf(why, size, "containers[%zu] has no container or service \"id\"", i);
            return -1;
        }
    }
    return 0;
}

/* An entry's name as the table takes it, or NULL: never cut a name (a prefix could name another
 * container). */
static const char *usable_name(const struct engine *e, const json_t *c)
{
    const char *name = json_string_value(json_object_get(c, "name"));

    return name && *name && strlen(name) < sizeof(e->t[0].name) ? name : NULL;
}

/* The journal's records newer than the file, applied over it in order (lock held): an entry
 * decoded, a drop removed; *newest gets the journal's highest generation. */
static engine_code load_journal(struct engine *e, uint64_t file_gen, uint64_t *newest,
                                size_t *applied, struct engine_err *err)
{
    struct store_err serr = {0};
    json_t *records = NULL, *entries = json_array(), *rec;
    char why[128];
    size_t i;

    if (store_load_journal(e->o.store, file_gen, &records, newest, &serr) != STORE_OK) {
        json_decref(entries);
        return ERR_SET(err, ENGINE_E_STORE,
                       "%s; move it aside to start from the state file alone (a claim only it "
                       "holds is then forgotten)",
                       serr.msg);
    }
    json_array_foreach(records, i, rec)
    {
        json_t *entry = json_object_get(rec, "entry");
        if (entry)
            json_array_append(entries, entry);
    }
    json_t *doc = json_pack("{s:i, s:O}", "version", STATE_VERSION, "containers", entries);
    if (!doc || check_shape(doc, &(json_int_t){0}, why, sizeof(why)) != 0) {
        json_decref(doc);
        json_decref(entries);
        json_decref(records);
        return ERR_SET(err, ENGINE_E_STORE, "%s: %s: not a journal this receiver wrote",
                       store_journal_path(e->o.store), doc ? why : "out of memory");
    }
    json_array_foreach(records, i, rec)
    {
        const json_t *c = json_object_get(rec, "entry");
        const char *drop = json_string_value(json_object_get(rec, "drop"));
        const char *name = c ? usable_name(e, c) : NULL;
        struct entry *en = name ? engine_get_entry(e, name) : NULL;
        const struct entry *gone = drop ? engine_find_entry(e, drop) : NULL;
        if (en)
            entry_decode(en, c, STATE_VERSION);
        else if (gone && strcmp(gone->name, drop) == 0) /* by its exact name, never an ID */
            engine_drop_entry(e, drop);
    }
    *applied = json_array_size(records);
    json_decref(doc);
    json_decref(entries);
    json_decref(records);
    return ENGINE_OK;
}

engine_code engine_load(struct engine *e, struct engine_err *err)
{
    struct store_err serr = {0};
    json_t *doc = NULL, *c;
    size_t i, applied = 0;
    uint64_t file_gen = 0, newest = 0;

    if (!e->o.store)
        return ENGINE_OK;
    store_code rc = store_load(e->o.store, &doc, &serr);
    if (rc != STORE_OK && rc != STORE_E_NOTFOUND)
        return ERR_SET(err, ENGINE_E_STORE, "%s", serr.msg);
    json_int_t version = 0;
    char why[128];
    if (doc && check_shape(doc, &version, why, sizeof(why)) != 0) {
        json_decref(doc);
        return ERR_SET(err, ENGINE_E_STORE,
                       "%s: %s: not a state file this receiver wrote; move it aside to start "
                       "with an empty table (its scaled-out containers are then left as they are)",
                       store_path(e->o.store), why);
    }
    if (version > STATE_VERSION) {
        json_decref(doc);
        return ERR_SET(err, ENGINE_E_STORE,
                       "%s: state file version %" JSON_INTEGER_FORMAT
                       " is newer than this receiver reads (%d); start the newer receiver or "
                       "move the file aside (its scaled-out containers are then left as they are)",
                       store_path(e->o.store), version, STATE_VERSION);
    }
    if (doc) {
        json_int_t g = json_integer_value(json_object_get(doc, "generation"));
        file_gen = g > 0 ? (uint64_t)g : 0;
    }
    pthread_mutex_lock(&e->lock);
    json_array_foreach(json_object_get(doc, "containers"), i, c)
    {
        const char *name = usable_name(e, c);
        struct entry *en = name ? engine_get_entry(e, name) : NULL;
        if (en)
            entry_decode(en, c, (int)version);
    }
    engine_code erc = load_journal(e, file_gen, &newest, &applied, err);
    /* the next save's generation is above all on disk, so the file never looks older than a
     * record it holds */
    e->gen = file_gen > newest ? file_gen : newest;
    if (erc == ENGINE_OK && (doc || newest))
        log_info("state loaded", "path=%s containers=%zu journal_records=%zu",
                 store_path(e->o.store), e->n_t, applied);
    pthread_mutex_unlock(&e->lock);
    json_decref(doc);
    return erc;
}
