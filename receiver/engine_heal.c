/* engine_heal.c: event-driven healing of containers, and maintenance mode. */
#include "engine_internal.h"

#include <inttypes.h>
#include <string.h>

#include "err.h"
#include "clock.h"
#include "log.h"
#include "utf8.h"

/* One more heal (or failed attempt) in the container's streak (lock held). Returns true when this
 * one flags the container crash-looping. */
static bool bump_streak(struct engine *e, struct entry *en, int64_t now)
{
    en->h.streak++;
    en->h.last_heal_ms = now;
    if (en->h.crashloop || en->h.streak < e->o.heal.crashloop_after)
        return false;
    en->h.crashloop = true;
    return true;
}

static void warn_crashloop(struct engine *e, const char *name, int streak)
{
    char qn[300];

    log_warn("container is crash-looping; heals are spaced out",
             "container=%s heals_in_streak=%d next_delay_ms=%" PRId64 " stable_after_ms=%" PRId64,
             log_quote(qn, sizeof(qn), name), streak, policy_heal_delay(&e->o.heal, streak),
             e->o.heal.stable_ms);
}

/* Gone while a heal was pending: forget it quietly (no error, no retry). */
static void heal_gone(struct engine *e, const struct engine_job *job, const char *trigger)
{
    char qn[300];

    pthread_mutex_lock(&e->lock);
    engine_unlock_drop(e, job->container);
    metrics_heal(e->o.metrics, trigger, "gone", 0);
    log_info("container removed; not healed", "container=%s trigger=%s",
             log_quote(qn, sizeof(qn), job->container), trigger);
}

/* A Docker call of a heal failed: the next attempt follows the backoff. A daemon that cannot be
 * reached (restarting, socket gone) is a warning and does not count toward the crash-loop flag:
 * the attempts back off all the same, and the watcher's reconcile after reconnecting heals too. */
static void heal_failed(struct engine *e, const struct engine_job *job, const char *trigger,
                        const char *call, docker_code rc, const struct docker_err *derr)
{
    char qn[300], qe[300];
    int64_t now = engine_now(e), delay = 0;
    bool flagged = false;
    bool daemon = rc == DOCKER_E_UNREACHABLE || rc == DOCKER_E_TIMEOUT || rc == DOCKER_E_TRANSPORT;
    int streak = 0;

    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container);
    if (en) {
        if (daemon)
            en->h.fails++;
        else
            flagged = bump_streak(e, en, now);
        streak = en->h.streak;
        delay = policy_heal_delay(&e->o.heal, streak + en->h.fails);
        en->h.due_ms = now + delay;
        engine_note(en, now, "heal", "error", derr->msg);
    }
    engine_unlock_persist(e);
    pthread_cond_broadcast(&e->timer_cond);
    metrics_docker_error(e->o.metrics, docker_code_name(rc));
    metrics_heal(e->o.metrics, trigger, "error", 0);
    engine_history_heal(e, job->container, trigger, "error",
                        derr->msg[0] ? derr->msg : docker_code_name(rc));
    log_write(daemon ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR, "heal failed; retrying after the backoff",
              "container=%s trigger=%s call=%s error=%s retry_in_ms=%" PRId64,
              log_quote(qn, sizeof(qn), job->container), trigger, call,
              log_quote(qe, sizeof(qe), derr->msg[0] ? derr->msg : docker_code_name(rc)), delay);
    if (flagged)
        warn_crashloop(e, job->container, streak);
}

/* Remembers that an operator's stop was left alone, so a reconcile leaves it too. */
static void mark_operator_stopped(struct engine *e, const char *name)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, name);
    if (en && !en->h.operator_stopped) {
        en->h.operator_stopped = true;
        engine_unlock_persist(e);
        return;
    }
    pthread_mutex_unlock(&e->lock);
}

static void healed(struct engine *e, const struct engine_job *job, const struct heal_state *h,
                   const struct docker_container *ct, bool restart, int64_t t0)
{
    char qn[300];
    int64_t now = engine_now(e);
    bool flagged = false;
    int streak = 0;

    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container);
    if (en) {
        utf8_copy(en->id, sizeof(en->id), ct->id);
        flagged = bump_streak(e, en, now);
        streak = en->h.streak;
        en->h.heals++;
        en->h.fails = 0;
        en->h.operator_stopped = false;
        engine_note(en, now, "heal", e->o.dry_run ? "dry_run" : "ok", NULL);
    }
    engine_unlock_persist(e);
    engine_phase(e, "final_save");
    double latency =
        h->event_ns > 0 ? (double)(clock_wall_ns() - h->event_ns) / 1e9 : engine_since_s(t0);
    if (latency < 0)
        latency = 0;
    metrics_heal(e->o.metrics, h->trigger, e->o.dry_run ? "dry_run" : "ok", latency);
    engine_history_heal(e, job->container, h->trigger, e->o.dry_run ? "dry_run" : "ok", NULL);
    log_info(e->o.dry_run ? "would heal (dry run)" : "healed",
             "container=%s action=%s trigger=%s exit_code=%d operator_stop=%s from=%s "
             "latency_ms=%.0f duration_ms=%" PRId64 " streak=%d next_delay_ms=%" PRId64,
             log_quote(qn, sizeof(qn), job->container), restart ? "restart" : "start", h->trigger,
             h->exit_code, h->operator_stop ? "true" : "false", ct->status, latency * 1000.0,
             clock_mono_ms() - t0, streak, policy_heal_delay(&e->o.heal, streak));
    if (flagged)
        warn_crashloop(e, job->container, streak);
}

/* Decides on the inspected container and starts (or restarts) it. */
static void heal_inspected(struct engine *e, const struct engine_job *job,
                           const struct heal_state *h, const struct docker_container *ct,
                           bool cached, int64_t t0)
{
    struct policy_container pc;
    struct docker_err derr = {0};
    char reason[160], qn[300];
    bool op_stop = h->operator_stop || h->operator_stopped;

    if (strcmp(h->trigger, "reconcile") == 0 && !ct->oom_killed &&
        (ct->exit_code == 0 || ct->exit_code == 143))
        op_stop = true; /* stopped while nobody watched: exit code of a docker stop */
    engine_container_policy(e, &pc, ct);
    bool restart =
        ct->running && strcmp(h->trigger, "unhealthy") == 0 && strcmp(ct->health, "unhealthy") == 0;
    if (ct->running && !restart) {
        metrics_heal(e->o.metrics, h->trigger, "running", 0);
        log_debug("already running; no heal", "container=%s", job->container);
        return;
    }
    if (!policy_heal_allowed(&e->o.lim, &e->o.heal, &pc, op_stop && !ct->running, reason,
                             sizeof(reason))) {
        metrics_heal(e->o.metrics, h->trigger, "skipped", 0);
        log_info("not healed", "container=%s trigger=%s reason=%s",
                 log_quote(qn, sizeof(qn), job->container), h->trigger, reason);
        if (op_stop && policy_managed(&e->o.lim, pc.enable))
            mark_operator_stopped(e, job->container);
        return;
    }
    if (!ct->running && (ct->restarting || ct->paused || ct->dead ||
                         strcmp(ct->status, "removing") == 0 || strcmp(ct->status, "dead") == 0)) {
        metrics_heal(e->o.metrics, h->trigger, "skipped", 0);
        log_info("not healed", "container=%s trigger=%s reason=busy status=%s",
                 log_quote(qn, sizeof(qn), job->container), h->trigger, ct->status);
        return;
    }
    docker_code rc = DOCKER_OK;
    if (!e->o.dry_run)
        rc = restart ? e->o.ops->restart(e->o.docker_ud, ct->id, &derr)
                     : e->o.ops->start(e->o.docker_ud, ct->id, &derr);
    if ((rc == DOCKER_E_NOT_FOUND || rc == DOCKER_E_CONFLICT) && cached) {
        /* sent from the cache while `docker rm` runs (409) or just after (404): the destroy
         * event that follows drops the state and says so (engine_container_destroyed) */
        metrics_heal(e->o.metrics, h->trigger, "gone", 0);
        log_debug("being removed; not healed", "container=%s", job->container);
        return;
    }
    if (rc == DOCKER_E_NOT_FOUND || rc == DOCKER_E_CONFLICT) {
        heal_gone(e, job, h->trigger); /* 409: removal in progress */
        return;
    }
    if (rc == DOCKER_E_NOT_MODIFIED) { /* started meanwhile (Docker's own restart policy) */
        metrics_heal(e->o.metrics, h->trigger, "running", 0);
        log_debug("started meanwhile; no heal", "container=%s", job->container);
        return;
    }
    engine_phase(e, "docker");
    if (rc != DOCKER_OK) {
        heal_failed(e, job, h->trigger, restart ? "restart" : "start", rc, &derr);
        return;
    }
    healed(e, job, h, ct, restart, t0);
}

/* What a heal after a death needs to know, from the cache instead of an inspect: the container's
 * ID and its labels (fixed for the life of an ID). Docker 20.10 sends die before it has cleaned
 * the container up (unmounted it, released its network) under the container's lock; Docker 29
 * sends it after, just before it lets the lock go. An inspect there waits for the lock, then the
 * start waits for it again: the start sent at once runs as soon as the lock is free, ahead of
 * Docker's own restart policy, whose 100 ms timer started before that clean-up. A container
 * Docker is restarting itself counts as running, so the start answers 304 ("started meanwhile");
 * one being removed answers 409 or 404 ("gone"). False (inspect as usual) for other triggers, or
 * when the cache has not seen the container. */
struct cached_target {
    struct engine_cached c;
    char key[POLICY_N_LABELS + POLICY_MAX_SELECTOR][128];
    char value[POLICY_MAX_SELECTOR][128];
    struct docker_kv kv[POLICY_N_LABELS + POLICY_MAX_SELECTOR];
};

static bool from_cache(struct engine *e, const char *name, const struct heal_state *h,
                       struct cached_target *ctg, struct docker_container *ct)
{
    if ((strcmp(h->trigger, "exit") != 0 && strcmp(h->trigger, "oom") != 0) ||
        !engine_lookup(e, name, &ctg->c) || ctg->c.service || !ctg->c.id[0])
        return false;
    size_t n = 0;
    for (size_t i = 0; i < POLICY_N_LABELS; i++) {
        if (!ctg->c.has_label[i])
            continue;
        utf8_copy(ctg->key[n], sizeof(ctg->key[n]), policy_label_keys[i]);
        ctg->kv[n] = (struct docker_kv){ctg->key[n], ctg->c.label[i]};
        n++;
    }
    /* The cache holds only containers inside the selector (checked when listed and on each event),
     * so the target carries the selector's labels as they matched (a key-only term: any value). */
    const struct policy_selector *sel = &e->o.lim.selector;
    for (size_t i = 0; i < sel->n && i < POLICY_MAX_SELECTOR; i++, n++) {
        utf8_copy(ctg->key[n], sizeof(ctg->key[n]), sel->t[i].key);
        utf8_copy(ctg->value[i], sizeof(ctg->value[i]), sel->t[i].has_value ? sel->t[i].value : "");
        ctg->kv[n] = (struct docker_kv){ctg->key[n], ctg->value[i]};
    }
    memset(ct, 0, sizeof(*ct));
    utf8_copy(ct->id, sizeof(ct->id), ctg->c.id);
    utf8_copy(ct->name, sizeof(ct->name), name);
    utf8_copy(ct->status, sizeof(ct->status), "exited");
    ct->exit_code = h->exit_code;
    ct->oom_killed = strcmp(h->trigger, "oom") == 0;
    ct->labels = (struct docker_labels){ctg->kv, n};
    return true;
}

void engine_do_heal(struct engine *e, const struct engine_job *job, int64_t t0)
{
    struct cached_target ctg;
    struct heal_state h;
    struct docker_container ct;
    struct docker_err derr = {0};
    char qn[300];

    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, job->container);
    if (en) {
        en->h.queued = false;
        h = en->h;
    }
    pthread_mutex_unlock(&e->lock);
    if (!en)
        return; /* destroyed meanwhile */
    if (h.maintenance) {
        metrics_heal(e->o.metrics, h.trigger, "maintenance", 0);
        log_info("not healed", "container=%s trigger=%s reason=maintenance",
                 log_quote(qn, sizeof(qn), job->container), h.trigger);
        return;
    }
    if (from_cache(e, job->container, &h, &ctg, &ct)) {
        heal_inspected(e, job, &h, &ct, true, t0); /* ct borrows from ctg: nothing to free */
        return;
    }
    memset(&ct, 0, sizeof(ct));
    docker_code rc = e->o.ops->inspect(e->o.docker_ud, job->container, &ct, &derr);
    engine_phase(e, "inspect");
    if (rc == DOCKER_E_NOT_FOUND)
        heal_gone(e, job, h.trigger);
    else if (rc != DOCKER_OK)
        heal_failed(e, job, h.trigger, "inspect", rc, &derr);
    else {
        struct engine_target t = {.ct = ct}; /* scope and claims checked as every job's are */
        if (engine_check_target(e, job, &t, "no such container") == DOCKER_OK)
            heal_inspected(e, job, &h, &ct, false, t0);
        else
            memset(&ct, 0, sizeof(ct)); /* freed by the check */
    }
    docker_container_free(&ct);
}

/* Queues due heals and clears crash-loop flags of containers running stably (lock held). */
void engine_tick_heals(struct engine *e, int64_t now)
{
    char qn[300];

    for (size_t i = 0; i < e->n_t && !e->stopping; i++) {
        struct heal_state *h = &e->t[i].h;
        if (h->due_ms && now >= h->due_ms && !h->queued) {
            struct engine_job job = {.kind = POLICY_RESTART};
            utf8_copy(job.container, sizeof(job.container), e->t[i].name);
            if (engine_enqueue(e, OP_HEAL, &job) == ENGINE_OK) {
                h->due_ms = 0;
                h->queued = true;
            }
        }
        if (h->crashloop && h->up && !h->due_ms && !h->queued &&
            now - h->up_since_ms >= e->o.heal.stable_ms) {
            h->crashloop = false;
            h->streak = 0;
            log_info("container runs stably again; crash-loop flag cleared", "container=%s",
                     log_quote(qn, sizeof(qn), e->t[i].name));
        }
    }
}

engine_code engine_heal(struct engine *e, const struct engine_heal_req *req, struct engine_err *err)
{
    char qn[300];

    if (!req->container[0]) {
        ERR_SET(err, ENGINE_E_INVALID, "empty container name");
        return ENGINE_E_INVALID;
    }
    pthread_mutex_lock(&e->lock);
    if (e->stopping) {
        pthread_mutex_unlock(&e->lock);
        ERR_SET(err, ENGINE_E_STOPPED, "shutting down");
        return ENGINE_E_STOPPED;
    }
    char key[256]; /* a name, full ID or prefix: one entry (engine_canonical) */
    engine_canonical(e, req->container, key, sizeof(key));
    struct entry *en = engine_get_entry(e, key);
    if (!en) {
        pthread_mutex_unlock(&e->lock);
        ERR_SET(err, ENGINE_E_FULL, "state table is full");
        return ENGINE_E_FULL;
    }
    struct heal_state *h = &en->h;
    h->up = false;
    if (h->maintenance) {
        pthread_mutex_unlock(&e->lock);
        metrics_heal(e->o.metrics, req->trigger, "maintenance", 0);
        log_info("not healed", "container=%s trigger=%s reason=maintenance",
                 log_quote(qn, sizeof(qn), req->container), req->trigger);
        return ENGINE_OK;
    }
    if (h->due_ms || h->queued) { /* one pending heal per container */
        h->operator_stop = h->operator_stop && req->operator_stop;
        pthread_mutex_unlock(&e->lock);
        return ENGINE_OK;
    }
    int64_t now = engine_now(e);
    if (h->last_heal_ms && now - h->last_heal_ms >= e->o.heal.stable_ms) {
        h->streak = 0; /* ran stably since the last heal */
        h->crashloop = false;
    }
    h->fails = 0;
    utf8_copy(h->trigger, sizeof(h->trigger), req->trigger);
    h->operator_stop = req->operator_stop;
    h->exit_code = req->exit_code;
    h->event_ns = req->event_ns;
    int streak = h->streak;
    int64_t delay = policy_heal_delay(&e->o.heal, streak);
    struct engine_job job = {.kind = POLICY_RESTART};
    utf8_copy(job.container, sizeof(job.container), key);
    if (delay == 0 && engine_enqueue(e, OP_HEAL, &job) == ENGINE_OK) {
        h->queued = true;
    } else {
        h->due_ms = now + (delay ? delay : e->o.heal.first_ms);
        pthread_cond_broadcast(&e->timer_cond);
    }
    pthread_mutex_unlock(&e->lock);
    if (delay)
        log_info("heal delayed by the backoff",
                 "container=%s trigger=%s delay_ms=%" PRId64 " streak=%d",
                 log_quote(qn, sizeof(qn), req->container), req->trigger, delay, streak);
    return ENGINE_OK;
}

void engine_container_started(struct engine *e, const char *name)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = engine_find_entry(e, name);
    if (!en) {
        pthread_mutex_unlock(&e->lock);
        return;
    }
    en->h.up = true;
    en->h.up_since_ms = engine_now(e);
    if (en->h.operator_stopped) {
        en->h.operator_stopped = false;
        engine_unlock_persist(e);
        return;
    }
    pthread_mutex_unlock(&e->lock);
}

void engine_container_destroyed(struct engine *e, const char *name)
{
    pthread_mutex_lock(&e->lock);
    if (!engine_unlock_drop(e, name))
        return;
    char qn[300];
    log_info("container removed; state dropped", "container=%s", log_quote(qn, sizeof(qn), name));
}

engine_code engine_set_maintenance(struct engine *e, const char *name, bool enabled,
                                   struct engine_err *err)
{
    char qn[300];

    char key[256]; /* a name, full ID or prefix: one maintenance flag (engine_canonical) */
    pthread_mutex_lock(&e->lock);
    engine_canonical(e, name, key, sizeof(key));
    name = key;
    struct entry *en = engine_find_entry(e, name);
    if (!en && engine_cached_managed(e, name))
        en = engine_get_entry(e, name);
    const struct cache_entry *ce = en && !en->id[0] ? engine_cache_find(e, name) : NULL;
    if (ce) /* keyed by ID, so the flag is saved and follows the container, not the name */
        utf8_copy(en->id, sizeof(en->id), ce->c.id);
    if (!en) {
        pthread_mutex_unlock(&e->lock);
        ERR_SET(err, ENGINE_E_UNKNOWN, "no state for container %s (unknown or not managed)", name);
        return ENGINE_E_UNKNOWN;
    }
    bool was = en->h.maintenance;
    en->h.maintenance = enabled;
    if (enabled) {
        en->h.due_ms = 0; /* a delayed heal is cancelled */
        en->h.crashloop = false;
        en->h.streak = 0;
    }
    engine_unlock_persist(e);
    if (was != enabled)
        log_info(enabled ? "maintenance on: no healing, no scaling" : "maintenance released",
                 "container=%s", log_quote(qn, sizeof(qn), name));
    if (was && !enabled) {
        struct engine_heal_req req = {.trigger = "reconcile", .exit_code = -1};
        utf8_copy(req.container, sizeof(req.container), name);
        engine_heal(e, &req, NULL);
    }
    return ENGINE_OK;
}
