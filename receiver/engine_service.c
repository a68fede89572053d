/* engine_service.c: scaling a Swarm service (CPU, memory limits, replicas). */
#include "engine_internal.h"

#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "utf8.h"

#define SERVICE_TRIES 3 /* reads of a service whose update met a version conflict */

static int64_t svc_reserve(const struct docker_service *s, enum policy_resource r)
{
    const struct engine_res_docker *rd = &engine_res_docker[r];

    return rd->svc_reserve ? rd->svc_reserve(s) : 0;
}

/* The reservation that goes with a limit moved from `from` to `to`: scaled with it (as Kubernetes'
 * VPA keeps a pod's request/limit ratio), never above the new limit; none stays none. */
static int64_t scaled_reserve(int64_t reserve, int64_t from, int64_t to)
{
    if (reserve <= 0)
        return 0;
    if (from <= 0)
        return reserve < to ? reserve : to;
    __int128 v = (__int128)reserve * to / from;
    return v > to ? to : (int64_t)v;
}

/* After a version conflict: logs it and reads the service again into *svc. False when that
 * failed (answered; a vanished service's state is dropped). */
static bool svc_reread(struct engine *e, const struct engine_job *job, struct docker_service *svc,
                       int attempt, int64_t t0)
{
    struct docker_err derr = {0};
    char qn[300];

    metrics_docker_error(e->o.metrics, docker_code_name(DOCKER_E_CONFLICT));
    log_info("service changed meanwhile (version conflict); reading it again",
             "service=%s version=%" PRIu64 " attempt=%d", log_quote(qn, sizeof(qn), job->container),
             svc->version, attempt);
    docker_service_free(svc);
    memset(svc, 0, sizeof(*svc));
    docker_code rc = e->o.ops->service_inspect(e->o.docker_ud, job->container, svc, &derr);
    if (rc == DOCKER_OK)
        return true;
    if (rc == DOCKER_E_NOT_FOUND || rc == DOCKER_E_NO_SWARM) {
        pthread_mutex_lock(&e->lock);
        engine_unlock_drop(e, job->container);
        rc = DOCKER_E_NOT_FOUND;
    }
    engine_docker_failed(e, job, "inspect service", rc, &derr, t0);
    return false;
}

/* Scale-out of a service: CPU or memory limit (reservation in proportion), or one step of
 * replicas. While scaled out, a repeat only extends the deadline, except that a replicas alert
 * still firing a whole scale duration after the last step adds another step (up to the max). */
void engine_service_scale_out(struct engine *e, const struct engine_job *job,
                              struct docker_service *svc, int64_t t0)
{
    const char *kind = engine_kind_label(POLICY_SCALE_OUT, job->resource);
    struct policy_request req = {job->kind, job->resource, job->duration, job->force,
                                 job->from_alert};
    char qn[300], qr[200];

    for (int attempt = 1;; attempt++) {
        struct policy_container pc;
        struct policy_decision d;
        int64_t now = engine_now(e), target;
        bool again = false;

        engine_service_policy(e, &pc, svc);
        policy_decide(&e->o.lim, &req, &pc, now, &d);
        if (d.verdict != POLICY_ACCEPT) {
            log_info("ignored", "service=%s action=%s reason=%s remote=%s",
                     log_quote(qn, sizeof(qn), job->container), kind,
                     log_quote(qr, sizeof(qr), d.reason), job->remote[0] ? job->remote : "-");
            metrics_action(e->o.metrics, kind, "skipped", engine_since_s(t0));
            engine_reply_state(e, job, d.outcome, d.reason);
            return;
        }
        if (engine_in_maintenance(e, job->container)) {
            metrics_action(e->o.metrics, kind, "skipped", engine_since_s(t0));
            engine_reply_state(e, job, OUTCOME_CONFLICT, "service is in maintenance");
            return;
        }
        int64_t cur = engine_svc_level(job->resource, svc);
        pthread_mutex_lock(&e->lock);
        struct entry *en = engine_find_entry(e, job->container);
        struct res_state prev = en ? en->r[job->resource] : (struct res_state){0};
        pthread_mutex_unlock(&e->lock);
        if (prev.out) {
            again = policy_scale_out_again(&d, cur, prev.applied, prev.since_ms, now);
            if (!again) {
                engine_extend_if_out(e, job, &d, t0);
                return;
            }
        }
        const char *why;
        target = policy_scale_out_level(&d, true, cur, &why);
        if (why) {
            engine_unchanged(e, job, kind, why, t0);
            return;
        }
        if (cur >= target) {
            bool steps = policy_target_rule(job->resource, true)->unit == POLICY_UNIT_STEPS;
            engine_unchanged(e, job, kind,
                             steps ? "already at the maximum replicas (trip.max-replicas)"
                                   : "already at or above the scaled-out level",
                             t0);
            return;
        }
        int64_t reserve = svc_reserve(svc, job->resource);
        int64_t new_res = scaled_reserve(reserve, cur, target);

        /* Write-ahead claim, as for containers. */
        pthread_mutex_lock(&e->lock);
        en = engine_get_entry(e, job->container);
        if (en) {
            struct res_state *r = &en->r[job->resource];
            utf8_copy(en->id, sizeof(en->id), svc->id);
            en->service = true;
            en->version = svc->version;
            if (!again) {
                r->base = cur;
                r->base_res = reserve;
                r->deadline_ms = d.deadline_ms;
            } else if (d.deadline_ms > r->deadline_ms) {
                r->deadline_ms = d.deadline_ms;
            }
            r->applied_res = new_res;
            engine_claim(e, en, job, target, kind, now);
        }
        if (!engine_unlock_save_claim(e, en, job, kind, &prev, t0))
            return;
        if (!e->o.dry_run) {
            struct docker_service_change chg;
            struct docker_err derr = {0};
            engine_svc_change(&chg, svc, job->resource, target, new_res);
            docker_code rc = e->o.ops->service_update(e->o.docker_ud, svc, &chg, &derr);
            if (rc != DOCKER_OK) {
                engine_unclaim(e, job, &prev, kind, NULL);
                if (rc == DOCKER_E_CONFLICT && attempt < SERVICE_TRIES) {
                    if (!svc_reread(e, job, svc, attempt, t0))
                        return;
                    continue; /* decide again on what is there now */
                }
                engine_docker_failed(e, job, "update service", rc, &derr, t0);
                return;
            }
        }
        engine_scaled_out(e, job, kind, again ? "scaled out another step" : "scaled out", cur,
                          target, now, t0);
        return;
    }
}

/* Scale-in of a service (already judged due) to its recorded baseline. */
void engine_service_scale_in(struct engine *e, const struct engine_job *job,
                             const struct res_state *r, struct docker_service *svc, const char *why,
                             int64_t t0)
{
    const char *kind = engine_kind_label(POLICY_SCALE_IN, job->resource);

    for (int attempt = 1;; attempt++) {
        int64_t cur = engine_svc_level(job->resource, svc);
        if (!e->o.dry_run && cur != r->applied) {
            engine_claim_dropped(e, job, kind, r->applied, cur,
                                 "the service was changed by hand; left as it is", t0);
            return;
        }
        if (!e->o.dry_run) {
            struct docker_service_change chg;
            struct docker_err derr = {0};
            engine_svc_change(&chg, svc, job->resource, r->base, r->base_res);
            docker_code rc = e->o.ops->service_update(e->o.docker_ud, svc, &chg, &derr);
            if (rc == DOCKER_E_CONFLICT && attempt < SERVICE_TRIES) {
                if (!svc_reread(e, job, svc, attempt, t0)) {
                    engine_retry_later(e, job);
                    return;
                }
                continue;
            }
            if (rc != DOCKER_OK) {
                engine_retry_later(e, job);
                engine_docker_failed(e, job, "update service", rc, &derr, t0);
                return;
            }
            pthread_mutex_lock(&e->lock);
            struct entry *en = engine_find_entry(e, job->container);
            if (en)
                en->version = svc->version;
            pthread_mutex_unlock(&e->lock);
        }
        engine_scaled_in(e, job, kind, r->applied, r->base, why, t0);
        return;
    }
}
