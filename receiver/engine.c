/* engine.c: the engine's life: creation, start-up (loading the state, reconciling it with Docker),
 * shutdown, readiness and the gauges. The other engine_*.c files share engine_internal.h. */
#include "engine_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "utf8.h"

static int64_t real_clock(void *ud)
{
    (void)ud;
    return clock_wall_ms();
}

engine_code engine_new(const struct engine_opts *opts, struct engine **out, struct engine_err *err)
{
    struct engine *e = calloc(1, sizeof(*e));
    pthread_condattr_t ca;

    *out = NULL;
    if (!e)
        goto out_nomem;
    e->o = *opts;
    if (!e->o.ops)
        e->o.ops = &engine_docker_real;
    if (!e->o.clock)
        e->o.clock = real_clock;
    if (!e->o.prom)
        e->o.prom = &engine_prom_real;
    if (!e->o.workers)
        e->o.workers = 4;
    if (!e->o.queue_max)
        e->o.queue_max = 1024 * e->o.workers;
    if (e->o.heal.first_ms <= 0)
        e->o.heal.first_ms = 100;
    if (e->o.heal.max_ms <= 0)
        e->o.heal.max_ms = 60000;
    if (e->o.heal.stable_ms <= 0)
        e->o.heal.stable_ms = 10000;
    if (e->o.heal.crashloop_after <= 0)
        e->o.heal.crashloop_after = 5;
    e->n_workers = e->o.workers;
    e->w = calloc(e->n_workers, sizeof(*e->w));
    if (!e->w)
        goto out_free;
    /* Reserved whole, touched as used: the kernel gives calloc's large block zero pages on
     * demand, so an idle receiver does not hold the 4 096 jobs' megabytes (engine_enqueue takes
     * the never-used items in order, after the released ones). */
    e->pool = calloc(e->o.queue_max, sizeof(*e->pool));
    if (!e->pool)
        goto out_free;
    for (size_t i = 0; i < e->n_workers; i++)
        e->w[i].e = e;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->idle_cond, &ca);
    pthread_cond_init(&e->timer_cond, &ca);
    pthread_cond_init(&e->work_cond, &ca);
    pthread_condattr_destroy(&ca);
    *out = e;
    return ENGINE_OK;
out_free:
    free(e->pool);
    free(e->w);
    free(e);
out_nomem:
    ERR_SET(err, ENGINE_E_NOMEM, "out of memory");
    return ENGINE_E_NOMEM;
}

engine_code engine_start(struct engine *e, struct engine_err *err)
{
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->n_t; i++) {
        struct engine_job job = {.kind = POLICY_NONE};
        utf8_copy(job.container, sizeof(job.container), e->t[i].name);
        engine_enqueue(e, OP_RECONCILE, &job);
    }
    e->started = true;
    pthread_mutex_unlock(&e->lock);
    int rc = 0;
    const char *what = "worker";
    for (size_t i = 0; rc == 0 && i < e->n_workers; i++) {
        rc = pthread_create(&e->w[i].thread, NULL, engine_worker_main, &e->w[i]);
        e->n_started += rc == 0;
    }
    if (rc == 0) {
        what = "timer";
        rc = pthread_create(&e->timer, NULL, engine_timer_main, e);
        e->has_timer = rc == 0;
    }
    if (rc == 0 && e->o.refresh_interval_ms > 0) {
        what = "refresh";
        rc = pthread_create(&e->refresher, NULL, engine_refresh_main, e);
        e->has_refresher = rc == 0;
    }
    if (rc == 0)
        return ENGINE_OK;
    engine_stop(e, 0); /* joins the threads that did start */
    return ERR_SET(err, ENGINE_E_THREAD, "cannot start the %s thread: %s", what, strerror(rc));
}

/* At start: drop entries whose container vanished or was recreated (its baseline is void). */
void engine_do_reconcile(struct engine *e, const struct engine_job *job, int64_t t0)
{
    struct engine_target t;
    char qn[300];

    if (engine_inspect(e, job, &t, t0) != DOCKER_OK)
        return;
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container);
    if (en &&
        ((en->id[0] && strcmp(en->id, engine_target_id(&t)) != 0) || en->service != t.service)) {
        log_warn("container was recreated; dropping its state", "container=%s",
                 log_quote(qn, sizeof(qn), job->container));
        engine_unlock_drop(e, job->container);
    } else {
        pthread_mutex_unlock(&e->lock);
    }
    engine_target_free(&t);
    engine_tick(e);
}

void engine_stop(struct engine *e, int64_t grace_ms)
{
    struct timespec ts;

    pthread_mutex_lock(&e->lock);
    if (e->stopped || !e->started) {
        e->stopping = true;
        pthread_mutex_unlock(&e->lock);
        return;
    }
    e->stopping = true;
    if (e->cache_cancel)
        docker_events_cancel(e->cache_cancel);
    pthread_cond_broadcast(&e->timer_cond);
    pthread_cond_broadcast(&e->work_cond); /* a worker waiting out engine_hold() goes on */
    clock_deadline_in(&ts, grace_ms);
    while (!engine_idle_locked(e)) {
        if (pthread_cond_timedwait(&e->idle_cond, &e->lock, &ts) == ETIMEDOUT)
            break;
    }
    if (!engine_idle_locked(e))
        log_warn("shutdown grace expired; dropping queued actions", "grace_ms=%" PRId64, grace_ms);
    e->aborting = true;
    engine_cancel_queued(e);
    pthread_cond_broadcast(&e->work_cond);
    e->stopped = true;
    pthread_mutex_unlock(&e->lock);
    for (size_t i = 0; i < e->n_started; i++)
        pthread_join(e->w[i].thread, NULL);
    if (e->has_timer)
        pthread_join(e->timer, NULL);
    if (e->has_refresher)
        pthread_join(e->refresher, NULL);
    pthread_mutex_lock(&e->lock);
    engine_unlock_persist(e);
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    engine_stop(e, 0);
    pthread_cond_destroy(&e->work_cond);
    pthread_cond_destroy(&e->idle_cond);
    pthread_cond_destroy(&e->timer_cond);
    pthread_mutex_destroy(&e->lock);
    free(e->pool);
    free(e->w);
    free(e->t);
    free(e->cache);
    free(e->cache_hash);
    free(e->t_hash);
    free(e);
}

bool engine_ready(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    bool r = e->ready;
    pthread_mutex_unlock(&e->lock);
    return r;
}

struct docker_client *engine_docker_client(struct engine *e)
{
    return e->o.ops == &engine_docker_real ? e->o.docker_ud : NULL;
}

void engine_gauges(struct engine *e, struct metrics_gauges *g)
{
    memset(g, 0, sizeof(*g));
    _Static_assert(POLICY_N_RESOURCES <= METRICS_MAX_RESOURCES, "metrics_gauges too small");
    for (size_t r = 0; r < POLICY_N_RESOURCES; r++)
        g->scaled_out[r].resource = policy_resources[r].name;
    g->n_scaled_out = POLICY_N_RESOURCES;
    pthread_mutex_lock(&e->lock);
    g->ready = e->ready;
    for (size_t i = 0; i < e->n_cache; i++) {
        const struct engine_cached *c = &e->cache[i].c;
        g->managed += engine_cached_is_managed(e, c);
    }
    for (size_t i = 0; i < e->n_t; i++) {
        for (size_t r = 0; r < POLICY_N_RESOURCES; r++)
            g->scaled_out[r].n += e->t[i].r[r].out;
        g->crashloop += e->t[i].h.crashloop;
        g->oom_at_limit += e->t[i].oom_at_limit;
        g->maintenance += e->t[i].h.maintenance;
    }
    pthread_mutex_unlock(&e->lock);
}
