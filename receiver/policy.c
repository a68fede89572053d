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
    return r == POLICY_CPU ? "cpu" : "memory";
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

static void verdict(struct policy_decision *d, enum policy_verdict v, int status,
                    const char *reason)
{
    d->verdict = v;
    d->http_status = status;
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

static int pick_target(const struct policy_limits *lim, enum policy_resource r,
                       const struct policy_container *c, struct policy_decision *d)
{
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
        verdict(d, POLICY_IGNORE, 404, "no such container");
        return;
    }
    if (!policy_managed(lim, c->enable)) {
        verdict(d, POLICY_IGNORE, 403,
                lim->manage_all ? "container is not managed (label trip.enable=false)"
                                : "container is not managed (needs label trip.enable=true)");
        return;
    }
    if (req->kind == POLICY_RESTART && req->from_alert && !heal_enabled(lim, c)) {
        verdict(d, POLICY_IGNORE, 403, "healing is disabled for this container (trip.heal)");
        return;
    }
    if (req->kind == POLICY_SCALE_OUT && pick_target(lim, req->resource, c, d) != 0) {
        d->verdict = POLICY_IGNORE;
        d->http_status = 422;
    }
}

static void decide(const struct policy_limits *lim, const struct policy_request *req,
                   const struct policy_container *c, int64_t now_ms, struct policy_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->kind = req->kind;
    d->resource = req->resource;
    d->force = req->force;
    verdict(d, POLICY_ACCEPT, 200, "");
    if (req->kind == POLICY_NONE) {
        verdict(d, POLICY_IGNORE, 422, "nothing to do for this alert");
        return;
    }
    if (req->kind == POLICY_SCALE_OUT) {
        struct policy_container none = {0};
        if (pick_duration(lim, req, c->known ? c : &none, d) != 0) {
            d->verdict = POLICY_IGNORE;
            d->http_status = 422;
            return;
        }
        d->deadline_ms = now_ms + d->duration_ms;
        d->target = req->resource == POLICY_CPU ? lim->cpu_shares : lim->memory;
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
