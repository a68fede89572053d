/* events.c: GET /events watcher, reconcile on (re)connect, operator-stop detection. */
#include "events.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "utf8.h"

#define N_MARKS 64
#define MARK_TTL_NS (120LL * 1000000000) /* a kill this old no longer explains a die */
#define STABLE_STREAM_MS 10000

struct mark {
    char id[65];
    bool kill, oom;
    int64_t at_ns;
    bool died;                   /* a death waiting for its cleanup event (heal_at_cleanup) */
    struct engine_heal_req heal; /* ... and the heal it asks for */
};

struct events {
    struct events_opts o;
    char label_filter[256];                       /* --heal-label-filter */
    const char *filters[POLICY_MAX_SELECTOR + 2]; /* the selector's terms (into o.lim), then it */
    const char *const *label_filters;             /* filters, or NULL when there are none */
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
    struct docker_cancel *cancel;
    struct mark marks[N_MARKS]; /* watcher thread only */
    size_t next_mark;
    bool heal_at_cleanup; /* watcher thread only: ops->heal_at_cleanup after the last reconcile */
};

static docker_code real_list(void *ud, const char *const *label_filters,
                             struct docker_summary_list *out, struct docker_err *err)
{
    return docker_container_list(ud, label_filters, true, out, err);
}

static docker_code real_stream(void *ud, const struct docker_events_filter *f, docker_event_fn fn,
                               void *fn_ud, struct docker_cancel *k, struct docker_err *err)
{
    return docker_events_stream(ud, f, fn, fn_ud, k, err);
}

static bool real_heal_at_cleanup(void *ud)
{
    struct docker_engine e;
    docker_client_engine(ud, &e);
    return e.podman;
}

const struct events_docker_ops events_docker_real = {real_list, real_stream, real_heal_at_cleanup};

static const char *label_of(const void *ud, const char *key)
{
    return docker_labels_get(ud, key);
}

/* Whether the event's labels (its Actor.Attributes) carry the selector's: Docker filtered the
 * stream already, checked again. */
static bool selected(const struct policy_limits *lim, const struct docker_labels *attributes)
{
    static const struct docker_labels none = {0};

    return policy_selected(lim, label_of, attributes ? attributes : &none);
}

enum events_verdict events_classify(const struct policy_limits *lim, const struct docker_event *ev,
                                    bool kill_seen, bool oom_seen, const char **trigger,
                                    bool *operator_stop)
{
    const char *a = ev->action ? ev->action : "";

    *trigger = "";
    *operator_stop = false;
    if (!ev->type || strcmp(ev->type, "container") != 0 || !ev->name || !ev->name[0])
        return EVENTS_IGNORE;
    if (strcmp(a, "destroy") == 0)
        return EVENTS_DESTROYED;
    if (strcmp(a, "cleanup") == 0)
        return EVENTS_CLEANUP;
    if (strcmp(a, "start") == 0)
        return EVENTS_STARTED;
    if (strcmp(a, "kill") == 0 || strcmp(a, "oom") == 0)
        return EVENTS_MARK;
    if (!policy_managed(lim,
                        ev->attributes ? docker_labels_get(ev->attributes, "trip.enable") : NULL) ||
        !selected(lim, ev->attributes))
        return EVENTS_IGNORE;
    if (strcmp(a, "die") == 0) {
        *trigger = oom_seen ? "oom" : "exit";
        *operator_stop = kill_seen && !oom_seen;
        return EVENTS_HEAL;
    }
    if (strcmp(a, "health_status: unhealthy") == 0) {
        *trigger = "unhealthy";
        return EVENTS_HEAL;
    }
    return EVENTS_IGNORE;
}

static struct mark *find_mark(struct events *ev, const char *id)
{
    for (size_t i = 0; i < N_MARKS; i++) {
        if (ev->marks[i].id[0] && strcmp(ev->marks[i].id, id) == 0)
            return &ev->marks[i];
    }
    return NULL;
}

static struct mark *mark_of(struct events *ev, const char *id)
{
    struct mark *m = find_mark(ev, id);

    if (!m) {
        m = &ev->marks[ev->next_mark];
        ev->next_mark = (ev->next_mark + 1) % N_MARKS;
        memset(m, 0, sizeof(*m));
        utf8_copy(m->id, sizeof(m->id), id);
    }
    return m;
}

static void add_mark(struct events *ev, const struct docker_event *e)
{
    struct mark *m = mark_of(ev, e->id);

    if (strcmp(e->action, "kill") == 0)
        m->kill = true;
    else
        m->oom = true;
    m->at_ns = e->time_nano;
}

static void heal(struct events *ev, const struct engine_heal_req *req)
{
    struct engine_err eerr = {0};
    char qn[300];

    log_debug("heal requested", "container=%s trigger=%s exit_code=%d operator_stop=%s",
              log_quote(qn, sizeof(qn), req->container), req->trigger, req->exit_code,
              req->operator_stop ? "true" : "false");
    if (engine_heal(ev->o.engine, req, &eerr) != ENGINE_OK && eerr.code != ENGINE_E_STOPPED)
        log_error("cannot queue a heal", "container=%s error=%s",
                  log_quote(qn, sizeof(qn), req->container), eerr.msg);
}

static int on_event(const struct docker_event *e, void *ud)
{
    struct events *ev = ud;
    struct mark *m = e->id ? find_mark(ev, e->id) : NULL;
    bool fresh = m && (e->time_nano == 0 || e->time_nano - m->at_ns < MARK_TTL_NS);
    const char *trigger;
    bool op_stop;
    struct engine_err eerr = {0};
    char qn[300];

    switch (events_classify(&ev->o.lim, e, fresh && m->kill, fresh && m->oom, &trigger, &op_stop)) {
    case EVENTS_MARK:
        add_mark(ev, e);
        if (strcmp(e->action, "oom") == 0 && e->name && e->name[0] &&
            policy_managed(&ev->o.lim, e->attributes
                                           ? docker_labels_get(e->attributes, "trip.enable")
                                           : NULL) &&
            selected(&ev->o.lim, e->attributes)) {
            log_info("oom event: raising the memory limit", "container=%s",
                     log_quote(qn, sizeof(qn), e->name));
            if (engine_oom(ev->o.engine, e->name, &eerr) != ENGINE_OK &&
                eerr.code != ENGINE_E_STOPPED)
                log_error("cannot queue the oom scale-out", "container=%s error=%s",
                          log_quote(qn, sizeof(qn), e->name), eerr.msg);
        }
        break;
    case EVENTS_STARTED:
        engine_container_started(ev->o.engine, e->name);
        break;
    case EVENTS_DESTROYED:
        if (m)
            memset(m, 0, sizeof(*m));
        engine_container_destroyed(ev->o.engine, e->name);
        break;
    case EVENTS_CLEANUP:
        if (m && m->died) {
            struct engine_heal_req req = m->heal;
            memset(m, 0, sizeof(*m));
            heal(ev, &req);
        }
        break;
    case EVENTS_HEAL: {
        struct engine_heal_req req = {
            .operator_stop = op_stop, .exit_code = e->exit_code, .event_ns = e->time_nano};
        bool die = strcmp(e->action, "die") == 0;
        if (m && die)
            memset(m, 0, sizeof(*m));
        utf8_copy(req.container, sizeof(req.container), e->name);
        utf8_copy(req.trigger, sizeof(req.trigger), trigger);
        if (die && ev->heal_at_cleanup && e->id && e->id[0]) {
            m = mark_of(ev, e->id);
            m->died = true;
            m->heal = req;
            m->at_ns = e->time_nano;
            log_debug("death kept for its cleanup event", "container=%s",
                      log_quote(qn, sizeof(qn), e->name));
            break;
        }
        heal(ev, &req);
        break;
    }
    case EVENTS_IGNORE:
        break;
    }
    return 0;
}

/* Lists containers and queues a heal for every managed one that exited. */
static docker_code reconcile(struct events *ev, size_t *n_managed, size_t *n_stopped,
                             struct docker_err *derr)
{
    struct docker_summary_list l = {0};
    docker_code rc = ev->o.ops->list(ev->o.docker, ev->label_filters, &l, derr);

    *n_managed = *n_stopped = 0;
    if (rc != DOCKER_OK)
        return rc;
    for (size_t i = 0; i < l.n; i++) {
        const struct docker_summary *s = &l.v[i];
        if (!policy_managed(&ev->o.lim, docker_labels_get(&s->labels, "trip.enable")) ||
            !selected(&ev->o.lim, &s->labels))
            continue;
        (*n_managed)++;
        if (strcmp(s->state, "exited") != 0)
            continue;
        struct engine_heal_req req = {.trigger = "reconcile", .exit_code = -1};
        utf8_copy(req.container, sizeof(req.container), s->name);
        engine_heal(ev->o.engine, &req, NULL);
        (*n_stopped)++;
    }
    docker_summary_list_free(&l);
    return DOCKER_OK;
}

/* Waits ms unless stopping. Returns true when stopping. */
static bool wait_or_stop(struct events *ev, int64_t ms)
{
    struct timespec ts;

    clock_deadline_in(&ts, ms);
    pthread_mutex_lock(&ev->lock);
    while (!ev->stopping) {
        if (pthread_cond_timedwait(&ev->cond, &ev->lock, &ts) == ETIMEDOUT)
            break;
    }
    bool s = ev->stopping;
    pthread_mutex_unlock(&ev->lock);
    return s;
}

static bool stopping(struct events *ev)
{
    pthread_mutex_lock(&ev->lock);
    bool s = ev->stopping;
    pthread_mutex_unlock(&ev->lock);
    return s;
}

/* One connection: reconcile, then stream. Returns how long the stream lasted (ms), -1 when the
 * reconcile already failed. */
static int64_t attempt(struct events *ev, bool *was_up)
{
    static const char *const types[] = {"container", NULL};
    static const char *const actions[] = {"die",           "stop",    "kill",  "oom",
                                          "health_status", "destroy", "start", NULL};
    /* Podman's names: its exit is filtered as "died" (docker-client adds it), its clean-up */
    static const char *const podman_actions[] = {
        "die", "stop", "kill", "oom", "health_status", "destroy", "start", "cleanup", NULL};
    struct docker_events_filter f = {types, actions, ev->label_filters, 0};
    struct docker_err derr = {0};
    size_t managed, stopped;

    f.since = (int64_t)time(NULL) - 1;
    docker_code rc = reconcile(ev, &managed, &stopped, &derr);
    if (rc != DOCKER_OK) {
        if (*was_up)
            log_warn("docker events unavailable; retrying", "error=%s",
                     derr.msg[0] ? derr.msg : docker_code_name(rc));
        *was_up = false;
        return -1;
    }
    ev->heal_at_cleanup = ev->o.ops->heal_at_cleanup && ev->o.ops->heal_at_cleanup(ev->o.docker);
    log_info("docker events connected; reconciled", "managed=%zu stopped=%zu", managed, stopped);
    metrics_events_connected(ev->o.metrics, 1);
    *was_up = true;
    if (ev->heal_at_cleanup)
        f.events = podman_actions;
    int64_t t0 = clock_mono_ms();
    memset(&derr, 0, sizeof(derr));
    rc = ev->o.ops->stream(ev->o.docker, &f, on_event, ev, ev->cancel, &derr);
    metrics_events_connected(ev->o.metrics, 0);
    if (rc != DOCKER_E_CANCELLED && !stopping(ev))
        log_warn("docker events stream lost; reconnecting", "error=%s",
                 derr.msg[0] ? derr.msg : docker_code_name(rc));
    return clock_mono_ms() - t0;
}

static void *watch_main(void *arg)
{
    struct events *ev = arg;
    int64_t delay = ev->o.retry_min_ms;
    bool was_up = true;

    while (!stopping(ev)) {
        int64_t lasted = attempt(ev, &was_up);
        if (lasted >= STABLE_STREAM_MS)
            delay = ev->o.retry_min_ms;
        if (wait_or_stop(ev, delay))
            break;
        delay = delay * 2 > ev->o.retry_max_ms ? ev->o.retry_max_ms : delay * 2;
    }
    return NULL;
}

events_code events_new(const struct events_opts *opts, struct events **out, struct events_err *err)
{
    struct events *ev = calloc(1, sizeof(*ev));
    pthread_condattr_t ca;

    *out = NULL;
    if (!ev || !(ev->cancel = docker_cancel_new())) {
        free(ev);
        ERR_SET(err, EVENTS_E_NOMEM, "out of memory");
        return EVENTS_E_NOMEM;
    }
    ev->o = *opts;
    if (!ev->o.ops)
        ev->o.ops = &events_docker_real;
    utf8_copy(ev->label_filter, sizeof(ev->label_filter),
              opts->label_filter ? opts->label_filter : "");
    ev->o.label_filter = ev->label_filter;
    size_t n = 0;
    if (policy_selector_filters(&ev->o.lim, ev->filters))
        while (ev->filters[n])
            n++;
    if (ev->label_filter[0])
        ev->filters[n++] = ev->label_filter;
    ev->filters[n] = NULL;
    ev->label_filters = n ? ev->filters : NULL;
    if (ev->o.retry_min_ms <= 0)
        ev->o.retry_min_ms = 250;
    if (ev->o.retry_max_ms <= 0)
        ev->o.retry_max_ms = 10000;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&ev->lock, NULL);
    pthread_cond_init(&ev->cond, &ca);
    pthread_condattr_destroy(&ca);
    *out = ev;
    return EVENTS_OK;
}

events_code events_start(struct events *ev, struct events_err *err)
{
    if (pthread_create(&ev->thread, NULL, watch_main, ev) != 0) {
        ERR_SET(err, EVENTS_E_THREAD, "cannot start the events thread");
        return EVENTS_E_THREAD;
    }
    ev->started = true;
    return EVENTS_OK;
}

void events_stop(struct events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->lock);
    ev->stopping = true;
    pthread_cond_broadcast(&ev->cond);
    pthread_mutex_unlock(&ev->lock);
    docker_events_cancel(ev->cancel);
    if (ev->started) {
        pthread_join(ev->thread, NULL);
        ev->started = false;
    }
}

void events_free(struct events *ev)
{
    if (!ev)
        return;
    events_stop(ev);
    docker_cancel_free(ev->cancel);
    pthread_cond_destroy(&ev->cond);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
}
