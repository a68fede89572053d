/* engine_timer.c: when a scale-in is due: the timer thread, the due check, the Prometheus hold,
 * resolves. */
#include "engine_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "prom.h"
#include "utf8.h"

static int real_query_firing(const struct engine_opts *o, const struct prom_match *m, bool *firing,
                             struct prom_err *err)
{
    return (int)prom_query_firing(o->prom_url, o->prom_timeout_ms ? o->prom_timeout_ms : 3000, m,
                                  firing, err);
}

const struct engine_prom_ops engine_prom_real = {real_query_firing};

/* Asks Prometheus whether the resource's alert still fires for the container. True: hold, with
 * the reason (for the API's last action) in why. */
static bool prometheus_holds(struct engine *e, const struct engine_job *job, char *why,
                             size_t why_size)
{
    static const char *const def_labels[] = {"name"};
    const struct policy_resource_def *def = &policy_resources[job->resource];
    const char *alertname = e->o.alertname[job->resource];
    struct prom_match m = {
        .container_labels = e->o.n_container_labels ? e->o.container_labels : def_labels,
        .n_container_labels = e->o.n_container_labels ? e->o.n_container_labels : 1,
        .container = job->container,
        .alertname = alertname ? alertname : def->default_alert, /* or its action label */
        .action = def->action_label,
    };
    struct prom_err perr = {0};
    bool firing = false;
    char qn[300], qe[300];

    if (e->o.prom->query_firing(&e->o, &m, &firing, &perr) != PROM_OK) {
        log_warn("prometheus check failed; deciding on Alertmanager's notifications",
                 "container=%s error=%s", log_quote(qn, sizeof(qn), job->container),
                 log_quote(qe, sizeof(qe), perr.msg));
        return false;
    }
    if (firing) {
        log_info("prometheus reports the alert still firing; holding scale-in",
                 "container=%s action=%s alertname=%s", log_quote(qn, sizeof(qn), job->container),
                 engine_kind_label(POLICY_SCALE_IN, job->resource),
                 log_quote(qe, sizeof(qe), m.alertname));
        snprintf(why, why_size, "prometheus reports %.100s still firing; holding the scale-out",
                 m.alertname);
    }
    return firing;
}

/* Copies the resource state when a scale-in should happen now. force: manual request. */
static bool take_due(struct engine *e, const struct engine_job *job, bool force,
                     struct res_state *copy, const char **why)
{
    bool due = false;
    enum policy_due pd = POLICY_HOLD;

    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container);
    struct res_state *r = en ? &en->r[job->resource] : NULL;
    if (r && r->out) {
        struct policy_hold h = {r->deadline_ms, r->since_ms, r->n_firing, e->o.max_hold_ms};
        int64_t next;
        pd = policy_scale_in_due(&h, engine_now(e), &next);
        force = force || r->manual_pending; /* a postponed manual scale-in, retried */
        due = force || pd != POLICY_HOLD;
        *why = force ? "manual" : pd == POLICY_DUE_MAX_HOLD ? "max_hold" : "deadline";
        if (force)
            r->n_firing = 0;
        *copy = *r;
        if (!due)
            r->check_queued = false;
    }
    pthread_mutex_unlock(&e->lock);
    char hold_why[160];
    if (due && !force && pd == POLICY_DUE_DEADLINE && e->o.prom_url && e->o.prom_url[0] &&
        prometheus_holds(e, job, hold_why, sizeof(hold_why))) {
        int64_t wait = policy_prometheus_hold_ms(&e->o.lim);
        pthread_mutex_lock(&e->lock);
        en = engine_find_entry(e, job->container);
        if (en) {
            en->r[job->resource].hold_until = engine_now(e) + wait;
            en->r[job->resource].check_queued = false;
            /* the API's last action says why the scale-in waits, as a memory margin hold does */
            engine_note(en, engine_now(e), engine_kind_label(POLICY_SCALE_IN, job->resource),
                        "postponed", hold_why);
        }
        pthread_mutex_unlock(&e->lock);
        return false;
    }
    if (due && strcmp(*why, "max_hold") == 0) {
        char qn[300];
        log_warn("scaling in after --max-hold although the alert still fires or no resolve came",
                 "container=%s firing=%zu", log_quote(qn, sizeof(qn), job->container),
                 copy->n_firing);
    }
    return due;
}

/* A manual scale-in found nothing scaled out: the target is checked as any manual call is (no such
 * container: 404; not managed: 403), then answered "unchanged". */
static void not_scaled_out(struct engine *e, const struct engine_job *job, int64_t t0)
{
    struct engine_target t;
    struct policy_container pc;
    struct policy_decision d;
    struct policy_request req = {job->kind, job->resource, NULL, job->force, job->from_alert};

    if (engine_inspect(e, job, &t, t0) != DOCKER_OK)
        return; /* answered */
    if (t.service)
        engine_service_policy(e, &pc, &t.svc);
    else
        engine_container_policy(e, &pc, &t.ct);
    policy_decide(&e->o.lim, &req, &pc, engine_now(e), &d);
    engine_target_free(&t);
    if (d.verdict != POLICY_ACCEPT)
        engine_reply_state(e, job, d.outcome, d.reason);
    else
        engine_reply_state(e, job, OUTCOME_UNCHANGED, "not scaled out");
}

void engine_do_scale_in(struct engine *e, const struct engine_job *job, bool force, int64_t t0)
{
    struct res_state copy;
    const char *why = "";

    if (engine_in_maintenance(e, job->container)) {
        pthread_mutex_lock(&e->lock);
        struct entry *en = engine_find_entry(e, job->container);
        if (en)
            en->r[job->resource].check_queued = false;
        pthread_mutex_unlock(&e->lock);
        if (job->done)
            engine_reply_state(e, job, OUTCOME_CONFLICT, "container is in maintenance");
        return;
    }
    if (!take_due(e, job, force, &copy, &why)) {
        if (job->done && force)
            not_scaled_out(e, job, t0);
        else if (job->done)
            engine_reply_state(e, job, OUTCOME_UNCHANGED, "not due");
        return;
    }
    engine_container_scale_in(e, job, &copy, why, t0);
}

void engine_do_resolve(struct engine *e, const struct engine_job *job, int64_t t0)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container);
    if (!en) {
        pthread_mutex_unlock(&e->lock);
        return;
    }
    if (engine_remove_firing(&en->r[job->resource], job->fingerprint))
        engine_unlock_persist(e);
    else
        pthread_mutex_unlock(&e->lock);
    pthread_cond_broadcast(&e->timer_cond);
    engine_do_scale_in(e, job, false, t0);
}

void engine_tick(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    int64_t now = engine_now(e);
    engine_tick_heals(e, now);
    for (size_t i = 0; i < e->n_t && !e->stopping; i++) {
        if (e->t[i].h.maintenance)
            continue; /* no scale-in either until released */
        for (int k = 0; k < POLICY_N_RESOURCES; k++) {
            struct res_state *r = &e->t[i].r[k];
            struct policy_hold h = {r->deadline_ms, r->since_ms, r->n_firing, e->o.max_hold_ms};
            int64_t next;
            if (!r->out || r->check_queued || r->hold_until > now ||
                (!r->manual_pending && policy_scale_in_due(&h, now, &next) == POLICY_HOLD))
                continue;
            struct engine_job job = {.kind = POLICY_SCALE_IN, .resource = (enum policy_resource)k};
            utf8_copy(job.container, sizeof(job.container), e->t[i].name);
            if (engine_enqueue(e, OP_CHECK, &job) == ENGINE_OK)
                r->check_queued = true;
        }
    }
    pthread_mutex_unlock(&e->lock);
}

/* Milliseconds until the earliest moment a scale-in may become due (lock held), at most 1000. */
static int64_t next_wake(struct engine *e)
{
    int64_t now = engine_now(e), wait = 1000;

    for (size_t i = 0; i < e->n_t; i++) {
        const struct heal_state *hs = &e->t[i].h;
        if (hs->due_ms && !hs->queued && hs->due_ms - now < wait)
            wait = hs->due_ms - now;
        for (int k = 0; k < POLICY_N_RESOURCES; k++) {
            const struct res_state *r = &e->t[i].r[k];
            struct policy_hold h = {r->deadline_ms, r->since_ms, r->n_firing, e->o.max_hold_ms};
            int64_t next;
            if (r->out && !r->check_queued) {
                policy_scale_in_due(&h, now, &next);
                if (r->manual_pending)
                    next = now;
                if (r->hold_until > next)
                    next = r->hold_until;
                if (next - now < wait)
                    wait = next - now;
            }
        }
    }
    return wait < 1 ? 1 : wait;
}

void *engine_timer_main(void *arg)
{
    struct engine *e = arg;
    struct timespec ts;

    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        pthread_mutex_unlock(&e->lock);
        engine_tick(e);
        pthread_mutex_lock(&e->lock);
        if (e->stopping)
            break;
        engine_cache_tick(e);
        clock_deadline_in(&ts, next_wake(e));
        pthread_cond_timedwait(&e->timer_cond, &e->lock, &ts);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}
