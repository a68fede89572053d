/* engine_view.c: the JSON view of the state table the API serves. */
#include "engine_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "utf8.h"

static json_t *time_json(int64_t ms)
{
    char buf[40];
    struct tm tm;
    time_t s = (time_t)(ms / 1000);

    if (ms <= 0)
        return json_null();
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(ms % 1000));
    return json_string(buf);
}

static json_t *res_json(const struct res_state *r, enum policy_resource which, bool service)
{
    json_t *firing = json_array();

    for (size_t i = 0; i < r->n_firing; i++)
        json_array_append_new(firing,
                              json_pack("{s:s, s:s}", "fingerprint", r->firing[i].fingerprint,
                                        "alertname", r->firing[i].alertname));
    json_t *o = json_pack(
        "{s:b, s:s, s:o, s:I, s:I, s:I, s:o, s:I, s:o}", "scaled_out", r->out, "level",
        r->out ? "scaled-out" : "baseline", "firing", firing, "deadline_ms",
        (json_int_t)r->deadline_ms, "since_ms", (json_int_t)r->since_ms, "baseline",
        (json_int_t)r->base, "deadline", time_json(r->out ? r->deadline_ms : 0), "current",
        (json_int_t)(r->out ? r->applied : r->base), "since", time_json(r->out ? r->since_ms : 0));
    json_object_set_new(o, "applied", json_integer(r->applied));
    if (!service && engine_res_docker[which].ct_aux) {
        json_object_set_new(o, "baseline_swap", json_integer(r->base_swap));
        json_object_set_new(o, "applied_swap", json_integer(r->applied_swap));
    }
    if (service && engine_res_docker[which].svc_reserve) {
        json_object_set_new(o, "baseline_reservation", json_integer(r->base_res));
        json_object_set_new(o, "applied_reservation", json_integer(r->applied_res));
    }
    return o;
}

static json_t *heal_json(const struct heal_state *h)
{
    return json_pack("{s:b, s:i, s:I, s:b, s:o, s:o, s:s}", "crash_looping", h->crashloop, "streak",
                     h->streak, "heals", (json_int_t)h->heals, "operator_stopped",
                     h->operator_stopped, "last_heal", time_json(h->last_heal_ms), "next_heal",
                     time_json(h->due_ms), "last_trigger", h->trigger);
}

json_t *engine_entry_json(const struct entry *en)
{
    json_t *last =
        json_pack("{s:s, s:s, s:s, s:o, s:I}", "action", en->last_action, "result", en->last_result,
                  "error", en->last_error, "at", time_json(en->last_action_ms), "at_ms",
                  (json_int_t)en->last_action_ms);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:o, s:b, s:b, s:o}", "name", en->name, "id", en->id, "kind",
                  en->service ? "service" : "container", "last_action", last, "maintenance",
                  en->h.maintenance, "crash_looping", en->h.crashloop, "heal", heal_json(&en->h));

    for (int r = 0; o && r < POLICY_N_RESOURCES; r++) {
        if (engine_has_resource(en->service, (enum policy_resource)r))
            json_object_set_new(o, policy_resources[r].name,
                                res_json(&en->r[r], (enum policy_resource)r, en->service));
    }
    json_t *mem = o && !en->service ? json_object_get(o, "memory") : NULL;
    if (mem) {
        json_object_set_new(mem, "oom_events", json_integer((json_int_t)en->ooms));
        json_object_set_new(mem, "oom_at_limit", json_boolean(en->oom_at_limit));
    }
    if (o && en->service)
        json_object_set_new(o, "version", json_integer((json_int_t)en->version));
    return o;
}

char *engine_state_json(struct engine *e, const char *name)
{
    json_t *doc = NULL;
    char *text = NULL;

    pthread_mutex_lock(&e->lock);
    if (!name) {
        doc = json_object();
        json_t *arr = json_array();
        for (size_t i = 0; i < e->n_t; i++)
            json_array_append_new(arr, engine_entry_json(&e->t[i]));
        /* managed containers the engine has not acted on yet */
        for (size_t i = 0; i < e->n_cache; i++) {
            const struct engine_cached *c = &e->cache[i].c;
            if (!engine_find_entry(e, e->cache[i].name) && engine_cached_is_managed(e, c)) {
                struct entry blank = {0};
                utf8_copy(blank.name, sizeof(blank.name), e->cache[i].name);
                json_array_append_new(arr, engine_entry_json(&blank));
            }
        }
        json_object_set_new(doc, "containers", arr);
        json_object_set_new(doc, "dry_run", json_boolean(e->o.dry_run));
        json_t *sel = json_array(); /* the receiver's scope (--selector); [] : the whole host */
        for (size_t i = 0; sel && i < e->o.lim.selector.n; i++)
            json_array_append_new(sel, json_string(e->o.lim.selector.t[i].text));
        json_object_set_new(doc, "selector", sel);
    } else {
        struct entry *en = engine_find_entry(e, name);
        struct entry blank = {0};
        const struct cache_entry *ce = en ? NULL : engine_cache_find(e, name);
        if (ce && engine_cached_is_managed(e, &ce->c)) { /* by name, ID or ID prefix */
            utf8_copy(blank.name, sizeof(blank.name), ce->name);
            utf8_copy(blank.id, sizeof(blank.id), ce->c.id);
            en = &blank;
        }
        if (en) {
            doc = engine_entry_json(en);
            json_object_set_new(doc, "dry_run", json_boolean(e->o.dry_run));
        }
    }
    pthread_mutex_unlock(&e->lock);
    if (doc) {
        text = json_dumps(doc, JSON_INDENT(2));
        json_decref(doc);
    }
    return text;
}
