/* engine.h: the state table, the workers that act on Docker, the scale-in timer, the container
 * cache. */
#ifndef TRIP_ENGINE_H
#define TRIP_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "docker_client.h"
#include "metrics.h"
#include "policy.h"

/*
 * DESIGN
 * Targets: a job names a container or a Swarm service; the worker resolves which (container first,
 * then service, unless the table or cache already knows it as a service) and keeps the kind in
 * its entry. Services are changed with the Version.Index they were read at; a version conflict
 * (someone else updated the service meanwhile) is re-read and decided again, up to 3 times.
 * Threads: HTTP threads call engine_submit(), engine_lookup(), engine_state_json(), engine_ready()
 * and engine_gauges(): all copy in or out under `lock` and never wait on Docker. Jobs wait in one
 * shared FIFO; each worker marks the container whose job it runs as in flight, and an idle worker
 * takes the oldest queued job whose container has nothing in flight. So the jobs of one container
 * run one at a time in the order queued (no double scale-out however many identical alerts
 * arrive), and a slow Docker call holds one worker: the others keep serving every other
 * container. A fire-and-forget job identical in effect to one still queued for its container is
 * merged into it (engine_submit()), so alert floods do not fill the queue. The timer thread wakes
 * at the next deadline (at most every second) and queues scale-in checks and delayed heals; the
 * refresh thread lists containers every refresh interval into the cache (labels and state for the
 * webhook's quick answer) and records whether Docker answered (/readyz).
 * `lock` guards the table, the cache, the queue, the workers' in-flight marks, `stopping`, `gen`.
 * Docker calls and store writes happen without it. Only the worker holding a container's
 * in-flight mark changes that entry's scaling fields.
 * Every change bumps `gen`, snapshots the table as JSON under the lock and saves it outside.
 * Identity: a target's name, full ID and ID prefix (12+ hex digits) are one entry, keyed by its
 * ID once seen; jobs, heals, maintenance and lookups by any alias use the one canonical name the
 * table or the cache knows. Scope: only what carries the selector's labels (engine_opts.lim) is
 * cached, acted on or kept in the table.
 */

typedef enum engine_code {
    ENGINE_OK = 0,
    ENGINE_E_INVALID, /* bad argument (empty container name, ...) */
    ENGINE_E_FULL,    /* the engine queue is full: retry later (503) */
    ENGINE_E_STOPPED, /* engine_stop() was called */
    ENGINE_E_NOMEM,
    ENGINE_E_STORE,   /* the state file could not be read */
    ENGINE_E_UNKNOWN, /* neither in the state table nor a managed container in the cache */
    ENGINE_E_THREAD,  /* a thread could not be started */
} engine_code;

struct engine_err {
    engine_code code;
    char msg[256];
};

/* The Docker calls the engine makes; engine_docker_real calls docker-client with ud a
 * struct docker_client *. Unit tests pass a table that emulates timing or failures. */
struct engine_docker_ops {
    docker_code (*inspect)(void *ud, const char *name, struct docker_container *out,
                           struct docker_err *err);
    docker_code (*update)(void *ud, const char *id, const struct docker_update *u,
                          struct docker_err *err);
    docker_code (*start)(void *ud, const char *id, struct docker_err *err);
    docker_code (*restart)(void *ud, const char *id, struct docker_err *err);
    docker_code (*list)(void *ud, struct docker_summary_list *out, struct docker_err *err);
    /* One-shot stats (memory usage) read before a memory scale-in; NULL: no usage check (a fake
     * that does not model memory). */
    docker_code (*stats)(void *ud, const char *id, struct docker_stats *out,
                         struct docker_err *err);
    /* Swarm services; NULL: no Swarm (a fake that does not model services). service_inspect and
     * service_list answer DOCKER_E_NO_SWARM on a node that is not a swarm manager. */
    docker_code (*service_inspect)(void *ud, const char *name, struct docker_service *out,
                                   struct docker_err *err);
    docker_code (*service_update)(void *ud, const struct docker_service *cur,
                                  const struct docker_service_change *chg, struct docker_err *err);
    docker_code (*service_list)(void *ud, struct docker_service_list *out, struct docker_err *err);
    /* list with Docker label filters (NULL-terminated "key" / "key=value", all must match), so
     * Docker lists only the receiver's scope (--selector); NULL: list, and the engine filters. */
    docker_code (*list_labels)(void *ud, const char *const *label_filters,
                               struct docker_summary_list *out, struct docker_err *err);
    /* GET /info: whether this node is a swarm manager, so that the service calls are made only
     * where they can succeed. NULL: the service calls are tried (a fake that models services). */
    docker_code (*info)(void *ud, struct docker_info *out, struct docker_err *err);
    /* GET /events: the cache follows containers (and services, nodes) between full lists. NULL:
     * the cache is listed every refresh interval instead (a fake without an event stream). */
    docker_code (*events)(void *ud, const struct docker_events_filter *f, docker_event_fn fn,
                          void *fn_ud, struct docker_cancel *k, struct docker_err *err);
};
extern const struct engine_docker_ops engine_docker_real;

/* Wall-clock milliseconds since the epoch (deadlines are persisted, so they are wall time). */
typedef int64_t (*engine_clock_fn)(void *ud);

struct engine_opts;
struct prom_match;
struct prom_err;
/* Whether Prometheus still reports a matching alert firing (before a scale-in at the deadline):
 * engine_prom_real (prom_query_firing on engine_opts.prom_url) unless a test passes its own. ud is
 * the engine's options. Returns 0 (PROM_OK) with *firing set, else a prom_code with err filled. */
struct engine_prom_ops {
    int (*query_firing)(const struct engine_opts *o, const struct prom_match *m, bool *firing,
                        struct prom_err *err);
};
extern const struct engine_prom_ops engine_prom_real;

struct store;

struct engine_opts {
    struct policy_limits lim;
    int64_t max_hold_ms; /* 0: no bound */
    size_t workers;      /* 0: 4 */
    size_t queue_max;    /* jobs queued in all; 0: 1024 per worker */
    bool dry_run;
    /* The full container (and service) list's period: with an event stream (ops->events) the
     * cache follows Docker's events in between and this is only a safety net; without, the cache
     * is as fresh as this. 0: no refresh thread (engine_refresh() by hand). */
    int64_t refresh_interval_ms;
    const struct engine_docker_ops *ops; /* NULL: engine_docker_real */
    void *docker_ud;
    engine_clock_fn clock; /* NULL: CLOCK_REALTIME */
    void *clock_ud;
    struct store *store;     /* NULL: nothing persisted */
    struct metrics *metrics; /* NULL: not counted */
    /* Optional Prometheus check before a deadline scale-in (strings borrow; must outlive the
     * engine). While Prometheus reports the resource's alert firing for the container, scale-in
     * is held and asked again after min(max(scale duration, 1 s), 15 s). Prometheus unreachable:
     * logged, and Alertmanager's resolved notification decides alone. */
    const char *prom_url;               /* NULL/"": no check */
    const struct engine_prom_ops *prom; /* NULL: engine_prom_real */
    long prom_timeout_ms;               /* 0: 3000 */
    const char *const *container_labels;
    size_t n_container_labels;
    /* The alertname of each resource's alert (NULL: policy_resources[r].default_alert). */
    const char *alertname[POLICY_N_RESOURCES];
    /* Event-driven healing: restart spacing and crash-loop flag (zeros: 100 ms, 1 min, 10 s, 5,
     * and operator_stops is taken as given). */
    struct policy_backoff heal;
    struct actions *actions; /* NULL: no action history (actions.h) */
};

/* What a job came to: the outcome, why, and the target's state afterwards. Valid only during the
 * engine_done_fn call. */
struct engine_result {
    enum outcome outcome;
    const char *container;
    const char *reason;
    const char *state; /* the target's state view (engine_state_json()'s form), or NULL */
};

/* Called exactly once per submitted job that has one, from a worker thread (or from
 * engine_stop() for jobs never run: OUTCOME_BUSY). */
typedef void (*engine_done_fn)(void *ud, const struct engine_result *res);

struct engine_job {
    enum policy_kind kind;
    enum policy_resource resource;
    char container[256];
    char fingerprint[64]; /* alert jobs */
    char alertname[128];
    char duration[32]; /* "" : label, then config */
    bool force;
    bool from_alert;
    bool oom;            /* memory scale-out for Docker's `oom` event (engine_oom()) */
    char remote[64];     /* requester address, for the logs */
    engine_done_fn done; /* NULL: fire and forget (webhooks) */
    void *done_ud;
};

struct engine;

/* Creates an engine (no threads yet). Copies opts. Caller frees with engine_free(). */
engine_code engine_new(const struct engine_opts *opts, struct engine **out, struct engine_err *err);
/* Loads the state file (if a store is set) into the table. Call before engine_start(). A missing
 * file is not an error; a corrupt one is (ENGINE_E_STORE), the daemon must not start blind. */
engine_code engine_load(struct engine *e, struct engine_err *err);
/* Starts workers, timer and refresh threads, and queues a reconcile (inspect; vanished or
 * recreated containers dropped) for every loaded entry. ENGINE_E_THREAD (with the thread and
 * the reason) when a thread cannot be started: those that did are stopped again, and the engine
 * can only be freed. */
engine_code engine_start(struct engine *e, struct engine_err *err);
/* Queues a copy of job; it runs after the container's earlier jobs, on whichever worker is free.
 * A job without a done callback is merged into (dropped in favour of) a queued, not yet started
 * job of the same container with the same effect (kind, resource, fingerprint, alertname,
 * duration, force) when no job of that container that could be affected by the order (anything
 * but scale-out/resolve alerts for the other resource) was queued since: running it again would
 * only re-extend a deadline computed when the kept job runs. Jobs with a done callback are always
 * queued. ENGINE_E_FULL when queue_max jobs are queued, ENGINE_E_STOPPED after engine_stop().
 * Never blocks on Docker. Any thread. */
engine_code engine_submit(struct engine *e, const struct engine_job *job, struct engine_err *err);
/* engine_hold: workers start no new job until the matching engine_release (jobs already running
 * go on; holds nest). For a batch of submits: a webhook naming a thousand alerts is queued whole
 * before the workers' Docker calls compete with it for the lock and the CPU, so its answer is
 * not held up by its own first actions; the batch's caller releases as soon as it is queued.
 * engine_stop overrides a hold. Any thread. */
void engine_hold(struct engine *e);
void engine_release(struct engine *e);
/* Refuses new jobs, lets the workers finish what is queued for up to grace_ms, answers the rest
 * with 503, joins every thread and saves the table. Idempotent. */
void engine_stop(struct engine *e, int64_t grace_ms);
/* Stops if needed, frees everything. NULL-safe. */
void engine_free(struct engine *e);

/* What the cache knows of a container or Swarm service (copied out). */
struct engine_cached {
    bool exists;
    bool running;
    bool service;                     /* a Swarm service (labels are its Spec.Labels) */
    bool global;                      /* a global-mode service */
    char label[POLICY_N_LABELS][128]; /* the values of policy_label_keys[], "" when absent */
    bool has_label[POLICY_N_LABELS];
    char id[65]; /* the container's or service's ID ("" when not known) */
};
/* Copies the cached facts of `name` (a name, ID or unambiguous ID prefix) and returns true; false
 * when the cache has not seen it (or it is outside the selector).
 * Any thread, never calls Docker. */
bool engine_lookup(struct engine *e, const char *name, struct engine_cached *out);
/* Points c's fields into cached (which must outlive c). */
void engine_cached_policy(const struct engine_cached *cached, struct policy_container *c);

/* A managed container stopped (or turned unhealthy): what the events watcher knows of it. */
struct engine_heal_req {
    char container[256];
    char trigger[16];   /* "exit", "oom", "unhealthy", "reconcile" (metrics label) */
    bool operator_stop; /* a kill/stop event came first (docker stop / docker kill) */
    int exit_code;      /* -1 unknown */
    int64_t event_ns;   /* Docker's timeNano of the event, 0 for a reconcile */
};
/* Heals a container, serialized with its other jobs: the first heal of a streak is queued at once,
 * later ones after policy_heal_delay() (the timer thread queues them); at most one heal per
 * container is pending, further requests meanwhile are merged into it. A container in maintenance
 * is left alone. The worker inspects first: removed containers are dropped quietly, running ones
 * left (restarted when trigger is "unhealthy" and Docker still reports unhealthy), and
 * policy_heal_allowed() decides. ENGINE_E_STOPPED after engine_stop(), ENGINE_E_FULL when the
 * table is full. Any thread; never calls Docker. */
engine_code engine_heal(struct engine *e, const struct engine_heal_req *req,
                        struct engine_err *err);
/* Docker reported the container started: the stable-run clock starts (a crash-loop flag clears
 * after the backoff's stable_ms of running) and an operator-stop mark is forgotten. Any thread. */
void engine_container_started(struct engine *e, const char *name);

/* Docker reported an `oom` event for managed container `name`: queues a memory scale-out with the
 * rules of a memory alert (baseline, claim, scale duration, scale-in), or, when the container is
 * already at its largest allowed memory limit, flags it (API memory.oom_at_limit, metrics, log)
 * instead. The heal that follows its death is the event watcher's as before. Any thread. */
engine_code engine_oom(struct engine *e, const char *name, struct engine_err *err);
/* Docker reported the container removed: its state and any pending heal are dropped (never
 * restarted). Any thread. */
void engine_container_destroyed(struct engine *e, const char *name);
/* Puts a container in maintenance (no healing, no scaling, no scale-in) or releases it; persisted.
 * Releasing queues a heal check ("reconcile"). ENGINE_E_UNKNOWN when the container is neither in
 * the table nor a managed container in the cache. Any thread (writes the state file). */
engine_code engine_set_maintenance(struct engine *e, const char *name, bool enabled,
                                   struct engine_err *err);

/* Whether the last refresh reached Docker. */
bool engine_ready(struct engine *e);
/* The docker client the engine calls (engine_opts.docker_ud), or NULL when the engine runs on
 * other ops (tests). Any thread. */
struct docker_client *engine_docker_client(struct engine *e);
void engine_gauges(struct engine *e, struct metrics_gauges *g);

/* The action history given in engine_opts (NULL when none); the engine adds every action it ends
 * to it. Any thread. */
struct actions *engine_actions(const struct engine *e);

/* JSON text (caller frees) of one container's state, or of {"containers":[...]} when name is
 * NULL. NULL when name is neither in the table nor a managed container in the cache. */
char *engine_state_json(struct engine *e, const char *name);

/* Runs one refresh (list containers into the cache) on the calling thread. Returns the docker code.
 */
docker_code engine_refresh(struct engine *e);
/* Runs one timer scan now: queues scale-in checks that are due under the engine's clock. */
void engine_tick(struct engine *e);
/* Blocks until every queue is empty and no worker is busy (tests). */
void engine_wait_idle(struct engine *e);

#endif
