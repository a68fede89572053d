/* engine_job.c: what every job shares: its target lookup, its replies, its endings. */
#include "engine_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "store.h"
#include "utf8.h"

static __thread int64_t phase_mark_ns; /* the worker's last phase boundary; 0: none */

void engine_phase_start(struct engine *e, int64_t queued_ns)
{
    int64_t now = clock_mono_ns();

    if (queued_ns > 0)
        metrics_phase(e->o.metrics, "queue", (double)(now - queued_ns) / 1e9);
    phase_mark_ns = now;
}

void engine_phase(struct engine *e, const char *phase)
{
    int64_t now = clock_mono_ns();

    if (phase_mark_ns > 0)
        metrics_phase(e->o.metrics, phase, (double)(now - phase_mark_ns) / 1e9);
    phase_mark_ns = now;
}

/* Answers the job (if it waits for an answer) with the outcome, the reason and the target's
 * state view, when the table has it. */
void engine_reply_state(struct engine *e, const struct engine_job *job, enum outcome outcome,
                        const char *reason)
{
    struct engine_result res = {outcome, job->container, reason, NULL};
    char *state = NULL;

    engine_history_job(e, job, outcome, reason);
    if (!job->done)
        return;
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container);
    json_t *view = en ? engine_entry_json(en) : NULL;
    pthread_mutex_unlock(&e->lock);
    if (view) {
        state = json_dumps(view, JSON_COMPACT);
        json_decref(view);
    }
    res.state = state;
    job->done(job->done_ud, &res);
    free(state);
}

/* A failed Docker call: count, log, remember, answer OUTCOME_VANISHED or OUTCOME_FAILED. */
void engine_docker_failed(struct engine *e, const struct engine_job *job, const char *what,
                          docker_code rc, const struct docker_err *derr, int64_t t0)
{
    char qn[300], qe[600];
    const char *kind = engine_kind_label(job->kind, job->resource);

    metrics_docker_error(e->o.metrics, docker_code_name(rc));
    metrics_action(e->o.metrics, kind, "error", engine_since_s(t0));
    log_error("docker call failed", "container=%s action=%s call=%s error=%s remote=%s",
              log_quote(qn, sizeof(qn), job->container), kind, what,
              log_quote(qe, sizeof(qe), derr->msg), job->remote[0] ? job->remote : "-");
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container);
    if (en)
        engine_note(en, engine_now(e), kind, "error", derr->msg);
    pthread_mutex_unlock(&e->lock);
    engine_reply_state(e, job, rc == DOCKER_E_NOT_FOUND ? OUTCOME_VANISHED : OUTCOME_FAILED,
                       derr->msg[0] ? derr->msg : docker_code_name(rc));
}

void engine_target_free(struct engine_target *t)
{
    docker_container_free(&t->ct);
    docker_service_free(&t->svc);
}

const char *engine_target_id(const struct engine_target *t)
{
    return t->service ? t->svc.id : t->ct.id;
}

/* Whether the table or the cache knows `name` as a Swarm service. */
static bool known_service(struct engine *e, const char *name)
{
    bool svc = false;

    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, name);
    if (en) {
        svc = en->service;
    } else {
        for (size_t i = 0; i < e->n_cache; i++) {
            if (strcmp(e->cache[i].name, name) == 0) {
                svc = e->cache[i].c.service;
                break;
            }
        }
    }
    pthread_mutex_unlock(&e->lock);
    return svc;
}

/* Inspects the job's target: the container of that name, else the Swarm service (a service first
 * when the engine already knows the name as one, or for a replicas scale-out). Neither: the
 * entry is dropped, OUTCOME_NOT_FOUND answered. Other failures: counted, logged, OUTCOME_FAILED. */
docker_code engine_inspect(struct engine *e, const struct engine_job *job, struct engine_target *t,
                           int64_t t0)
{
    struct docker_err derr = {0};
    const struct engine_docker_ops *ops = e->o.ops;
    /* A service is asked for only on a swarm manager: anywhere else the call is an error line in
     * the daemon's log. A container is tried first unless the name is known as a service (or the
     * resource is a service's alone), and GET /info is asked again before the service when the
     * name is no container (a swarm made since the last look). */
    bool svc_only = job->kind == POLICY_SCALE_OUT && !engine_has_resource(false, job->resource);
    bool svc_first = ops->service_inspect && (svc_only || known_service(e, job->container)) &&
                     engine_services_available(e, true);
    bool swarm = svc_first;
    docker_code rc = DOCKER_E_NOT_FOUND;

    memset(t, 0, sizeof(*t));
    for (int pass = 0; pass < 2 && rc == DOCKER_E_NOT_FOUND; pass++) {
        bool svc = (pass == 0) == svc_first;
        if (svc && !svc_first && !(swarm = engine_services_available(e, true)))
            continue;
        struct docker_err perr = {0};
        rc = svc ? ops->service_inspect(e->o.docker_ud, job->container, &t->svc, &perr)
                 : ops->inspect(e->o.docker_ud, job->container, &t->ct, &perr);
        if (svc && rc == DOCKER_E_NO_SWARM) {
            engine_no_swarm(e);
            rc = DOCKER_E_NOT_FOUND; /* not a swarm manager: there are no services */
        }
        if (rc == DOCKER_OK)
            t->service = svc;
        if (rc != DOCKER_E_NOT_FOUND || !derr.msg[0])
            derr = perr; /* of two "not found", the first message */
    }
    engine_phase(e, "inspect");
    if (rc == DOCKER_E_NOT_FOUND) {
        metrics_docker_error(e->o.metrics, docker_code_name(rc));
        pthread_mutex_lock(&e->lock);
        bool had = engine_unlock_drop(e, job->container);
        char qn[300], qe[600];
        if (had) {
            log_warn("container vanished; dropping its state", "container=%s action=%s",
                     log_quote(qn, sizeof(qn), job->container),
                     engine_kind_label(job->kind, job->resource));
        } else {
            log_info("no such container; nothing done", "container=%s action=%s error=%s remote=%s",
                     log_quote(qn, sizeof(qn), job->container),
                     engine_kind_label(job->kind, job->resource),
                     log_quote(qe, sizeof(qe), derr.msg), job->remote[0] ? job->remote : "-");
        }
        if (job->done)
            engine_reply_state(e, job, OUTCOME_NOT_FOUND,
                               swarm ? "no such container or service" : "no such container");
        return rc;
    }
    if (rc != DOCKER_OK)
        engine_docker_failed(e, job, "inspect", rc, &derr, t0);
    else
        rc = engine_check_target(e, job, t, swarm ? "no such container or service"
                                                  : "no such container");
    return rc;
}

/* Whether the entry holds a claim on any resource (lock held). */
static bool has_claim(const struct entry *en)
{
    for (int r = 0; r < POLICY_N_RESOURCES; r++) {
        if (en->r[r].out)
            return true;
    }
    return false;
}

docker_code engine_check_target(struct engine *e, const struct engine_job *job,
                                struct engine_target *t, const char *not_found)
{
    const struct docker_labels *labels = t->service ? &t->svc.labels : &t->ct.labels;
    const char *id = engine_target_id(t);
    char qn[300];

    if (!engine_selected(e, labels)) {
        /* outside the receiver's scope: it does not exist for this receiver (the same answer
         * as a missing container, so the API tells nothing of what else runs on the host) */
        pthread_mutex_lock(&e->lock);
        bool had = engine_unlock_drop(e, job->container);
        log_warn(had ? "outside the selector; its state dropped, nothing done"
                     : "outside the selector; nothing done",
                 "container=%s action=%s remote=%s", log_quote(qn, sizeof(qn), job->container),
                 engine_kind_label(job->kind, job->resource), job->remote[0] ? job->remote : "-");
        engine_target_free(t);
        if (job->done)
            engine_reply_state(e, job, OUTCOME_NOT_FOUND, not_found);
        return DOCKER_E_NOT_FOUND;
    }
    bool managed = policy_managed(&e->o.lim, docker_labels_get(labels, "trip.enable"));
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container);
    const char *why = NULL;
    if (en && ((en->id[0] && strcmp(en->id, id) != 0) || en->service != t->service))
        why = "another container of that name (removed and recreated)";
    else if (en && !managed && has_claim(en))
        why = "it no longer opts in (trip.enable)";
    if (!why) {
        if (en && !en->id[0])
            utf8_copy(en->id, sizeof(en->id), id);
        pthread_mutex_unlock(&e->lock);
        return DOCKER_OK;
    }
    bool claimed = has_claim(en);
    char was[13];
    utf8_copy(was, sizeof(was), en->id);
    for (int r = 0; r < POLICY_N_RESOURCES; r++)
        engine_clear_res(&en->r[r]);
    en->h.streak = 0;
    en->h.crashloop = false;
    en->oom_at_limit = false;
    en->service = t->service;
    utf8_copy(en->id, sizeof(en->id), id);
    if (claimed)
        engine_note(en, engine_now(e), engine_kind_label(job->kind, job->resource),
                    "claim_dropped", why);
    engine_unlock_persist(e);
    if (claimed)
        log_warn("claim dropped: its target changed; left as it is", "container=%s id=%.12s "
                                                                      "claimed_id=%s reason=%s",
                 log_quote(qn, sizeof(qn), job->container), id, was[0] ? was : "-", why);
    if (!claimed || (job->kind != POLICY_SCALE_IN && job->kind != POLICY_RESOLVE))
        return DOCKER_OK; /* a scale-out, restart or heal decides on the target as it is now */
    metrics_action(e->o.metrics, engine_kind_label(job->kind, job->resource), "skipped", 0);
    engine_target_free(t);
    engine_reply_state(e, job, OUTCOME_CLAIM_DROPPED, why);
    return DOCKER_E_CONFLICT;
}

static void log_change(const char *msg, const struct engine_job *job, const char *kind,
                       int64_t from, int64_t to, int64_t t0, bool dry, const char *why)
{
    char qn[300];

    log_info(msg,
             "container=%s action=%s from=%" PRId64 " to=%" PRId64 " duration_ms=%" PRId64
             " dry_run=%s reason=%s remote=%s",
             log_quote(qn, sizeof(qn), job->container), kind, from, to, clock_mono_ms() - t0,
             dry ? "true" : "false", why, job->remote[0] ? job->remote : "-");
}

/* Repeated scale-out while out: extend the deadline, never re-apply. */
bool engine_extend_if_out(struct engine *e, const struct engine_job *job,
                          const struct policy_decision *d, int64_t t0)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container);
    struct res_state *r = en ? &en->r[job->resource] : NULL;
    if (!r || !r->out) {
        pthread_mutex_unlock(&e->lock);
        return false;
    }
    int64_t old = r->deadline_ms;
    if (d->deadline_ms > r->deadline_ms)
        r->deadline_ms = d->deadline_ms;
    /* A burst of repeats moves the deadline by milliseconds: save (fsync) only when an alert is
     * new or the deadline moved by a second or more. */
    if (engine_add_firing(r, job) || r->deadline_ms - old >= 1000)
        engine_unlock_persist_entry(e, en);
    else
        pthread_mutex_unlock(&e->lock);
    metrics_action(e->o.metrics, engine_kind_label(job->kind, job->resource), "skipped",
                   engine_since_s(t0));
    log_debug("already scaled out; deadline extended", "container=%s", job->container);
    engine_reply_state(e, job, OUTCOME_EXTENDED, "already scaled out; deadline extended");
    return true;
}

/* Nothing to change (no limit to raise, already at the level or the maximum): counted, 200. */
void engine_unchanged(struct engine *e, const struct engine_job *job, const char *kind,
                      const char *reason, int64_t t0)
{
    metrics_action(e->o.metrics, kind, "skipped", engine_since_s(t0));
    engine_reply_state(e, job, OUTCOME_UNCHANGED, reason);
}

/* Puts back a resource's state as it was before a claim whose change did not happen (prev), and
 * notes why when `error` is set. */
void engine_unclaim(struct engine *e, const struct engine_job *job, const struct res_state *prev,
                    const char *kind, const char *error)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container);
    if (en) {
        en->r[job->resource] = *prev;
        if (error)
            engine_note(en, engine_now(e), kind, "error", error);
    }
    engine_unlock_persist_entry(e, en);
}

/* The write-ahead claim could not be saved: no claim on disk, no change in Docker (a crash now
 * must not leave the target scaled out with nothing to scale it back in). OUTCOME_UNSAVED. */
void engine_claim_unsaved(struct engine *e, const struct engine_job *job, const char *kind,
                          const struct res_state *prev, const struct store_err *serr, int64_t t0)
{
    char msg[300], qn[300], qe[300];

    snprintf(msg, sizeof(msg), "cannot persist the claim: %s", serr->msg);
    engine_unclaim(e, job, prev, kind, msg);
    metrics_action(e->o.metrics, kind, "error", engine_since_s(t0));
    log_error("scale-out refused: its claim could not be saved", "container=%s error=%s",
              log_quote(qn, sizeof(qn), job->container), log_quote(qe, sizeof(qe), serr->msg));
    engine_reply_state(e, job, OUTCOME_UNSAVED, msg);
}

void engine_claim(struct engine *e, struct entry *en, const struct engine_job *job, int64_t level,
                  const char *kind, int64_t now)
{
    struct res_state *r = &en->r[job->resource];

    r->out = true;
    r->applied = level;
    r->since_ms = now;
    r->check_queued = false;
    engine_add_firing(r, job);
    engine_note(en, now, kind, e->o.dry_run ? "dry_run" : "applying", NULL);
}

bool engine_unlock_save_claim(struct engine *e, const struct entry *en,
                              const struct engine_job *job, const char *kind,
                              const struct res_state *prev, int64_t t0)
{
    struct store_err serr = {0};
    bool saved = engine_unlock_journal_err(e, en, &serr);

    engine_phase(e, "claim_save");
    if (saved || e->o.dry_run)
        return true;
    engine_claim_unsaved(e, job, kind, prev, &serr, t0);
    return false;
}

/* A scale-out was applied (or, dry run, would have been): note, count, log, answer. */
void engine_scaled_out(struct engine *e, const struct engine_job *job, const char *kind,
                       const char *what, int64_t from, int64_t to, int64_t now, int64_t t0)
{
    engine_phase(e, "docker");
    if (!e->o.dry_run) {
        pthread_mutex_lock(&e->lock);
        struct entry *en = engine_find_entry(e, job->container);
        if (en)
            engine_note(en, now, kind, "ok", NULL);
        engine_unlock_persist_entry(e, en);
        engine_phase(e, "final_save");
    }
    pthread_cond_broadcast(&e->timer_cond);
    metrics_action(e->o.metrics, kind, e->o.dry_run ? "dry_run" : "ok", engine_since_s(t0));
    log_change(e->o.dry_run ? "would scale out (dry run)" : what, job, kind, from, to, t0,
               e->o.dry_run, job->from_alert ? job->alertname : "manual");
    engine_reply_state(e, job, e->o.dry_run ? OUTCOME_DRY_RUN : OUTCOME_DONE,
                       e->o.dry_run ? "dry run: nothing changed" : "scaled out");
}

static void finish_scale_in(struct engine *e, const struct engine_job *job, const char *kind,
                            const char *result)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container);
    if (en) {
        struct res_state *r = &en->r[job->resource];
        int64_t base = r->base, base_swap = r->base_swap;
        engine_clear_res(r);
        if (strcmp(result, "claim_dropped") != 0) { /* what it was restored to stays visible */
            r->base = base;
            r->base_swap = base_swap;
        }
        engine_note(en, engine_now(e), kind, result, NULL);
    }
    engine_unlock_persist_entry(e, en);
}

/* At scale-in the target is not at the level the scale-out set (someone changed it by hand):
 * leave it as it is and forget the claim. */
void engine_claim_dropped(struct engine *e, const struct engine_job *job, const char *kind,
                          int64_t set, int64_t found, const char *reason, int64_t t0)
{
    char qn[300];

    log_warn("resources changed by hand while scaled out; dropping claim",
             "container=%s action=%s set=%" PRId64 " found=%" PRId64,
             log_quote(qn, sizeof(qn), job->container), kind, set, found);
    finish_scale_in(e, job, kind, "claim_dropped");
    metrics_action(e->o.metrics, kind, "skipped", engine_since_s(t0));
    engine_reply_state(e, job, OUTCOME_CLAIM_DROPPED, reason);
}

/* A scale-in was applied (or, dry run, would have been): record, count, log, answer. */
void engine_scaled_in(struct engine *e, const struct engine_job *job, const char *kind,
                      int64_t from, int64_t to, const char *why, int64_t t0)
{
    engine_phase(e, "docker");
    finish_scale_in(e, job, kind, e->o.dry_run ? "dry_run" : "ok");
    engine_phase(e, "final_save");
    metrics_action(e->o.metrics, kind, e->o.dry_run ? "dry_run" : "ok", engine_since_s(t0));
    log_change(e->o.dry_run ? "would scale in (dry run)" : "scaled in", job, kind, from, to, t0,
               e->o.dry_run, why);
    engine_reply_state(e, job, e->o.dry_run ? OUTCOME_DRY_RUN : OUTCOME_DONE,
                       e->o.dry_run ? "dry run: nothing changed" : "scaled in");
}

bool engine_job_is_manual_scale_in(const struct engine_job *job)
{
    return job->kind == POLICY_SCALE_IN && job->done != NULL; /* the timer's checks have no done */
}

/* A scale-in attempt failed: let the timer try again in RETRY_MS, not on its next tick. */
void engine_retry_later(struct engine *e, const struct engine_job *job)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container);
    if (en && en->r[job->resource].out) { /* a dropped claim is not retried */
        en->r[job->resource].check_queued = false;
        en->r[job->resource].hold_until = engine_now(e) + RETRY_MS;
        en->r[job->resource].manual_pending |= engine_job_is_manual_scale_in(job);
    }
    pthread_mutex_unlock(&e->lock);
}
