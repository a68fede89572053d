/* engine_container.c: scaling and restarting a container. */
#include "engine_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "store.h"
#include "utf8.h"

static void scale_out(struct engine *e, const struct engine_job *job,
                      const struct docker_container *ct, const struct policy_decision *d,
                      int64_t t0)
{
    const char *kind = engine_kind_label(POLICY_SCALE_OUT, job->resource);
    const struct engine_res_docker *rd = &engine_res_docker[job->resource];
    const struct policy_target_rule *rule = policy_target_rule(job->resource, false);
    struct docker_update u = {0};
    struct docker_err derr = {0};
    int64_t cur = rd->ct_level(ct);
    int64_t eff = cur == 0 && rule->unset_level ? rule->unset_level : cur;
    const char *why;
    int64_t target = policy_scale_out_level(d, false, cur, &why);

    if (why) {
        engine_unchanged(e, job, kind, why, t0);
        return;
    }
    if (eff >= target) {
        engine_unchanged(e, job, kind, "already at or above the scaled-out level", t0);
        return;
    }
    int64_t aux = rd->ct_aux_for ? rd->ct_aux_for(ct, target) : 0;
    rd->ct_set(&u, target, aux);
    /* Write-ahead: the claim is on disk before Docker changes anything, so a crash right after
     * the update never leaves a scaled-out container without a deadline. (A crash before the
     * update leaves a claim whose level was never applied; scale-in then sees the mismatch and
     * drops it.) */
    int64_t now = engine_now(e);
    struct res_state prev = {0};
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container); /* name or ID alias */
    if (!en)
        en = engine_get_entry(e, ct->name[0] ? ct->name : job->container);
    if (en) {
        struct res_state *r = &en->r[job->resource];
        prev = *r;
        utf8_copy(en->id, sizeof(en->id), ct->id);
        r->base = cur;
        r->base_swap = rd->ct_aux ? rd->ct_aux(ct) : 0;
        r->applied_swap = aux;
        r->deadline_ms = d->deadline_ms;
        engine_claim(e, en, job, target, kind, now);
    }
    if (!engine_unlock_save_claim(e, en, job, kind, &prev, t0))
        return;
    if (!e->o.dry_run) {
        docker_code rc = job->oom ? engine_oom_update(e, ct->id, &u, &derr)
                                  : e->o.ops->update(e->o.docker_ud, ct->id, &u, &derr);
        if (rc != DOCKER_OK) {
            engine_unclaim(e, job, &prev, kind, NULL);
            engine_docker_failed(e, job, "update", rc, &derr, t0);
            return;
        }
    }
    engine_scaled_out(e, job, kind, "scaled out", cur, target, now, t0);
}

void engine_do_scale_out(struct engine *e, const struct engine_job *job, int64_t t0)
{
    struct engine_target t;
    struct policy_container pc;
    struct policy_decision d;
    struct policy_request req = {job->kind, job->resource, job->duration, job->force,
                                 job->from_alert};

    if (engine_inspect(e, job, &t, t0) != DOCKER_OK)
        return;
    if (t.service) {
        engine_service_scale_out(e, job, &t.svc, t0);
        engine_target_free(&t);
        return;
    }
    const struct docker_container *ct = &t.ct;
    if (strcmp(ct->status, "removing") == 0) { /* `docker rm -f` under way: nothing to scale */
        char qn[300];
        log_info("not scaled: container is being removed", "container=%s action=%s",
                 log_quote(qn, sizeof(qn), job->container),
                 engine_kind_label(job->kind, job->resource));
        metrics_action(e->o.metrics, engine_kind_label(job->kind, job->resource), "skipped",
                       engine_since_s(t0));
        engine_reply_state(e, job, OUTCOME_NOT_FOUND, "container is being removed");
        engine_target_free(&t);
        return;
    }
    engine_container_policy(e, &pc, ct);
    policy_decide(&e->o.lim, &req, &pc, engine_now(e), &d);
    if (d.verdict != POLICY_ACCEPT) {
        char qn[300], qr[200];
        log_info("ignored", "container=%s action=%s reason=%s remote=%s",
                 log_quote(qn, sizeof(qn), job->container),
                 engine_kind_label(job->kind, job->resource), log_quote(qr, sizeof(qr), d.reason),
                 job->remote[0] ? job->remote : "-");
        metrics_action(e->o.metrics, engine_kind_label(job->kind, job->resource), "skipped",
                       engine_since_s(t0));
        engine_reply_state(e, job, d.outcome, d.reason);
    } else if (engine_in_maintenance(e, job->container)) {
        metrics_action(e->o.metrics, engine_kind_label(job->kind, job->resource), "skipped",
                       engine_since_s(t0));
        engine_reply_state(e, job, OUTCOME_CONFLICT, "container is in maintenance");
    } else if (job->oom && engine_oom_at_limit(e, job, ct->res.memory, d.target, t0)) {
        /* flagged: nothing left to raise */
    } else if (!engine_extend_if_out(e, job, &d, t0)) {
        scale_out(e, job, ct, &d, t0);
    }
    engine_target_free(&t);
}

/* Resources differ from what the scale-out set: someone changed them by hand. */
static bool changed_by_hand(const struct res_state *r, const struct docker_container *ct,
                            enum policy_resource which)
{
    const struct engine_res_docker *rd = &engine_res_docker[which];

    return rd->ct_level(ct) != r->applied ||
           (rd->ct_aux && r->applied_swap != 0 && rd->ct_aux(ct) != r->applied_swap);
}

/* Before a memory scale-in to baseline B: true (postponed, retried in RETRY_MS, noted as the
 * container's last action with the reason) when the container's working set (usage minus the
 * page cache the kernel can reclaim) does not fit policy_memory_scale_in_fits(): above 50 % of B
 * for an automatic scale-in (the margin under the memory rules' 60 %), above 90 % for a manual
 * one (policy_memory_fits: never below the workload); or when its usage cannot be read.
 * Shrinking below the usage would make the kernel OOM-kill the workload the receiver protects,
 * so this wins even over --max-hold. B of 0 (no limit) needs no check. The first postponement of
 * a hold is logged at info, the retries every RETRY_MS at debug. */
static bool memory_guard_holds(struct engine *e, const struct engine_job *job,
                               const struct res_state *r, const char *id)
{
    const char *kind = engine_kind_label(POLICY_SCALE_IN, job->resource);
    struct docker_stats st = {0};
    struct docker_err derr = {0};
    char qn[300], qe[300], why[256];
    int pct = job->force ? POLICY_MEMORY_GUARD_PCT : POLICY_MEMORY_SCALE_IN_PCT;
    bool first = true;

    if (!engine_res_docker[job->resource].guard_usage || r->base <= 0 || !e->o.ops->stats)
        return false;
    docker_code rc = e->o.ops->stats(e->o.docker_ud, id, &st, &derr);
    uint64_t ws =
        st.memory_usage > st.memory_inactive_file ? st.memory_usage - st.memory_inactive_file : 0;
    if (rc == DOCKER_OK && policy_memory_scale_in_fits(ws, r->base, job->force))
        return false;
    if (rc != DOCKER_OK)
        snprintf(why, sizeof(why), "usage unknown: %.200s", derr.msg);
    else
        snprintf(why, sizeof(why),
                 "working set %" PRIu64 " MiB above %d%% of the baseline %" PRId64
                 " MiB%s; holding the scale-out",
                 ws >> 20, pct, r->base >> 20,
                 job->force ? ""
                            : " (back at the baseline the memory rules, 60%, would fire again)");
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container);
    if (en) {
        /* a new hold, or one whose reason changed (from Prometheus' hold, from usage unknown) */
        first = strcmp(en->last_result, "postponed") != 0 || strcmp(en->last_action, kind) != 0 ||
                strncmp(en->last_error, why, 12) != 0;
        engine_note(en, engine_now(e), kind, "postponed", why);
    }
    engine_unlock_persist_entry(e, en);
    engine_retry_later(e, job);
    if (rc != DOCKER_OK) {
        metrics_docker_error(e->o.metrics, docker_code_name(rc));
        log_error("memory scale-in postponed: usage unknown",
                  "container=%s baseline=%" PRId64 " error=%s",
                  log_quote(qn, sizeof(qn), job->container), r->base,
                  log_quote(qe, sizeof(qe), derr.msg));
    } else if (first) {
        log_info("memory scale-in postponed: working set above the scale-in margin",
                 "container=%s working_set=%" PRIu64 " usage=%" PRIu64 " baseline=%" PRId64
                 " margin_pct=%d retry_ms=%d reason=%s",
                 log_quote(qn, sizeof(qn), job->container), ws, st.memory_usage, r->base, pct,
                 RETRY_MS, log_quote(qe, sizeof(qe), why));
    } else {
        log_debug("memory scale-in still postponed", "container=%s working_set=%" PRIu64,
                  log_quote(qn, sizeof(qn), job->container), ws);
    }
    return true;
}

/* Restores the baseline of a scaled-out resource (already judged due). */
void engine_container_scale_in(struct engine *e, const struct engine_job *job,
                               const struct res_state *r, const char *why, int64_t t0)
{
    const char *kind = engine_kind_label(POLICY_SCALE_IN, job->resource);
    struct engine_target t;
    struct docker_update u = {0};
    struct docker_err derr = {0};

    if (engine_inspect(e, job, &t, t0) != DOCKER_OK) {
        engine_retry_later(e, job);
        return;
    }
    if (t.service) {
        engine_service_scale_in(e, job, r, &t.svc, why, t0);
        engine_target_free(&t);
        return;
    }
    struct docker_container ct = t.ct; /* takes over what t.ct owns (freed below) */
    if (!e->o.dry_run && changed_by_hand(r, &ct, job->resource)) {
        engine_claim_dropped(e, job, kind, r->applied, engine_ct_level(job->resource, &ct),
                             "resources were changed by hand; left as they are", t0);
        goto out_free;
    }
    if (!e->o.dry_run && memory_guard_holds(e, job, r, ct.id)) {
        metrics_action(e->o.metrics, kind, "skipped", engine_since_s(t0));
        engine_reply_state(e, job, OUTCOME_POSTPONED,
                           "working set above the scale-in margin of the baseline; retrying");
        goto out_free;
    }
    int64_t unset = policy_target_rule(job->resource, false)->unset_level;
    int64_t level = r->base > 0 || !unset ? r->base : unset;
    engine_res_docker[job->resource].ct_set(&u, level, r->base_swap);
    if (!e->o.dry_run) {
        docker_code rc = e->o.ops->update(e->o.docker_ud, ct.id, &u, &derr);
        if (rc != DOCKER_OK) {
            engine_retry_later(e, job);
            engine_docker_failed(e, job, "update", rc, &derr, t0);
            goto out_free;
        }
    }
    engine_scaled_in(e, job, kind, r->applied, level, why, t0);
out_free:
    docker_container_free(&ct);
}

void engine_do_restart(struct engine *e, const struct engine_job *job, int64_t t0)
{
    struct docker_container ct;
    struct docker_err derr = {0};
    struct policy_container pc;
    struct policy_decision d;
    struct policy_request req = {job->kind, job->resource, NULL, job->force, job->from_alert};
    char qn[300];

    if (job->from_alert && engine_in_maintenance(e, job->container)) {
        log_info("ignored", "container=%s action=restart reason=maintenance",
                 log_quote(qn, sizeof(qn), job->container));
        metrics_action(e->o.metrics, "restart", "skipped", engine_since_s(t0));
        engine_reply_state(e, job, OUTCOME_CONFLICT, "container is in maintenance");
        return;
    }
    struct engine_target t;
    if (engine_inspect(e, job, &t, t0) != DOCKER_OK)
        return;
    ct = t.ct; /* takes over what t.ct owns (freed below) */
    if (t.service)
        engine_service_policy(e, &pc, &t.svc);
    else
        engine_container_policy(e, &pc, &ct);
    policy_decide(&e->o.lim, &req, &pc, engine_now(e), &d);
    docker_service_free(&t.svc);
    if (d.verdict != POLICY_ACCEPT) {
        log_info("ignored", "container=%s action=restart reason=%s",
                 log_quote(qn, sizeof(qn), job->container), d.reason);
        metrics_action(e->o.metrics, "restart", "skipped", engine_since_s(t0));
        engine_reply_state(e, job, d.outcome, d.reason);
        goto out_free;
    }
    if ((ct.running && !job->force) || ct.restarting || strcmp(ct.status, "removing") == 0) {
        metrics_action(e->o.metrics, "restart", "skipped", engine_since_s(t0));
        engine_reply_state(e, job, OUTCOME_UNCHANGED,
                           ct.running ? "container is running; send {\"force\":true} to restart it"
                                      : "container is busy");
        goto out_free;
    }
    docker_code rc = DOCKER_OK;
    if (!e->o.dry_run)
        rc = ct.running ? e->o.ops->restart(e->o.docker_ud, ct.id, &derr)
                        : e->o.ops->start(e->o.docker_ud, ct.id, &derr);
    if (rc != DOCKER_OK && rc != DOCKER_E_NOT_MODIFIED) {
        engine_docker_failed(e, job, ct.running ? "restart" : "start", rc, &derr, t0);
        goto out_free;
    }
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container); /* name or ID alias */
    if (!en)
        en = engine_get_entry(e, ct.name[0] ? ct.name : job->container);
    if (en) {
        utf8_copy(en->id, sizeof(en->id), ct.id);
        engine_note(en, engine_now(e), ct.running ? "restart" : "start",
                    e->o.dry_run ? "dry_run" : "ok", NULL);
    }
    engine_unlock_persist_entry(e, en);
    metrics_action(e->o.metrics, "restart", e->o.dry_run ? "dry_run" : "ok", engine_since_s(t0));
    log_info(
        e->o.dry_run ? "would restart (dry run)"
        : ct.running ? "restarted"
                     : "started",
        "container=%s action=%s from=%s to=running duration_ms=%" PRId64 " dry_run=%s remote=%s",
        log_quote(qn, sizeof(qn), job->container), ct.running ? "restart" : "start", ct.status,
        clock_mono_ms() - t0, e->o.dry_run ? "true" : "false", job->remote[0] ? job->remote : "-");
    engine_reply_state(e, job, e->o.dry_run ? OUTCOME_DRY_RUN : OUTCOME_DONE,
                       ct.running ? "restarted" : "started");
out_free:
    docker_container_free(&ct);
}
