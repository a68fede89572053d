/* engine_internal.h: what the engine's files (engine*.c) share: the state table, the job queue,
 * the engine itself, and the helpers each file offers the others. Not for use outside engine*.c.
 *
 * DESIGN (threads and locks): one mutex, engine.lock, guards everything in struct engine but the
 * options (read-only after engine_new). Workers take jobs from the shared FIFO, at most one job
 * per container at a time; the timer thread queues scale-in checks and due heals; the refresher
 * thread lists Docker into the cache. Docker and Prometheus calls are made with the lock released;
 * helpers documented "lock held" expect the caller to hold it. Entries of the table are copied
 * out, never pointed into across an unlock (the table is reallocated as it grows).
 */
#ifndef TRIP_ENGINE_INTERNAL_H
#define TRIP_ENGINE_INTERNAL_H

#include "engine.h"

#include <jansson.h>
#include <pthread.h>

struct store_err;

#define MAX_FIRING 16
#define MAX_ENTRIES 4096
#define MAX_CACHE 4096
#define QUEUE_BUCKETS 4096
#define RETRY_MS 5000 /* a failed scale-in is tried again after this */

enum op { OP_SUBMIT, OP_CHECK, OP_RECONCILE, OP_HEAL };

struct firing {
    char fingerprint[64];
    char alertname[128];
};

struct res_state {
    bool out;
    int64_t base, base_swap;       /* inspected before scale-out */
    int64_t applied, applied_swap; /* what the scale-out set */
    int64_t base_res, applied_res; /* a service's reservation (NanoCPUs or bytes) before / set */
    int64_t deadline_ms, since_ms;
    struct firing firing[MAX_FIRING];
    size_t n_firing;
    bool check_queued;
    bool manual_pending; /* a manual scale-in was postponed or failed: the timer retries it as
                            manual, due or not (not persisted) */
    int64_t hold_until;  /* no scale-in check before this: Prometheus said firing, or the last
                            attempt failed (not persisted) */
};

/* Event-driven healing of one container. maintenance and operator_stopped are persisted. */
struct heal_state {
    bool maintenance;
    bool operator_stopped; /* left alone after an operator's stop; cleared by a start */
    int streak;            /* heals since the container last ran stably */
    int fails;             /* attempts that could not reach the daemon since the last heal */
    int64_t last_heal_ms;
    int64_t due_ms; /* a delayed heal waits for this (0: none) */
    bool queued;    /* an OP_HEAL is queued */
    bool crashloop;
    bool up; /* a start event came after the last exit */
    int64_t up_since_ms;
    uint64_t heals;
    /* the pending heal */
    char trigger[16];
    bool operator_stop;
    int exit_code;
    int64_t event_ns;
};

struct entry {
    char name[256];
    char id[65];
    bool service;     /* a Swarm service, not a container */
    uint64_t version; /* a service's Version.Index the last change was made against */
    struct res_state r[POLICY_N_RESOURCES]; /* indexed by enum policy_resource */
    struct heal_state h;
    char last_action[32];
    char last_result[32];
    char last_error[512]; /* the daemon's message, whole (it may quote a 64-digit ID) */
    int64_t last_action_ms;
    int64_t ooms;      /* Docker oom events seen (not persisted) */
    bool oom_at_limit; /* the last one found it at its largest allowed memory limit */
};

struct cache_entry {
    char name[256];
    struct engine_cached c; /* c.id: an ID or a prefix of it is an alias of name */
};

/* A queued job: a node of the shared FIFO (queued) or of the spare list (free). */
/* engine_oom.c: an `oom` scale-out job that finds nothing left to raise. True: flagged, done. */
bool engine_oom_at_limit(struct engine *e, const struct engine_job *job, int64_t current,
                         int64_t target, int64_t t0);
/* The update of an `oom` scale-out, tried again while the killed container is still dying. */
docker_code engine_oom_update(struct engine *e, const char *id, const struct docker_update *u,
                              struct docker_err *derr);

struct item {
    enum op op;
    struct engine_job job;
    uint64_t key;      /* hash of job.container: compared before the name */
    int64_t queued_ns; /* monotonic: when it was queued (its queue wait) */
    struct item *prev, *next;
};

struct worker {
    struct engine *e;
    pthread_t thread;
    bool busy;    /* running a job of `container` (its "in flight" mark) */
    uint64_t key; /* hash of container while busy */
    char container[256];
};

struct engine {
    struct engine_opts o;
    pthread_mutex_t lock;
    pthread_cond_t idle_cond;
    pthread_cond_t timer_cond;
    pthread_cond_t work_cond; /* a job was queued */
    struct worker *w;
    size_t n_workers;
    struct item *pool;        /* queue_max items, allocated once */
    struct item *head, *tail; /* the shared FIFO, oldest first */
    struct item *spare;       /* released items, linked by next */
    size_t n_pool_used;       /* pool[0 .. n_pool_used) were handed out at least once */
    size_t n_queued;
    /* queued items per bucket (hash % QUEUE_BUCKETS) of their container's name: zero means no job
     * of a container in that bucket waits, and coalescing need not walk the queue */
    uint32_t queued_in[QUEUE_BUCKETS];
    struct entry *t; /* grows by doubling up to MAX_ENTRIES; never pointed into across an unlock */
    size_t n_t, cap_t;
    struct cache_entry *cache;
    size_t n_cache, cap_cache;
    /* t_hash[i] is engine_name_hash(t[i].name), cache_hash[i] that of cache[i].name: a lookup
     * scans these dense arrays (8 bytes a name) instead of entries kilobytes apart */
    uint64_t *t_hash, *cache_hash;
    /* the cache's event stream (engine_cache.c): its cancel handle while it runs, and when the
     * timer ends it for the next full list (monotonic ms, 0: not due) */
    struct docker_cancel *cache_cancel;
    int64_t resync_due_ms;
    bool swarm_known;   /* GET /info answered since start */
    bool swarm_manager; /* ... and said this node is a swarm manager (Swarm.ControlAvailable) */
    bool ready;
    bool started, stopping, aborting, stopped;
    unsigned hold; /* engine_hold() nesting: no job is started while > 0 (unless stopping) */
    uint64_t gen;
    size_t n_started; /* workers whose thread runs */
    pthread_t timer, refresher;
    bool has_timer, has_refresher;
};

/* What a job acts on: a container, or a Swarm service when `service`. */
struct engine_target {
    bool service;
    struct docker_container ct;
    struct docker_service svc;
};

/* How Docker stores resource r (engine_resource.c), next to policy_resources[r]. */
struct engine_res_docker {
    /* containers (ct_level NULL: the resource does not apply to containers) */
    int64_t (*ct_level)(const struct docker_container *ct);
    int64_t (*ct_aux)(const struct docker_container *ct); /* kept beside it (swap), or NULL */
    int64_t (*ct_aux_for)(const struct docker_container *ct, int64_t level); /* aux to send */
    void (*ct_set)(struct docker_update *u, int64_t level, int64_t aux);
    bool guard_usage; /* a scale-in waits while usage is near the baseline (memory) */
    /* Swarm services */
    int64_t (*svc_level)(const struct docker_service *s);
    int64_t (*svc_reserve)(const struct docker_service *s); /* the reservation, or NULL */
    void (*svc_set)(struct docker_service_change *chg, int64_t level, int64_t reserve); /* NULL:
                                                                                        replicas */
};
extern const struct engine_res_docker engine_res_docker[POLICY_N_RESOURCES];

/* engine_resource.c */
/* The labels policy reads, out of Docker's labels (values borrowed from l). Returns how many. */
size_t engine_policy_labels(const struct docker_labels *l, struct policy_kv out[POLICY_N_LABELS]);
/* Whether labels l carry every term of the receiver's selector (--selector). */
bool engine_selected(const struct engine *e, const struct docker_labels *l);
/* policy_container_from_labels / policy_service_from_labels on an inspected target, with
 * `outside` set when it lacks the selector's labels. */
void engine_container_policy(const struct engine *e, struct policy_container *pc,
                             const struct docker_container *ct);
void engine_service_policy(const struct engine *e, struct policy_container *pc,
                           const struct docker_service *svc);
/* Whether a service (or a container) has resource r. */
bool engine_has_resource(bool service, enum policy_resource r);
int64_t engine_ct_level(enum policy_resource r, const struct docker_container *ct);
int64_t engine_svc_level(enum policy_resource r, const struct docker_service *svc);
/* The change that sets resource r of s to level, with reservation reserve. */
void engine_svc_change(struct docker_service_change *chg, const struct docker_service *s,
                       enum policy_resource r, int64_t level, int64_t reserve);

/* engine.c */
void engine_do_reconcile(struct engine *e, const struct engine_job *job, int64_t t0);

/* engine_table.c */
int64_t engine_now(struct engine *e);
/* The entry of name: its name, or once its ID is known that ID or a prefix of >= 12 of it. */
struct entry *engine_find_entry(struct engine *e, const char *name);
/* Whether ref is id or a prefix of it of at least 12 hexadecimal digits (id "" : never). */
bool engine_id_alias(const char *id, const char *ref);
/* The cache entry ref names (name, ID or unambiguous ID prefix), or NULL (lock held). */
const struct cache_entry *engine_cache_find(const struct engine *e, const char *ref);
/* The one name the engine keys a target by: the table's or the cache's name of what ref names
 * (name, full ID, ID prefix), else ref itself; copied into out (lock held). Jobs, heals,
 * maintenance and lookups are keyed by it, so three aliases get one queue slot and one entry. */
void engine_canonical(struct engine *e, const char *ref, char *out, size_t size);
struct entry *engine_get_entry(struct engine *e, const char *name);
void engine_drop_entry(struct engine *e, const char *name);
bool engine_add_firing(struct res_state *r, const struct engine_job *job);
bool engine_remove_firing(struct res_state *r, const char *fingerprint);
void engine_clear_res(struct res_state *r);
void engine_note(struct entry *en, int64_t now, const char *action, const char *result,
                 const char *error);
bool engine_in_maintenance(struct engine *e, const char *name);
const char *engine_kind_label(enum policy_kind k, enum policy_resource r);
double engine_since_s(int64_t t0);

/* engine_table.c: FNV-1a of a name (the tables' and the queue's lookup key). */
uint64_t engine_name_hash(const char *name);

/* engine_state.c: the engine's lock is held on entry and released by each of these. */
/* Snapshots the whole table, unlocks, saves it: false (serr filled) when it is not on disk. */
bool engine_unlock_persist_err(struct engine *e, struct store_err *serr);
void engine_unlock_persist(struct engine *e);
/* Snapshots entry en alone, unlocks, appends it to the store's journal (the write-ahead claim:
 * one sync of a small record instead of the whole table). An entry without an ID yet, or none
 * (NULL), is saved as engine_unlock_persist_err() does. */
bool engine_unlock_journal_err(struct engine *e, const struct entry *en, struct store_err *serr);
/* Removes the entry ref names (name, ID or prefix) and saves that as a journal record ("drop"), or
 * with the whole table as engine_unlock_persist_entry() says. False (nothing removed, unlocked all
 * the same) when there is no such entry. */
bool engine_unlock_drop(struct engine *e, const char *ref);
/* The save of one entry's change (an action's end, an extended deadline): appended to the journal
 * as engine_unlock_journal_err() does, so no save holds the lock for the whole table. The whole
 * table instead when the journal has grown past its size (which cuts it), for an entry without
 * an ID or none, and when the append fails (that save is retried until written). */
void engine_unlock_persist_entry(struct engine *e, const struct entry *en);

/* engine_view.c */
json_t *engine_entry_json(const struct entry *en);

/* engine_job.c */
/* The phases of the job the calling worker runs, into trip_action_phase_seconds{phase}: start
 * counts the queue wait (since queued_ns, monotonic) and starts the clock; each engine_phase()
 * counts the time since the previous boundary under `phase` (inspect, claim_save, docker,
 * final_save). Worker threads (thread-local clock). */
void engine_phase_start(struct engine *e, int64_t queued_ns);
void engine_phase(struct engine *e, const char *phase);
void engine_reply_state(struct engine *e, const struct engine_job *job, enum outcome outcome,
                        const char *reason);
/* engine_history.c: the action history hooks. begin: the worker's job started at t0 (monotonic);
 * job: a job ended (from engine_reply_state); heal: a heal ended (error may be NULL). Both run on
 * the worker that ran the job, after engine_history_begin(). */
void engine_history_begin(int64_t t0);
void engine_history_job(struct engine *e, const struct engine_job *job, enum outcome outcome,
                        const char *reason);
void engine_history_heal(struct engine *e, const char *container, const char *trigger,
                         const char *result, const char *error);
void engine_docker_failed(struct engine *e, const struct engine_job *job, const char *what,
                          docker_code rc, const struct docker_err *derr, int64_t t0);
void engine_target_free(struct engine_target *t);
const char *engine_target_id(const struct engine_target *t);
docker_code engine_inspect(struct engine *e, const struct engine_job *job, struct engine_target *t,
                           int64_t t0);
/* Defence in depth after every inspect (engine_inspect and the heal's): a target outside the
 * selector is dropped from the table and answered OUTCOME_NOT_FOUND with not_found (returns
 * DOCKER_E_NOT_FOUND, t freed); a claim made on another target of that name (ID changed: removed
 * and recreated) or on one that no longer opts in (trip.enable) is dropped and logged, never
 * acted on: a scale-in job then ends OUTCOME_CLAIM_DROPPED (returns DOCKER_E_CONFLICT, t freed);
 * other jobs go on with the target as it is. DOCKER_OK: go on (the entry learns the ID). */
docker_code engine_check_target(struct engine *e, const struct engine_job *job,
                                struct engine_target *t, const char *not_found);
bool engine_extend_if_out(struct engine *e, const struct engine_job *job,
                          const struct policy_decision *d, int64_t t0);
void engine_unchanged(struct engine *e, const struct engine_job *job, const char *kind,
                      const char *reason, int64_t t0);
void engine_unclaim(struct engine *e, const struct engine_job *job, const struct res_state *prev,
                    const char *kind, const char *error);
/* Records the write-ahead claim of a scale-out to level on en's job->resource (lock held): out,
 * applied, since now, the job's alert as firing, the entry's last action "applying". */
void engine_claim(struct engine *e, struct entry *en, const struct engine_job *job, int64_t level,
                  const char *kind, int64_t now);
/* With a write-ahead claim recorded in en (lock held, prev the resource's state before it):
 * unlocks and appends en to the journal. False, answered OUTCOME_UNSAVED and the claim
 * withdrawn, when it could not be saved (dry run: true all the same, nothing will change in
 * Docker). */
bool engine_unlock_save_claim(struct engine *e, const struct entry *en,
                              const struct engine_job *job, const char *kind,
                              const struct res_state *prev, int64_t t0);
void engine_claim_unsaved(struct engine *e, const struct engine_job *job, const char *kind,
                          const struct res_state *prev, const struct store_err *serr, int64_t t0);
void engine_scaled_out(struct engine *e, const struct engine_job *job, const char *kind,
                       const char *what, int64_t from, int64_t to, int64_t now, int64_t t0);
void engine_claim_dropped(struct engine *e, const struct engine_job *job, const char *kind,
                          int64_t set, int64_t found, const char *reason, int64_t t0);
void engine_scaled_in(struct engine *e, const struct engine_job *job, const char *kind,
                      int64_t from, int64_t to, const char *why, int64_t t0);
/* Whether job is an operator's scale-in (POST .../scale direction in): postponed or failed, it is
 * retried as manual (res_state.manual_pending) rather than waiting for the deadline. */
bool engine_job_is_manual_scale_in(const struct engine_job *job);
void engine_retry_later(struct engine *e, const struct engine_job *job);

/* engine_container.c */
void engine_do_scale_out(struct engine *e, const struct engine_job *job, int64_t t0);
void engine_container_scale_in(struct engine *e, const struct engine_job *job,
                               const struct res_state *r, const char *why, int64_t t0);
void engine_do_restart(struct engine *e, const struct engine_job *job, int64_t t0);

/* engine_service.c */
void engine_service_scale_out(struct engine *e, const struct engine_job *job,
                              struct docker_service *svc, int64_t t0);
void engine_service_scale_in(struct engine *e, const struct engine_job *job,
                             const struct res_state *r, struct docker_service *svc, const char *why,
                             int64_t t0);

/* engine_timer.c */
void engine_do_scale_in(struct engine *e, const struct engine_job *job, bool force, int64_t t0);
void engine_do_resolve(struct engine *e, const struct engine_job *job, int64_t t0);
void *engine_timer_main(void *arg);

/* engine_queue.c */
engine_code engine_enqueue(struct engine *e, enum op op, const struct engine_job *job);
void *engine_worker_main(void *arg);
bool engine_idle_locked(const struct engine *e);
void engine_cancel_queued(struct engine *e);

/* engine_cache.c */
void *engine_refresh_main(void *arg);
/* Lock held: ends the cache's event stream when its full re-list is due (the timer thread). */
void engine_cache_tick(struct engine *e);
/* Whether to ask for Swarm services: the ops have them and, when they can tell (ops->info), this
 * node is a swarm manager. ask: when not known to be one, ask GET /info again first (a name that
 * is no container may be a service of a swarm made since). Any thread, lock not held. */
bool engine_services_available(struct engine *e, bool ask);
/* A service call answered DOCKER_E_NO_SWARM: this node is no (longer a) manager. */
void engine_no_swarm(struct engine *e);
bool engine_cached_managed(struct engine *e, const char *name);
/* Whether the cached target is managed (policy_managed on its trip.enable). */
bool engine_cached_is_managed(const struct engine *e, const struct engine_cached *cached);

/* engine_heal.c */
void engine_do_heal(struct engine *e, const struct engine_job *job, int64_t t0);
void engine_tick_heals(struct engine *e, int64_t now);

#endif
