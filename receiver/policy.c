/* policy.c: the decision table. */
#include "policy.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "docker_client.h"
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

const char *policy_resource_name(enum policy_resource r)
{
    return r == POLICY_CPU ? "cpu" : r == POLICY_MEMORY ? "memory" : "replicas";
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
}

int64_t policy_replicas_next(int64_t current, int64_t step, int64_t max)
{
    if (step < 1)
        step = 1;
    if (current >= max)
        return current;
    return max - current < step ? max : current + step;
}

void policy_container_from_labels(struct policy_container *c, const struct docker_labels *l,
                                  bool running)
{
    memset(c, 0, sizeof(*c));
    c->known = true;
    c->exists = true;
    c->running = running;
    c->enable = docker_labels_get(l, "trip.enable");
    c->cpu_shares = docker_labels_get(l, "trip.cpu-shares");
    c->memory = docker_labels_get(l, "trip.memory");
    c->scale_duration = docker_labels_get(l, "trip.scale-duration");
    c->heal = docker_labels_get(l, "trip.heal");
    c->heal_operator_stops = docker_labels_get(l, "trip.heal-operator-stops");
    c->swarm_service = docker_labels_get(l, "com.docker.swarm.service.name");
}

void policy_service_from_labels(struct policy_container *c, const struct docker_labels *l,
                                bool global)
{
    policy_container_from_labels(c, l, true);
    c->swarm_service = NULL;
    c->service = true;
    c->global = global;
    c->cpus = docker_labels_get(l, "trip.cpus");
    c->max_replicas = docker_labels_get(l, "trip.max-replicas");
    c->replicas_step = docker_labels_get(l, "trip.replicas-step");
}

void policy_request_from_alert(struct policy_request *req, const struct alerts_record *r)
{
    memset(req, 0, sizeof(*req));
    req->from_alert = true;
    req->duration = r->duration[0] ? r->duration : NULL;
    if (r->problem[0])
        return;
    switch (r->action) {
    case ALERTS_SCALE_CPU:
    case ALERTS_SCALE_MEMORY:
        req->kind = r->status == ALERTS_FIRING ? POLICY_SCALE_OUT : POLICY_RESOLVE;
        req->resource = r->action == ALERTS_SCALE_CPU ? POLICY_CPU : POLICY_MEMORY;
        break;
    case ALERTS_RESTART:
        req->kind = r->status == ALERTS_FIRING ? POLICY_RESTART : POLICY_NONE;
        break;
    case ALERTS_SCALE_REPLICAS:
        req->kind = r->status == ALERTS_FIRING ? POLICY_SCALE_OUT : POLICY_RESOLVE;
        req->resource = POLICY_REPLICAS;
        break;
    default:
        break;
    }
}

bool policy_managed(const struct policy_limits *lim, const char *enable)
{
    if (lim->manage_all)
        return !(enable && strcmp(enable, "false") == 0);
    return enable && strcmp(enable, "true") == 0;
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

static int pick_service_target(const struct policy_limits *lim, enum policy_resource r,
                               const struct policy_container *c, struct policy_decision *d)
{
    if (r == POLICY_REPLICAS) {
        int64_t max_cap = lim->max_replicas > 0 ? lim->max_replicas : 1;
        if (pick_count(c->max_replicas, "trip.max-replicas", max_cap, max_cap, &d->max, d) != 0 ||
            pick_count(c->replicas_step, "trip.replicas-step",
                       lim->replicas_step > 0 ? lim->replicas_step : 1, 1000, &d->step, d) != 0)
            return -1;
        d->target = 0;
        return 0;
    }
    if (r == POLICY_CPU) {
        int64_t v = 0, min = 10000000; /* 0.01 CPU */
        if (c->cpus && config_cpus_parse(c->cpus, &v) != 0) {
            snprintf(d->reason, sizeof(d->reason),
                     "label trip.cpus=\"%.40s\" is not a number of CPUs (e.g. 1.5)", c->cpus);
            return -1;
        }
        if (c->cpus && (v < min || v > lim->max_nano_cpus)) {
            snprintf(d->reason, sizeof(d->reason), "label trip.cpus=%.40s is outside [0.01, %g]",
                     c->cpus, (double)lim->max_nano_cpus / 1e9);
            return -1;
        }
        d->target = v; /* 0: twice the service's current limit */
        return 0;
    }
    return 1; /* memory: as for containers */
}

static int pick_target(const struct policy_limits *lim, enum policy_resource r,
                       const struct policy_container *c, struct policy_decision *d)
{
    if (c->service) {
        int rc = pick_service_target(lim, r, c, d);
        if (rc <= 0)
            return rc;
    }
    const char *label = r == POLICY_CPU ? c->cpu_shares : c->memory;
    int64_t max = r == POLICY_CPU ? lim->max_cpu_shares : lim->max_memory;
    int64_t min = r == POLICY_CPU ? 2 : 6 * 1024 * 1024;
    int64_t v = r == POLICY_CPU ? lim->cpu_shares : lim->memory;
    const char *name = r == POLICY_CPU ? "trip.cpu-shares" : "trip.memory";

    if (label) {
        int bad = r == POLICY_CPU ? (config_size_parse(label, &v) != 0 ||
                                     strspn(label, "0123456789") != strlen(label))
                                  : config_size_parse(label, &v) != 0;
        if (bad) {
            snprintf(d->reason, sizeof(d->reason), "label %s=\"%.40s\" is not a number", name,
                     label);
            return -1;
        }
        if (v < min || v > max) {
            snprintf(d->reason, sizeof(d->reason), "label %s=%.40s is outside [%lld, %lld]", name,
                     label, (long long)min, (long long)max);
            return -1;
        }
    }
    d->target = v;
    return 0;
}

static bool heal_enabled(const struct policy_limits *lim, const struct policy_container *c)
{
    if (c->heal && strcmp(c->heal, "false") == 0)
        return false;
    if (c->heal && strcmp(c->heal, "true") == 0)
        return true;
    return lim->heal;
}

static void decide_known(const struct policy_limits *lim, const struct policy_request *req,
                         const struct policy_container *c, struct policy_decision *d)
{
    if (!c->exists) {
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
    if (req->resource == POLICY_REPLICAS && req->kind == POLICY_SCALE_OUT && !c->service) {
        verdict(d, POLICY_IGNORE, OUTCOME_REFUSED,
                "replicas: only Swarm services are scaled horizontally");
        return;
    }
    if (req->resource == POLICY_REPLICAS && req->kind == POLICY_SCALE_OUT && c->global) {
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
    if (req->kind == POLICY_SCALE_OUT) {
        struct policy_container none = {0};
        if (pick_duration(lim, req, c->known ? c : &none, d) != 0) {
            d->verdict = POLICY_IGNORE;
            d->outcome = OUTCOME_REFUSED;
            return;
        }
        d->deadline_ms = now_ms + d->duration_ms;
        d->target = req->resource == POLICY_CPU      ? lim->cpu_shares
                    : req->resource == POLICY_MEMORY ? lim->memory
                                                     : 0;
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
    const char *l = c->heal_operator_stops;
    bool ops = l && strcmp(l, "true") == 0    ? true
               : l && strcmp(l, "false") == 0 ? false
                                              : b->operator_stops;

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
