/* engine_oom.c: Docker's `oom` event answered at once with a memory scale-out, or a flag when
 * there is nothing left to raise.
 *
 * DESIGN
 * The kernel OOM-kills a process of the container; Docker reports `oom` (then `die` when the
 * process was the container's main one). The event watcher calls engine_oom(), which queues an
 * ordinary memory scale-out job (kind SCALE_OUT, resource MEMORY, from_alert with no fingerprint:
 * no alert will resolve it, so it scales in at its deadline under the same rules as a resolved
 * memory alert: scale duration, Prometheus hold, working-set margin). Its reason in the logs is
 * "oom". The job runs on the container's worker before the heal that the `die` queues, so the
 * container is started again at the raised limit. A container whose limit already is the
 * scaled-out level (trip.memory or --memory) or above cannot be helped by the receiver: each OOM
 * kill is then flagged (log error, API memory.oom_at_limit, trip_oom_total{result="at_limit"},
 * trip_oom_at_limit_containers) instead of being "scaled" again; the heal's crash-loop backoff
 * bounds the restarts. The `oom` event comes while the killed container is still dying: runc then
 * refuses the update ("container not running") until Docker has recorded the exit, after which
 * the exited container takes it (applied when the heal starts it). engine_oom_update() therefore
 * tries the update up to OOM_UPDATE_TRIES times, OOM_UPDATE_SPACING_MS apart, while the daemon
 * answers 5xx or 409, holding the container's worker (its heal waits behind it, as it should).
 * The flag and the count are not persisted; a later `oom` event that finds room to raise the
 * limit clears the flag.
 */
#include "engine_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "utf8.h"

#define OOM_UPDATE_TRIES 10
#define OOM_UPDATE_SPACING_MS 200

docker_code engine_oom_update(struct engine *e, const char *id, const struct docker_update *u,
                              struct docker_err *derr)
{
    docker_code rc = e->o.ops->update(e->o.docker_ud, id, u, derr);

    for (int i = 1; i < OOM_UPDATE_TRIES && (rc == DOCKER_E_SERVER || rc == DOCKER_E_CONFLICT);
         i++) {
        struct timespec ts = {0, OOM_UPDATE_SPACING_MS * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        memset(derr, 0, sizeof(*derr));
        rc = e->o.ops->update(e->o.docker_ud, id, u, derr);
    }
    return rc;
}

engine_code engine_oom(struct engine *e, const char *name, struct engine_err *err)
{
    struct engine_job job = {0};

    job.kind = POLICY_SCALE_OUT;
    job.resource = POLICY_MEMORY;
    job.from_alert = true; /* no fingerprint: nothing waits for a resolve */
    job.oom = true;
    utf8_copy(job.container, sizeof(job.container), name);
    utf8_copy(job.alertname, sizeof(job.alertname), "oom");
    utf8_copy(job.remote, sizeof(job.remote), "docker-events");
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_get_entry(e, name);
    if (en)
        en->ooms++;
    pthread_mutex_unlock(&e->lock);
    metrics_oom(e->o.metrics, "raise");
    return engine_submit(e, &job, err);
}

bool engine_oom_at_limit(struct engine *e, const struct engine_job *job, int64_t current,
                         int64_t target, int64_t t0)
{
    const char *kind = engine_kind_label(POLICY_SCALE_OUT, POLICY_MEMORY);
    char qn[300], why[200];

    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_get_entry(e, job->container);
    if (current <= 0 || current < target) {
        if (en)
            en->oom_at_limit = false;
        pthread_mutex_unlock(&e->lock);
        return false;
    }
    snprintf(why, sizeof(why),
             "OOM-killed at %" PRId64
             " MiB, its largest allowed memory limit (scaled-out level %" PRId64 " MiB)",
             current >> 20, target >> 20);
    if (en) {
        en->oom_at_limit = true;
        engine_note(en, engine_now(e), kind, "at_limit", why);
    }
    engine_unlock_persist(e);
    metrics_oom(e->o.metrics, "at_limit");
    metrics_action(e->o.metrics, kind, "skipped", engine_since_s(t0));
    log_error("OOM-killed at its largest allowed memory limit; nothing to raise",
              "container=%s memory=%" PRId64 " scaled_out_level=%" PRId64
              " hint=\"raise trip.memory or --memory, or fix the workload\"",
              log_quote(qn, sizeof(qn), job->container), current, target);
    engine_reply_state(e, job, OUTCOME_UNCHANGED, why);
    return true;
}
