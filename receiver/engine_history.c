/* engine_history.c: hands every action the engine ends to the action history (actions_*). */
#include "engine_internal.h"

#include <stdio.h>
#include <string.h>

#include "actions.h"
#include "clock.h"
#include "utf8.h"

/* When the worker's current job started (clock_mono_ms()); one job per worker thread at a time. */
static _Thread_local int64_t job_started_ms;

struct actions *engine_actions(const struct engine *e)
{
    return e->o.actions;
}

void engine_history_begin(int64_t t0)
{
    job_started_ms = t0;
}

/* The fields every record has; kind from the table (lock taken here). */
static void fill(struct engine *e, struct actions_record *r, const char *container,
                 const char *action, const char *trigger, const char *result, int64_t t0)
{
    r->at_ms = engine_now(e);
    r->took_ms = t0 > 0 ? clock_mono_ms() - t0 : 0;
    utf8_copy(r->container, sizeof(r->container), container);
    utf8_copy(r->action, sizeof(r->action), action);
    utf8_copy(r->trigger, sizeof(r->trigger), trigger);
    utf8_copy(r->result, sizeof(r->result), result);
    pthread_mutex_lock(&e->lock);
    const struct entry *en = engine_find_entry(e, container);
    snprintf(r->kind, sizeof(r->kind), "%s", en && en->service ? "service" : "container");
    pthread_mutex_unlock(&e->lock);
}

/* The result word of each outcome, as the API's replies say it (http.c's outcome_http). */
static const char *const result_word[] = {
    [OUTCOME_DONE] = "ok",
    [OUTCOME_DRY_RUN] = "dry_run",
    [OUTCOME_EXTENDED] = "extended",
    [OUTCOME_UNCHANGED] = "unchanged",
    [OUTCOME_CLAIM_DROPPED] = "claim_dropped",
    [OUTCOME_POSTPONED] = "postponed",
    [OUTCOME_NOT_MANAGED] = "ignored",
    [OUTCOME_NOT_FOUND] = "ignored",
    [OUTCOME_CONFLICT] = "ignored",
    [OUTCOME_REFUSED] = "ignored",
    [OUTCOME_VANISHED] = "error",
    [OUTCOME_FAILED] = "error",
    [OUTCOME_UNSAVED] = "error",
    [OUTCOME_BUSY] = "error",
};

void engine_history_job(struct engine *e, const struct engine_job *job, enum outcome outcome,
                        const char *reason)
{
    struct actions_record r = {0};
    size_t i = (size_t)outcome;
    const char *result = i < sizeof(result_word) / sizeof(result_word[0]) && result_word[i]
                             ? result_word[i]
                             : "error";
    bool error = strcmp(result, "error") == 0;

    /* a repeat of a firing alert only moves a deadline: not an action */
    if (!e->o.actions || outcome == OUTCOME_EXTENDED)
        return;
    fill(e, &r, job->container, engine_kind_label(job->kind, job->resource),
         job->from_alert  ? "alert"
         : job->remote[0] ? "manual"
                          : "timer",
         result, job_started_ms);
    if (job->from_alert) {
        utf8_copy(r.alertname, sizeof(r.alertname), job->alertname);
        utf8_copy(r.fingerprint, sizeof(r.fingerprint), job->fingerprint);
    }
    utf8_copy(r.caller, sizeof(r.caller), job->remote);
    utf8_copy(error ? r.error : r.reason, error ? sizeof(r.error) : sizeof(r.reason), reason);
    actions_add(e->o.actions, &r);
}

void engine_history_heal(struct engine *e, const char *container, const char *trigger,
                         const char *result, const char *error)
{
    struct actions_record r = {0};

    if (!e->o.actions)
        return;
    fill(e, &r, container, "heal", "event", result, job_started_ms);
    snprintf(r.reason, sizeof(r.reason), "Docker event: %s", trigger && *trigger ? trigger : "-");
    utf8_trim(r.reason);
    utf8_copy(r.error, sizeof(r.error), error);
    actions_add(e->o.actions, &r);
}
