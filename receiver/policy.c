/* policy.c: the decision table. */
#include "policy.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "utf8.h"

const char *policy_kind_name(enum policy_kind k)
{
    switch (k) {
    case POLICY_SCALE_OUT:
        return "scale-out";
    case POLICY_SCALE_IN:
        return "scale-in";
    case POLICY_RESOLVE:
        return "resolve";
    case POLICY_RESTART:
        return "restart";
    default:
        return "none";
    }
}

#define LIMIT(field) offsetof(struct policy_limits, field)
#define NO_LIMIT SIZE_MAX

const struct policy_resource_def policy_resources[POLICY_N_RESOURCES] = {
    [POLICY_CPU] = {"cpu", ALERTS_SCALE_CPU, "scale-cpu", "ContainerHighCpu", "scale_out_cpu",
                    "scale_in_cpu",
                    .container = {POLICY_UNIT_SHARES, "trip.cpu-shares", 2, LIMIT(cpu_shares),
                                  LIMIT(max_cpu_shares), NULL, 1024},
                    .service = {POLICY_UNIT_NANO_CPUS, "trip.cpus", 10000000 /* 0.01 CPU */,
                                NO_LIMIT, LIMIT(max_nano_cpus),
                                "service has no CPU limit; nothing to raise", 0}},
    [POLICY_MEMORY] = {"memory", ALERTS_SCALE_MEMORY, "scale-memory", "ContainerHighMemory",
                       "scale_out_memory", "scale_in_memory",
                       .container = {POLICY_UNIT_BYTES, "trip.memory", 6 * 1024 * 1024,
                                     LIMIT(memory), LIMIT(max_memory),
                                     "container has no memory limit; nothing to raise", 0},
                       .service = {POLICY_UNIT_BYTES, "trip.memory", 6 * 1024 * 1024, LIMIT(memory),
                                   LIMIT(max_memory),
                                   "service has no memory limit; nothing to raise", 0}},
    [POLICY_REPLICAS] = {"replicas", ALERTS_SCALE_REPLICAS, "scale-replicas", "ServiceHighCpu",
                         "scale_out_replicas", "scale_in_replicas",
                         .container = {POLICY_UNIT_NONE, NULL, 0, NO_LIMIT, NO_LIMIT, NULL, 0},
                         .service = {POLICY_UNIT_STEPS, "trip.max-replicas", 1, NO_LIMIT,
                                     LIMIT(max_replicas), NULL, 0}},
    [POLICY_CPUS] = {"cpus", ALERTS_SCALE_CPUS, "scale-cpus", "ContainerHighCpuQuota",
                     "scale_out_cpus", "scale_in_cpus",
                     .container = {POLICY_UNIT_NANO_CPUS, "trip.cpus", 10000000 /* 0.01 CPU */,
                                   NO_LIMIT, LIMIT(max_nano_cpus),
                                   "container has no CPU quota; nothing to raise", 0},
                     .service = {POLICY_UNIT_NONE, NULL, 0, NO_LIMIT, NO_LIMIT, NULL, 0}},
};

const struct policy_resource_def *policy_resource_by_name(const char *name)
{
    for (size_t i = 0; i < POLICY_N_RESOURCES; i++) {
        if (strcmp(policy_resources[i].name, name) == 0)
            return &policy_resources[i];
    }
    return NULL;
}

const struct policy_target_rule *policy_target_rule(enum policy_resource r, bool service)
{
    return service ? &policy_resources[r].service : &policy_resources[r].container;
}

static int64_t limit_of(const struct policy_limits *lim, size_t offset)
{
    int64_t v;

    if (offset == NO_LIMIT)
        return 0;
    memcpy(&v, (const char *)lim + offset, sizeof(v));
    return v;
}

const char *policy_resource_name(enum policy_resource r)
{
    return (size_t)r < POLICY_N_RESOURCES ? policy_resources[r].name : "none";
}

void policy_limits_from_config(struct policy_limits *lim, const struct config *cfg)
{
    *lim = (struct policy_limits){
        .cpu_shares = cfg->cpu_shares,
        .max_cpu_shares = cfg->max_cpu_shares,
        .memory = cfg->memory,
        .max_memory = cfg->max_memory,
        .scale_duration_ms = cfg->scale_duration_ms,
        .min_duration_ms = cfg->min_duration_ms,
        .max_duration_ms = cfg->max_duration_ms,
        .manage_all = cfg->manage_all,
        .heal = cfg->heal,
        .max_nano_cpus = cfg->max_nano_cpus,
        .max_replicas = cfg->max_replicas,
        .replicas_step = cfg->replicas_step,
    };
    for (size_t i = 0; i < cfg->n_selector && i < POLICY_MAX_SELECTOR; i++) {
        char why[160];
        size_t k = lim->selector.n;
        /* config_parse() validated every term: a failure here cannot happen */
        if (config_selector_split(cfg->selector[i], lim->selector.t[k].key,
                                  lim->selector.t[k].value, &lim->selector.t[k].has_value, why,
                                  sizeof(why)) != 0)
            continue;
        snprintf(lim->selector.t[k].text, sizeof(lim->selector.t[k].text), "%s",
                 cfg->selector[i]);
        lim->selector.n++;
    }
}

bool policy_selected(const struct policy_limits *lim, const char *(*get)(const void *ud,
                                                                          const char *key),
                     const void *ud)
{
    for (size_t i = 0; i < lim->selector.n; i++) {
        const char *v = get(ud, lim->selector.t[i].key);
        if (!v || (lim->selector.t[i].has_value && strcmp(v, lim->selector.t[i].value) != 0))
            return false;
    }
    return true;
}

const char *const *policy_selector_filters(const struct policy_limits *lim,
                                           const char *out[POLICY_MAX_SELECTOR + 1])
{
    size_t n = 0;

    for (; n < lim->selector.n && n < POLICY_MAX_SELECTOR; n++)
        out[n] = lim->selector.t[n].text;
    out[n] = NULL;
    return n ? out : NULL;
}

const char *policy_selector_text(const struct policy_limits *lim, char *buf, size_t size)
{
    size_t len = 0;

    if (size)
        buf[0] = '\0';
    for (size_t i = 0; i < lim->selector.n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? "," : "",
                                lim->selector.t[i].text);
    return buf;
}

int64_t policy_replicas_next(int64_t current, int64_t step, int64_t max)
{
    if (step < 1)
        step = 1;
    if (current >= max)
        return current;
    return max - current < step ? max : current + step;
}

/* The label table: each key policy reads, where it lands in struct policy_container, and on which
 * kind of target it counts. */
static const struct {
    size_t field;
    bool container, service;
} label_rows[POLICY_N_LABELS] = {
    {offsetof(struct policy_container, enable), true, true},
    {offsetof(struct policy_container, cpu_shares), true, true},
    {offsetof(struct policy_container, memory), true, true},
    {offsetof(struct policy_container, scale_duration), true, true},
    {offsetof(struct policy_container, heal), true, true},
    {offsetof(struct policy_container, heal_operator_stops), true, true},
    {offsetof(struct policy_container, swarm_service), true, false},
    {offsetof(struct policy_container, cpus), true, true},
    {offsetof(struct policy_container, max_replicas), false, true},
    {offsetof(struct policy_container, replicas_step), false, true},
};
const char *const policy_label_keys[POLICY_N_LABELS] = {
    "trip.enable",
    "trip.cpu-shares",
    "trip.memory",
    "trip.scale-duration",
    "trip.heal",
    "trip.heal-operator-stops",
    "com.docker.swarm.service.name",
    "trip.cpus",
    "trip.max-replicas",
    "trip.replicas-step",
};

const char *policy_label_value(const struct policy_container *c, const char *key)
{
    for (size_t i = 0; key && i < POLICY_N_LABELS; i++) {
        if (strcmp(policy_label_keys[i], key) == 0) {
            const char *v;
            memcpy(&v, (const char *)c + label_rows[i].field, sizeof(v));
            return v;
        }
    }
    return NULL;
}

static void from_labels(struct policy_container *c, const struct policy_kv *kv, size_t n,
                        bool service)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < POLICY_N_LABELS; k++) {
            bool counts = service ? label_rows[k].service : label_rows[k].container;
            if (counts && kv[i].key && strcmp(kv[i].key, policy_label_keys[k]) == 0)
                memcpy((char *)c + label_rows[k].field, &kv[i].value, sizeof(kv[i].value));
        }
    }
}

void policy_container_from_labels(struct policy_container *c, const struct policy_kv *kv, size_t n,
                                  bool running)
{
    memset(c, 0, sizeof(*c));
    c->known = true;
    c->exists = true;
    c->running = running;
    from_labels(c, kv, n, false);
}

void policy_service_from_labels(struct policy_container *c, const struct policy_kv *kv, size_t n,
                                bool global)
{
    memset(c, 0, sizeof(*c));
    c->known = c->exists = c->running = true;
    c->service = true;
    c->global = global;
    from_labels(c, kv, n, true);
}

void policy_request_from_alert(struct policy_request *req, const struct alerts_record *r)
{
    memset(req, 0, sizeof(*req));
    req->from_alert = true;
    req->duration = r->duration[0] ? r->duration : NULL;
    if (r->problem[0])
        return;
    if (r->action == ALERTS_RESTART) {
        req->kind = r->status == ALERTS_FIRING ? POLICY_RESTART : POLICY_NONE;
        return;
    }
    for (size_t i = 0; i < POLICY_N_RESOURCES; i++) {
        if (r->action == policy_resources[i].action) {
            req->kind = r->status == ALERTS_FIRING ? POLICY_SCALE_OUT : POLICY_RESOLVE;
            req->resource = (enum policy_resource)i;
        }
    }
}

bool policy_managed(const struct policy_limits *lim, const char *enable)
{
    bool on = false;

    if (!enable)
        return lim->manage_all;
    if (!lim->manage_all)
        return strcasecmp(enable, "true") == 0;
    /* opted out by false/no/0/off in any case; a value that is no boolean (a typo) is not an
     * opt-in either: such a container is left alone */
    return config_bool_parse(enable, &on) == 0 && on;
}

/* A label value longer than POLICY_LABEL_MAX is refused whole: never cut into another meaning. */
static int check_label_lengths(const struct policy_container *c, struct policy_decision *d)
{
    for (size_t i = 0; i < POLICY_N_LABELS; i++) {
        const char *v;
        memcpy(&v, (const char *)c + label_rows[i].field, sizeof(v));
        if (v && strlen(v) > POLICY_LABEL_MAX) {
            snprintf(d->reason, sizeof(d->reason), "label %s is longer than %d bytes",
                     policy_label_keys[i], POLICY_LABEL_MAX);
            return -1;
        }
    }
    return 0;
}

/* A boolean label: true or false in any case (see policy_managed), else dflt. */
static bool label_bool(const char *l, bool dflt)
{
    bool v = dflt;

    if (l && config_bool_parse(l, &v) != 0)
        v = dflt;
    return v;
}

static void verdict(struct policy_decision *d, enum policy_verdict v, enum outcome outcome,
                    const char *reason)
{
    d->verdict = v;
    d->outcome = outcome;
    snprintf(d->reason, sizeof(d->reason), "%s", reason);
}

/* Duration: request, then trip.scale-duration, then config; bounded. 0 on success. */
static int pick_duration(const struct policy_limits *lim, const struct policy_request *req,
                         const struct policy_container *c, struct policy_decision *d)
{
    const char *src = req->duration && *req->duration ? req->duration : c->scale_duration;
    const char *what = req->duration && *req->duration ? "duration" : "label trip.scale-duration";
    int64_t ms = lim->scale_duration_ms;

    if (src && config_duration_parse(src, &ms) != 0) {
        snprintf(d->reason, sizeof(d->reason), "%s \"%.40s\" is not a duration (e.g. 20s, 5m, 1h)",
                 what, src);
        return -1;
    }
    if (ms < lim->min_duration_ms || ms > lim->max_duration_ms) {
        snprintf(d->reason, sizeof(d->reason), "%s \"%.40s\" is outside [%llds, %llds]", what,
                 src ? src : "", (long long)(lim->min_duration_ms / 1000),
                 (long long)(lim->max_duration_ms / 1000));
        return -1;
    }
    d->duration_ms = ms;
    return 0;
}

/* A bounded integer label (trip.max-replicas, trip.replicas-step); def when absent. */
static int pick_count(const char *label, const char *name, int64_t def, int64_t max, int64_t *out,
                      struct policy_decision *d)
{
    int64_t v = def;

    if (label) {
        if (!*label || strspn(label, "0123456789") != strlen(label) || strlen(label) > 9) {
            snprintf(d->reason, sizeof(d->reason), "label %s=\"%.40s\" is not a number", name,
                     label);
            return -1;
        }
        v = 0;
        for (const char *p = label; *p; p++)
            v = v * 10 + (*p - '0');
        if (v < 1 || v > max) {
            snprintf(d->reason, sizeof(d->reason), "label %s=%.40s is outside [1, %lld]", name,
                     label, (long long)max);
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* The scaled-out level of resource r on c from its label (rule->label), bounded; without the
 * label the configured level, or 0 (twice the current limit, decided by the engine on what it
 * inspected). Replicas: trip.max-replicas and trip.replicas-step. */
static int pick_target(const struct policy_limits *lim, enum policy_resource r,
                       const struct policy_container *c, struct policy_decision *d)
{
    const struct policy_target_rule *rule = policy_target_rule(r, c->service);
    const char *label = policy_label_value(c, rule->label);
    int64_t max = limit_of(lim, rule->max_offset);
    int64_t v = limit_of(lim, rule->def_offset);

    switch (rule->unit) {
    case POLICY_UNIT_STEPS: {
        int64_t max_cap = max > 0 ? max : 1;
        if (pick_count(label, rule->label, max_cap, max_cap, &d->max, d) != 0 ||
            pick_count(policy_label_value(c, "trip.replicas-step"), "trip.replicas-step",
                       lim->replicas_step > 0 ? lim->replicas_step : 1, 1000, &d->step, d) != 0)
            return -1;
        d->target = 0;
        return 0;
    }
    case POLICY_UNIT_NANO_CPUS:
        if (label && config_cpus_parse(label, &v) != 0) {
            snprintf(d->reason, sizeof(d->reason),
                     "label %s=\"%.40s\" is not a number of CPUs (e.g. 1.5)", rule->label, label);
            return -1;
        }
        if (label && (v < rule->min || v > max)) {
            snprintf(d->reason, sizeof(d->reason), "label %s=%.40s is outside [%g, %g]",
                     rule->label, label, (double)rule->min / 1e9, (double)max / 1e9);
            return -1;
        }
        d->target = label ? v : 0; /* 0: twice the current limit */
        return 0;
    case POLICY_UNIT_SHARES:
    case POLICY_UNIT_BYTES:
        break;
    default:
        d->target = 0;
        return 0;
    }
    if (label) {
        int bad =
            config_size_parse(label, &v) != 0 ||
            (rule->unit == POLICY_UNIT_SHARES && strspn(label, "0123456789") != strlen(label));
        if (bad) {
            snprintf(d->reason, sizeof(d->reason), "label %s=\"%.40s\" is not a number",
                     rule->label, label);
            return -1;
        }
        if (v < rule->min || v > max) {
            snprintf(d->reason, sizeof(d->reason), "label %s=%.40s is outside [%lld, %lld]",
                     rule->label, label, (long long)rule->min, (long long)max);
            return -1;
        }
    }
    d->target = v;
    return 0;
}

static bool heal_enabled(const struct policy_limits *lim, const struct policy_container *c)
{
    return label_bool(c->heal, lim->heal);
}

static void decide_known(const struct policy_limits *lim, const struct policy_request *req,
                         const struct policy_container *c, struct policy_decision *d)
{
    if (!c->exists || c->outside) {
        verdict(d, POLICY_IGNORE, OUTCOME_NOT_FOUND, "no such container");
        return;
    }
    if (!policy_managed(lim, c->enable)) {
        verdict(d, POLICY_IGNORE, OUTCOME_NOT_MANAGED,
                lim->manage_all ? "container is not managed (label trip.enable=false)"
                                : "container is not managed (needs label trip.enable=true)");
        return;
    }
    if (c->swarm_service && !c->service) {
        char why[160];
        snprintf(why, sizeof(why),
                 "a Swarm task of service \"%.60s\": Swarm heals it; scale the service",
                 c->swarm_service);
        verdict(d, POLICY_IGNORE, OUTCOME_CONFLICT, why);
        return;
    }
    if (c->service && req->kind == POLICY_RESTART) {
        verdict(d, POLICY_IGNORE, OUTCOME_REFUSED,
                "a Swarm service: its tasks are healed by Swarm's restart policy");
        return;
    }
    const struct policy_target_rule *rule = policy_target_rule(req->resource, c->service);
    bool steps = policy_target_rule(req->resource, true)->unit == POLICY_UNIT_STEPS;
    if (req->kind == POLICY_SCALE_OUT && rule->unit == POLICY_UNIT_NONE) {
        char why[160];
        snprintf(why, sizeof(why), "%s: only %s", policy_resources[req->resource].name,
                 c->service ? "containers have it"
                 : steps    ? "Swarm services are scaled horizontally"
                            : "Swarm services have it");
        verdict(d, POLICY_IGNORE, OUTCOME_REFUSED, why);
        return;
    }
    if (req->kind == POLICY_SCALE_OUT && steps && c->global) {
        verdict(d, POLICY_IGNORE, OUTCOME_REFUSED,
                "a global service runs one task per node: never scaled horizontally");
        return;
    }
    if (req->kind == POLICY_RESTART && req->from_alert && !heal_enabled(lim, c)) {
        verdict(d, POLICY_IGNORE, OUTCOME_NOT_MANAGED,
                "healing is disabled for this container (trip.heal)");
        return;
    }
    if (req->kind == POLICY_SCALE_OUT && pick_target(lim, req->resource, c, d) != 0) {
        d->verdict = POLICY_IGNORE;
        d->outcome = OUTCOME_REFUSED;
    }
}

static void decide(const struct policy_limits *lim, const struct policy_request *req,
                   const struct policy_container *c, int64_t now_ms, struct policy_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->kind = req->kind;
    d->resource = req->resource;
    d->force = req->force;
    verdict(d, POLICY_ACCEPT, OUTCOME_DONE, "");
    if (req->kind == POLICY_NONE) {
        verdict(d, POLICY_IGNORE, OUTCOME_REFUSED, "nothing to do for this alert");
        return;
    }
    if (c->known && req->kind != POLICY_RESOLVE && check_label_lengths(c, d) != 0) {
        d->verdict = POLICY_IGNORE;
        d->outcome = OUTCOME_REFUSED;
        return;
    }
    if (req->kind == POLICY_SCALE_OUT) {
        struct policy_container none = {0};
        if (pick_duration(lim, req, c->known ? c : &none, d) != 0) {
            d->verdict = POLICY_IGNORE;
            d->outcome = OUTCOME_REFUSED;
            return;
        }
        d->deadline_ms = now_ms + d->duration_ms;
        d->target = limit_of(lim, policy_target_rule(req->resource, false)->def_offset);
    }
    if (req->kind == POLICY_RESOLVE) {
        snprintf(d->reason, sizeof(d->reason), "alert resolved");
        return; /* clearing state is always safe, managed or not */
    }
    if (!c->known) {
        snprintf(d->reason, sizeof(d->reason),
                 "queued; container not seen yet, checked before acting");
        return;
    }
    decide_known(lim, req, c, d);
}

void policy_decide(const struct policy_limits *lim, const struct policy_request *req,
                   const struct policy_container *c, int64_t now_ms, struct policy_decision *d)
{
    decide(lim, req, c, now_ms, d);
    utf8_trim(d->reason); /* "%.40s" of a label value may have split a character */
}

enum policy_due policy_scale_in_due(const struct policy_hold *h, int64_t now_ms, int64_t *next_ms)
{
    int64_t hold_end = h->max_hold_ms > 0 ? h->since_ms + h->max_hold_ms : INT64_MAX;

    if (now_ms >= hold_end) {
        *next_ms = now_ms;
        return POLICY_DUE_MAX_HOLD;
    }
    if (h->firing == 0 && now_ms >= h->deadline_ms) {
        *next_ms = now_ms;
        return POLICY_DUE_DEADLINE;
    }
    *next_ms = hold_end;
    if (h->firing == 0 && h->deadline_ms < *next_ms)
        *next_ms = h->deadline_ms;
    return POLICY_HOLD;
}

int64_t policy_heal_delay(const struct policy_backoff *b, int streak)
{
    int64_t d = b->first_ms > 0 ? b->first_ms : 1;

    if (streak <= 0)
        return 0;
    for (int i = 1; i < streak && d < b->max_ms; i++)
        d *= 2;
    return d > b->max_ms ? b->max_ms : d;
}

bool policy_heal_allowed(const struct policy_limits *lim, const struct policy_backoff *b,
                         const struct policy_container *c, bool operator_stop, char *reason,
                         size_t size)
{
    bool ops = label_bool(c->heal_operator_stops, b->operator_stops);

    if (c->outside) {
        snprintf(reason, size, "outside the receiver's --selector");
        return false;
    }
    if (c->swarm_service) {
        snprintf(reason, size, "a Swarm task: Swarm's restart policy heals it");
        return false;
    }
    if (!policy_managed(lim, c->enable)) {
        snprintf(reason, size, "container is not managed");
        return false;
    }
    if (!heal_enabled(lim, c)) {
        snprintf(reason, size, "healing is disabled for this container (trip.heal)");
        return false;
    }
    if (operator_stop && !ops) {
        snprintf(reason, size, "stopped by an operator (heal-operator-stops is false)");
        return false;
    }
    reason[0] = '\0';
    return true;
}

int64_t policy_scale_out_level(const struct policy_decision *d, bool service, int64_t cur,
                               const char **why)
{
    const struct policy_target_rule *rule = policy_target_rule(d->resource, service);

    *why = NULL;
    if (rule->unit == POLICY_UNIT_STEPS)
        return policy_replicas_next(cur, d->step, d->max);
    if (cur == 0 && rule->no_limit) {
        *why = rule->no_limit;
        return 0;
    }
    if (rule->unit == POLICY_UNIT_NANO_CPUS && d->target == 0)
        return 2 * cur; /* no label: twice the current limit */
    return d->target;
}

bool policy_scale_out_again(const struct policy_decision *d, int64_t cur, int64_t applied,
                            int64_t since_ms, int64_t now_ms)
{
    return policy_resources[d->resource].service.unit == POLICY_UNIT_STEPS && cur == applied &&
           cur < d->max && now_ms - since_ms >= d->duration_ms;
}

int64_t policy_prometheus_hold_ms(const struct policy_limits *lim)
{
    int64_t wait = lim->scale_duration_ms < 1000 ? 1000 : lim->scale_duration_ms;

    return wait > 15000 ? 15000 : wait;
}

bool policy_memory_fits(uint64_t usage, int64_t baseline)
{
    return baseline <= 0 || usage <= (uint64_t)baseline / 100 * POLICY_MEMORY_GUARD_PCT;
}

bool policy_memory_scale_in_fits(uint64_t working_set, int64_t baseline, bool manual)
{
    if (manual)
        return policy_memory_fits(working_set, baseline);
    return baseline <= 0 || working_set <= (uint64_t)baseline / 100 * POLICY_MEMORY_SCALE_IN_PCT;
}
