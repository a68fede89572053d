/* engine_queue.c: the shared job queue and its workers, one job per container at a time. */
#include "engine_internal.h"

#include <string.h>

#include "err.h"
#include "clock.h"
#include "utf8.h"

static void run_item(struct engine *e, const struct item *it)
{
    int64_t t0 = clock_mono_ms();
    const struct engine_job *job = &it->job;

    engine_history_begin(t0);
    engine_phase_start(e, it->queued_ns);

    if (it->op == OP_RECONCILE) {
        engine_do_reconcile(e, job, t0);
        return;
    }
    if (it->op == OP_HEAL) {
        engine_do_heal(e, job, t0);
        return;
    }
    if (it->op == OP_CHECK) {
        engine_do_scale_in(e, job, false, t0);
        return;
    }
    switch (job->kind) {
    case POLICY_SCALE_OUT:
        engine_do_scale_out(e, job, t0);
        break;
    case POLICY_SCALE_IN:
        engine_do_scale_in(e, job, true, t0);
        break;
    case POLICY_RESOLVE:
        engine_do_resolve(e, job, t0);
        break;
    case POLICY_RESTART:
        engine_do_restart(e, job, t0);
        break;
    default:
        engine_reply_state(e, job, OUTCOME_REFUSED, "nothing to do");
        break;
    }
}

static bool same_container(const struct item *it, uint64_t key, const char *name)
{
    return it->key == key && strcmp(it->job.container, name) == 0;
}

/* Lock held: whether a worker is running a job of that container. */
static bool in_flight(const struct engine *e, uint64_t key, const char *name)
{
    for (size_t i = 0; i < e->n_workers; i++) {
        const struct worker *w = &e->w[i];
        if (w->busy && w->key == key && strcmp(w->container, name) == 0)
            return true;
    }
    return false;
}

/* Same effect when run: everything the worker reads except `remote` (logs only). */
static bool same_effect(const struct engine_job *a, const struct engine_job *b)
{
    return a->kind == b->kind && a->resource == b->resource && a->force == b->force &&
           a->from_alert == b->from_alert && strcmp(a->fingerprint, b->fingerprint) == 0 &&
           strcmp(a->alertname, b->alertname) == 0 && strcmp(a->duration, b->duration) == 0;
}

static bool scale_alert(const struct item *it)
{
    return it->op == OP_SUBMIT && !it->job.done &&
           (it->job.kind == POLICY_SCALE_OUT || it->job.kind == POLICY_RESOLVE);
}

/*
 * Lock held. Coalescing: a fire-and-forget job (webhook) is dropped when the same container has a
 * queued, not yet started, fire-and-forget job of the same effect (kind, resource, fingerprint,
 * alertname, duration, force) that would run after everything the new one could be reordered
 * with. Running the job twice in a row changes nothing the first run did not: a second scale-out
 * only extends the deadline, which is computed from the clock when the job runs, and the kept job
 * runs after the dropped one was submitted, so the deadline still covers the repeat; a second
 * resolve or restart finds its work done. Walking back from the newest job, the only jobs of the
 * container the new one may pass are scale-out/resolve alerts for the other resource: those touch
 * only their own resource's state. Anything else (a scale-in check, a heal, a restart, a manual
 * call, the same resource with another fingerprint) stops the walk and the job is queued, so the
 * container's order of effects is unchanged. Jobs with a completion callback are never merged:
 * each caller gets its own answer.
 */
static bool coalesce(struct engine *e, enum op op, const struct engine_job *job, uint64_t key)
{
    struct item probe = {.op = op, .job = *job};

    if (op != OP_SUBMIT || job->done || !e->queued_in[key % QUEUE_BUCKETS])
        return false;
    for (struct item *it = e->tail; it; it = it->prev) {
        if (!same_container(it, key, job->container))
            continue;
        if (it->op == OP_SUBMIT && !it->job.done && same_effect(&it->job, job))
            return true;
        if (!scale_alert(it) || !scale_alert(&probe) || it->job.resource == job->resource)
            return false;
    }
    return false;
}

/* Lock held. Appends a copy of job to the shared FIFO (or merges it, see coalesce()). */
engine_code engine_enqueue(struct engine *e, enum op op, const struct engine_job *job)
{
    uint64_t key = engine_name_hash(job->container);

    if (coalesce(e, op, job, key))
        return ENGINE_OK;
    struct item *it = e->spare;
    if (it)
        e->spare = it->next;
    else if (e->n_pool_used < e->o.queue_max)
        it = &e->pool[e->n_pool_used++];
    else
        return ENGINE_E_FULL;
    *it = (struct item){
        .op = op, .job = *job, .key = key, .queued_ns = clock_mono_ns(), .prev = e->tail};
    if (e->tail)
        e->tail->next = it;
    else
        e->head = it;
    e->tail = it;
    e->n_queued++;
    e->queued_in[key % QUEUE_BUCKETS]++;
    if (!e->hold) /* held: engine_release wakes the workers */
        pthread_cond_signal(&e->work_cond);
    return ENGINE_OK;
}

/* Lock held. Unlinks it from the FIFO (its contents stay readable until the next enqueue). */
static void release(struct engine *e, struct item *it)
{
    if (it->prev)
        it->prev->next = it->next;
    else
        e->head = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        e->tail = it->prev;
    e->n_queued--;
    e->queued_in[it->key % QUEUE_BUCKETS]--;
    it->prev = NULL;
    it->next = e->spare;
    e->spare = it;
}

/* Lock held. The oldest queued job whose container has no job running, or NULL. */
static struct item *next_runnable(struct engine *e)
{
    for (struct item *it = e->head; it; it = it->next) {
        if (!in_flight(e, it->key, it->job.container))
            return it;
    }
    return NULL;
}

void *engine_worker_main(void *arg)
{
    struct worker *w = arg;
    struct engine *e = w->e;

    pthread_mutex_lock(&e->lock);
    for (;;) {
        bool held = e->hold && !e->stopping;
        struct item *next = e->aborting || held ? NULL : next_runnable(e);
        if (!next) {
            if (e->stopping)
                break; /* what is left waits for a busy container's worker, or is cancelled */
            pthread_cond_wait(&e->work_cond, &e->lock);
            continue;
        }
        struct item it = *next;
        release(e, next);
        w->busy = true;
        w->key = it.key;
        utf8_copy(w->container, sizeof(w->container), it.job.container);
        if (e->head) /* more may be runnable: pass the wake-up on (an idle worker rescans) */
            pthread_cond_signal(&e->work_cond);
        pthread_mutex_unlock(&e->lock);
        run_item(e, &it);
        pthread_mutex_lock(&e->lock);
        w->busy = false; /* the container's next job, held back meanwhile, is runnable now */
        pthread_cond_broadcast(&e->idle_cond);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

engine_code engine_submit(struct engine *e, const struct engine_job *job, struct engine_err *err)
{
    engine_code rc;

    if (!job->container[0]) {
        ERR_SET(err, ENGINE_E_INVALID, "empty container name");
        return ENGINE_E_INVALID;
    }
    struct engine_job keyed = *job;
    pthread_mutex_lock(&e->lock);
    engine_canonical(e, job->container, keyed.container, sizeof(keyed.container));
    rc = e->stopping ? ENGINE_E_STOPPED : engine_enqueue(e, OP_SUBMIT, &keyed);
    pthread_mutex_unlock(&e->lock);
    if (rc == ENGINE_E_FULL)
        ERR_SET(err, rc, "engine queue is full (%zu jobs)", e->o.queue_max);
    else if (rc == ENGINE_E_STOPPED)
        ERR_SET(err, rc, "shutting down");
    return rc;
}

void engine_hold(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->hold++;
    pthread_mutex_unlock(&e->lock);
}

void engine_release(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    if (e->hold && --e->hold == 0 && e->head)
        pthread_cond_broadcast(&e->work_cond);
    pthread_mutex_unlock(&e->lock);
}

/* Lock held. */
bool engine_idle_locked(const struct engine *e)
{
    if (e->head)
        return false;
    for (size_t i = 0; i < e->n_workers; i++) {
        if (e->w[i].busy)
            return false;
    }
    return true;
}

void engine_wait_idle(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    while (!engine_idle_locked(e))
        pthread_cond_wait(&e->idle_cond, &e->lock);
    pthread_mutex_unlock(&e->lock);
}

/* Answers every queued job with OUTCOME_BUSY (lock held). */
void engine_cancel_queued(struct engine *e)
{
    while (e->head) {
        struct item it = *e->head;
        release(e, e->head);
        if (it.job.done) {
            pthread_mutex_unlock(&e->lock);
            struct engine_result res = {OUTCOME_BUSY, it.job.container, "shutting down", NULL};
            it.job.done(it.job.done_ud, &res);
            pthread_mutex_lock(&e->lock);
        }
    }
}
