/* engine.c: state table, workers serialized per container, scale-in timer, container cache. */
#include "engine.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "prom.h"
#include "store.h"
#include "utf8.h"

#define MAX_FIRING 16
#define MAX_ENTRIES 4096
#define MAX_CACHE 4096
#define DEFAULT_CPU_SHARES 1024 /* the kernel's value when CpuShares is unset */
#define RETRY_MS 5000           /* a failed scale-in is tried again after this */
/* A memory scale-in waits while the container uses more than this share (percent) of the
 * baseline limit: at the limit the kernel would reclaim hard or OOM-kill the workload. */
#define MEM_GUARD_PCT 90

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
    int64_t hold_until; /* no scale-in check before this: Prometheus said firing, or the last
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
};

struct cache_entry {
    char name[256];
    struct engine_cached c;
};

/* A queued job: a node of the shared FIFO (queued) or of the spare list (free). */
struct item {
    enum op op;
    struct engine_job job;
    uint64_t key; /* hash of job.container: compared before the name */
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
    struct item *spare;       /* unused items, linked by next */
    size_t n_queued;
    struct entry *t; /* grows by doubling up to MAX_ENTRIES; never pointed into across an unlock */
    size_t n_t, cap_t;
    struct cache_entry *cache;
    size_t n_cache;
    bool ready;
    bool started, stopping, aborting, stopped;
    uint64_t gen;
    pthread_t timer, refresher;
    bool has_refresher;
};

static void set_err(struct engine_err *err, engine_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(struct engine_err *err, engine_code code, const char *fmt, ...)
{
    va_list ap;

    if (!err || err->code != ENGINE_OK)
        return;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

/* ---- real Docker ops ---- */

/* True when `name` designates the object named obj_name with ID obj_id: its name, its full ID,
 * or an ID prefix of at least 12 characters (what `docker ps` and `docker service ls` show). */
static bool designates(const char *name, const char *obj_name, const char *obj_id)
{
    size_t len = strlen(name);

    return strcmp(name, obj_name) == 0 || strcmp(name, obj_id) == 0 ||
           (len >= 12 && strncmp(name, obj_id, len) == 0);
}

/* Docker resolves a full ID, then a name, then any unique ID prefix: an alert for a container that
 * is gone ("cafe") must not land on another container whose ID happens to start with those
 * characters, so such a match counts as "no such container". */
static docker_code real_inspect(void *ud, const char *name, struct docker_container *out,
                                struct docker_err *err)
{
    docker_code rc = docker_container_inspect(ud, name, out, err);

    if (rc != DOCKER_OK || designates(name, out->name, out->id))
        return rc;
    if (err && err->code == DOCKER_OK) {
        err->code = DOCKER_E_NOT_FOUND;
        err->http_status = 404;
        snprintf(err->msg, sizeof(err->msg),
                 "inspect %.100s: no container of that name (Docker matched an ID prefix of %.12s)",
                 name, out->id);
    }
    docker_container_free(out);
    memset(out, 0, sizeof(*out));
    return DOCKER_E_NOT_FOUND;
}

static docker_code real_update(void *ud, const char *id, const struct docker_update *u,
                               struct docker_err *err)
{
    return docker_container_update(ud, id, u, err);
}

static docker_code real_start(void *ud, const char *id, struct docker_err *err)
{
    return docker_container_start(ud, id, err);
}

static docker_code real_restart(void *ud, const char *id, struct docker_err *err)
{
    return docker_container_restart(ud, id, -1, err);
}

static docker_code real_list(void *ud, struct docker_summary_list *out, struct docker_err *err)
{
    return docker_container_list(ud, NULL, true, out, err);
}

static docker_code real_stats(void *ud, const char *id, struct docker_stats *out,
                              struct docker_err *err)
{
    return docker_container_stats(ud, id, out, err);
}

static docker_code real_service_inspect(void *ud, const char *name, struct docker_service *out,
                                        struct docker_err *err)
{
    docker_code rc = docker_service_inspect(ud, name, out, err);

    if (rc != DOCKER_OK || designates(name, out->name, out->id))
        return rc;
    if (err && err->code == DOCKER_OK) {
        err->code = DOCKER_E_NOT_FOUND;
        err->http_status = 404;
        snprintf(err->msg, sizeof(err->msg),
                 "inspect service %.100s: no service of that name (Docker matched %.25s)", name,
                 out->id);
    }
    docker_service_free(out);
    memset(out, 0, sizeof(*out));
    return DOCKER_E_NOT_FOUND;
}

static docker_code real_service_update(void *ud, const struct docker_service *cur,
                                       const struct docker_service_change *chg,
                                       struct docker_err *err)
{
    return docker_service_update(ud, cur, chg, err);
}

static docker_code real_service_list(void *ud, struct docker_service_list *out,
                                     struct docker_err *err)
{
    return docker_service_list(ud, NULL, out, err);
}

const struct engine_docker_ops engine_docker_real = {
    real_inspect, real_update,          real_start,          real_restart,     real_list,
    real_stats,   real_service_inspect, real_service_update, real_service_list};

static int64_t real_clock(void *ud)
{
    struct timespec ts;

    (void)ud;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(struct engine *e)
{
    return e->o.clock(e->o.clock_ud);
}

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static const char *quote(char *buf, size_t size, const char *s)
{
    return log_quote(buf, size, s);
}

/* ---- table (lock held) ---- */

static struct entry *find_entry(struct engine *e, const char *name)
{
    for (size_t i = 0; i < e->n_t; i++) {
        if (strcmp(e->t[i].name, name) == 0)
            return &e->t[i];
    }
    return NULL;
}

static struct entry *get_entry(struct engine *e, const char *name)
{
    struct entry *en = find_entry(e, name);

    if (en || e->n_t >= MAX_ENTRIES)
        return en;
    if (e->n_t == e->cap_t) {
        size_t cap = e->cap_t ? e->cap_t * 2 : 16;
        struct entry *t = realloc(e->t, cap * sizeof(*t));
        if (!t)
            return NULL;
        e->t = t;
        e->cap_t = cap;
    }
    en = &e->t[e->n_t++];
    memset(en, 0, sizeof(*en));
    utf8_copy(en->name, sizeof(en->name), name);
    return en;
}

static void drop_entry(struct engine *e, const char *name)
{
    struct entry *en = find_entry(e, name);

    if (!en)
        return;
    *en = e->t[e->n_t - 1];
    e->n_t--;
}

/* Records the job's alert as firing. Returns true when it was not recorded yet. */
static bool add_firing(struct res_state *r, const struct engine_job *job)
{
    if (!job->from_alert || !job->fingerprint[0])
        return false;
    for (size_t i = 0; i < r->n_firing; i++) {
        if (strcmp(r->firing[i].fingerprint, job->fingerprint) == 0)
            return false;
    }
    if (r->n_firing == MAX_FIRING) {
        memmove(&r->firing[0], &r->firing[1], sizeof(r->firing[0]) * (MAX_FIRING - 1));
        r->n_firing--;
    }
    utf8_copy(r->firing[r->n_firing].fingerprint, sizeof(r->firing[0].fingerprint),
              job->fingerprint);
    utf8_copy(r->firing[r->n_firing].alertname, sizeof(r->firing[0].alertname), job->alertname);
    r->n_firing++;
    return true;
}

/* Returns true when the alert was recorded. */
static bool remove_firing(struct res_state *r, const char *fingerprint)
{
    for (size_t i = 0; i < r->n_firing; i++) {
        if (strcmp(r->firing[i].fingerprint, fingerprint) == 0) {
            r->firing[i] = r->firing[r->n_firing - 1];
            r->n_firing--;
            return true;
        }
    }
    return false;
}

static void clear_res(struct res_state *r)
{
    memset(r, 0, sizeof(*r));
}

static void note(struct entry *en, int64_t now, const char *action, const char *result,
                 const char *error)
{
    utf8_copy(en->last_action, sizeof(en->last_action), action);
    utf8_copy(en->last_result, sizeof(en->last_result), result);
    utf8_copy(en->last_error, sizeof(en->last_error), error);
    en->last_action_ms = now;
}

static bool in_maintenance(struct engine *e, const char *name)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, name);
    bool m = en && en->h.maintenance;
    pthread_mutex_unlock(&e->lock);
    return m;
}

/* ---- JSON ---- */

static json_t *time_json(int64_t ms)
{
    char buf[40];
    struct tm tm;
    time_t s = (time_t)(ms / 1000);

    if (ms <= 0)
        return json_null();
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(ms % 1000));
    return json_string(buf);
}

static json_t *res_json(const struct res_state *r, enum policy_resource which, bool service)
{
    json_t *firing = json_array();

    for (size_t i = 0; i < r->n_firing; i++)
        json_array_append_new(firing,
                              json_pack("{s:s, s:s}", "fingerprint", r->firing[i].fingerprint,
                                        "alertname", r->firing[i].alertname));
    json_t *o = json_pack(
        "{s:b, s:s, s:o, s:I, s:I, s:I, s:o, s:I, s:o}", "scaled_out", r->out, "level",
        r->out ? "scaled-out" : "baseline", "firing", firing, "deadline_ms",
        (json_int_t)r->deadline_ms, "since_ms", (json_int_t)r->since_ms, "baseline",
        (json_int_t)r->base, "deadline", time_json(r->out ? r->deadline_ms : 0), "current",
        (json_int_t)(r->out ? r->applied : r->base), "since", time_json(r->out ? r->since_ms : 0));
    json_object_set_new(o, "applied", json_integer(r->applied));
    if (which == POLICY_MEMORY && !service) {
        json_object_set_new(o, "baseline_swap", json_integer(r->base_swap));
        json_object_set_new(o, "applied_swap", json_integer(r->applied_swap));
    }
    if (which != POLICY_REPLICAS && service) {
        json_object_set_new(o, "baseline_reservation", json_integer(r->base_res));
        json_object_set_new(o, "applied_reservation", json_integer(r->applied_res));
    }
    return o;
}

static json_t *heal_json(const struct heal_state *h)
{
    return json_pack("{s:b, s:i, s:I, s:b, s:o, s:o, s:s}", "crash_looping", h->crashloop, "streak",
                     h->streak, "heals", (json_int_t)h->heals, "operator_stopped",
                     h->operator_stopped, "last_heal", time_json(h->last_heal_ms), "next_heal",
                     time_json(h->due_ms), "last_trigger", h->trigger);
}

static json_t *entry_json(const struct entry *en)
{
    json_t *last =
        json_pack("{s:s, s:s, s:s, s:o, s:I}", "action", en->last_action, "result", en->last_result,
                  "error", en->last_error, "at", time_json(en->last_action_ms), "at_ms",
                  (json_int_t)en->last_action_ms);
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:b, s:o}", "name", en->name, "id",
                          en->id, "kind", en->service ? "service" : "container", "cpu",
                          res_json(&en->r[POLICY_CPU], POLICY_CPU, en->service), "memory",
                          res_json(&en->r[POLICY_MEMORY], POLICY_MEMORY, en->service),
                          "last_action", last, "maintenance", en->h.maintenance, "crash_looping",
                          en->h.crashloop, "heal", heal_json(&en->h));
    if (o && en->service) {
        json_object_set_new(o, "replicas",
                            res_json(&en->r[POLICY_REPLICAS], POLICY_REPLICAS, true));
        json_object_set_new(o, "version", json_integer((json_int_t)en->version));
    }
    return o;
}

static const char *str_of(const json_t *j)
{
    const char *s = json_string_value(j);
    return s ? s : "";
}

static int64_t get_i64(const json_t *o, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(o, key));
}

static void res_from_json(struct res_state *r, const json_t *o)
{
    const json_t *f;
    size_t i;

    clear_res(r);
    r->out = json_is_true(json_object_get(o, "scaled_out"));
    r->base = get_i64(o, "baseline");
    r->base_swap = get_i64(o, "baseline_swap");
    r->applied = get_i64(o, "applied");
    r->applied_swap = get_i64(o, "applied_swap");
    r->base_res = get_i64(o, "baseline_reservation");
    r->applied_res = get_i64(o, "applied_reservation");
    r->deadline_ms = get_i64(o, "deadline_ms");
    r->since_ms = get_i64(o, "since_ms");
    json_array_foreach(json_object_get(o, "firing"), i, f)
    {
        if (r->n_firing == MAX_FIRING)
            break;
        utf8_copy(r->firing[r->n_firing].fingerprint, sizeof(r->firing[0].fingerprint),
                  str_of(json_object_get(f, "fingerprint")));
        utf8_copy(r->firing[r->n_firing].alertname, sizeof(r->firing[0].alertname),
                  str_of(json_object_get(f, "alertname")));
        r->n_firing++;
    }
}

/* Snapshot of the table (lock held). NULL when an entry cannot be serialized: then nothing is
 * saved, rather than a state file that silently lacks a container. */
static json_t *table_json(struct engine *e)
{
    json_t *arr = json_array();
    char qn[300];

    for (size_t i = 0; arr && i < e->n_t; i++) {
        if (json_array_append_new(arr, entry_json(&e->t[i])) != 0) {
            log_error("cannot serialize a container's state; state file not updated",
                      "container=%s", quote(qn, sizeof(qn), e->t[i].name));
            json_decref(arr);
            return NULL;
        }
    }
    return arr ? json_pack("{s:i, s:o}", "version", 1, "containers", arr) : NULL;
}

/* Bumps the generation and snapshots (lock held); save outside the lock with persist_save(). */
static json_t *persist_begin(struct engine *e, uint64_t *gen)
{
    *gen = ++e->gen;
    return e->o.store ? table_json(e) : NULL;
}

/* Saves doc (consumed). False when a store is configured and this snapshot is not on disk: it
 * could not be serialized, or the write failed (the store then retries it in the background).
 * serr, optional, gets the store's message. */
static bool persist_save(struct engine *e, json_t *doc, uint64_t gen, struct store_err *serr)
{
    struct store_err local = {0};
    bool ok;

    if (!e->o.store)
        return true;
    if (!serr)
        serr = &local;
    if (!doc) {
        snprintf(serr->msg, sizeof(serr->msg), "state could not be serialized");
        return false;
    }
    ok = store_save(e->o.store, doc, gen, serr) == STORE_OK;
    if (!ok)
        log_error("cannot save state", "error=%s", serr->msg[0] ? serr->msg : "unknown");
    json_decref(doc);
    return ok;
}

/* Unlocks after snapshotting, then saves; returns persist_save()'s verdict. */
static bool unlock_persist_err(struct engine *e, struct store_err *serr)
{
    uint64_t gen;
    json_t *doc = persist_begin(e, &gen);

    pthread_mutex_unlock(&e->lock);
    return persist_save(e, doc, gen, serr);
}

static void unlock_persist(struct engine *e)
{
    unlock_persist_err(e, NULL);
}

/* ---- replies ---- */

static void reply(const struct engine_job *job, int status, json_t *body)
{
    if (job->done) {
        char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        job->done(job->done_ud, status,
                  text ? text : "{\"result\":\"error\",\"reason\":\"reply not representable\"}");
        free(text);
    }
    json_decref(body);
}

/* Reply with the container's current entry attached (if any). */
static void reply_state(struct engine *e, const struct engine_job *job, int status,
                        const char *result, const char *reason)
{
    json_t *body = json_pack("{s:s, s:s, s:s}", "container", job->container, "result", result,
                             "reason", reason);

    if (job->done) {
        pthread_mutex_lock(&e->lock);
        struct entry *en = find_entry(e, job->container);
        if (en)
            json_object_set_new(body, "state", entry_json(en));
        pthread_mutex_unlock(&e->lock);
    }
    reply(job, status, body);
}

static const char *kind_label(enum policy_kind k, enum policy_resource r)
{
    static const char *const out[] = {"scale_out_cpu", "scale_out_memory", "scale_out_replicas"};
    static const char *const in[] = {"scale_in_cpu", "scale_in_memory", "scale_in_replicas"};

    if (k == POLICY_SCALE_OUT)
        return out[r];
    if (k == POLICY_SCALE_IN || k == POLICY_RESOLVE)
        return in[r];
    return "restart";
}

static double since_s(int64_t t0)
{
    return (double)(mono_ms() - t0) / 1000.0;
}

/* A failed Docker call: count, log, remember, reply 404 or 502. */
static void docker_failed(struct engine *e, const struct engine_job *job, const char *what,
                          docker_code rc, const struct docker_err *derr, int64_t t0)
{
    char qn[300], qe[600];
    const char *kind = kind_label(job->kind, job->resource);

    metrics_docker_error(e->o.metrics, docker_code_name(rc));
    metrics_action(e->o.metrics, kind, "error", since_s(t0));
    log_error("docker call failed", "container=%s action=%s call=%s error=%s remote=%s",
              quote(qn, sizeof(qn), job->container), kind, what, quote(qe, sizeof(qe), derr->msg),
              job->remote[0] ? job->remote : "-");
    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, job->container);
    if (en)
        note(en, now_ms(e), kind, "error", derr->msg);
    pthread_mutex_unlock(&e->lock);
    reply_state(e, job, rc == DOCKER_E_NOT_FOUND ? 404 : 502, "error",
                derr->msg[0] ? derr->msg : docker_code_name(rc));
}

/* What a job acts on: a container, or a Swarm service when `service`. */
struct target {
    bool service;
    struct docker_container ct;
    struct docker_service svc;
};

static void target_free(struct target *t)
{
    docker_container_free(&t->ct);
    docker_service_free(&t->svc);
}

static const char *target_id(const struct target *t)
{
    return t->service ? t->svc.id : t->ct.id;
}

/* Whether the table or the cache knows `name` as a Swarm service. */
static bool known_service(struct engine *e, const char *name)
{
    bool svc = false;

    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, name);
    if (en) {
        svc = en->service;
    } else {
        for (size_t i = 0; i < e->n_cache; i++) {
            if (strcmp(e->cache[i].name, name) == 0) {
                svc = e->cache[i].c.service;
                break;
            }
        }
    }
    pthread_mutex_unlock(&e->lock);
    return svc;
}

/* Inspects the job's target: the container of that name, else the Swarm service (a service first
 * when the engine already knows the name as one, or for a replicas scale-out). Neither: the
 * entry is dropped and 404 answered. Other failures: counted, logged, answered 502. */
static docker_code inspect(struct engine *e, const struct engine_job *job, struct target *t,
                           int64_t t0)
{
    struct docker_err derr = {0};
    const struct engine_docker_ops *ops = e->o.ops;
    bool swarm = ops->service_inspect != NULL;
    bool svc_first =
        swarm && ((job->kind == POLICY_SCALE_OUT && job->resource == POLICY_REPLICAS) ||
                  known_service(e, job->container));
    docker_code rc = DOCKER_E_NOT_FOUND;

    memset(t, 0, sizeof(*t));
    for (int pass = 0; pass < 2 && rc == DOCKER_E_NOT_FOUND; pass++) {
        bool svc = (pass == 0) == svc_first;
        if (svc && !swarm)
            continue;
        struct docker_err perr = {0};
        rc = svc ? ops->service_inspect(e->o.docker_ud, job->container, &t->svc, &perr)
                 : ops->inspect(e->o.docker_ud, job->container, &t->ct, &perr);
        if (svc && rc == DOCKER_E_NO_SWARM)
            rc = DOCKER_E_NOT_FOUND; /* not a swarm manager: there are no services */
        if (rc == DOCKER_OK)
            t->service = svc;
        if (rc != DOCKER_E_NOT_FOUND || !derr.msg[0])
            derr = perr; /* of two "not found", the first message */
    }
    if (rc == DOCKER_E_NOT_FOUND) {
        metrics_docker_error(e->o.metrics, docker_code_name(rc));
        pthread_mutex_lock(&e->lock);
        bool had = find_entry(e, job->container) != NULL;
        char qn[300], qe[600];
        drop_entry(e, job->container);
        if (had) {
            log_warn("container vanished; dropping its state", "container=%s action=%s",
                     quote(qn, sizeof(qn), job->container), kind_label(job->kind, job->resource));
            unlock_persist(e);
        } else {
            pthread_mutex_unlock(&e->lock);
            log_info("no such container; nothing done", "container=%s action=%s error=%s remote=%s",
                     quote(qn, sizeof(qn), job->container), kind_label(job->kind, job->resource),
                     quote(qe, sizeof(qe), derr.msg), job->remote[0] ? job->remote : "-");
        }
        if (job->done)
            reply_state(e, job, 404, "ignored",
                        swarm ? "no such container or service" : "no such container");
        return rc;
    }
    if (rc != DOCKER_OK)
        docker_failed(e, job, "inspect", rc, &derr, t0);
    return rc;
}

/* ---- actions ---- */

static int64_t current_of(const struct docker_container *ct, enum policy_resource r)
{
    return r == POLICY_CPU ? ct->res.cpu_shares : ct->res.memory;
}

static void log_change(const char *msg, const struct engine_job *job, const char *kind,
                       int64_t from, int64_t to, int64_t t0, bool dry, const char *why)
{
    char qn[300];

    log_info(msg,
             "container=%s action=%s from=%" PRId64 " to=%" PRId64 " duration_ms=%" PRId64
             " dry_run=%s reason=%s remote=%s",
             quote(qn, sizeof(qn), job->container), kind, from, to, mono_ms() - t0,
             dry ? "true" : "false", why, job->remote[0] ? job->remote : "-");
}

/* Repeated scale-out while out: extend the deadline, never re-apply. */
static bool extend_if_out(struct engine *e, const struct engine_job *job,
                          const struct policy_decision *d, int64_t t0)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, job->container);
    struct res_state *r = en ? &en->r[job->resource] : NULL;
    if (!r || !r->out) {
        pthread_mutex_unlock(&e->lock);
        return false;
    }
    int64_t old = r->deadline_ms;
    if (d->deadline_ms > r->deadline_ms)
        r->deadline_ms = d->deadline_ms;
    /* A burst of repeats moves the deadline by milliseconds: save (fsync) only when an alert is
     * new or the deadline moved by a second or more. */
    if (add_firing(r, job) || r->deadline_ms - old >= 1000)
        unlock_persist(e);
    else
        pthread_mutex_unlock(&e->lock);
    metrics_action(e->o.metrics, kind_label(job->kind, job->resource), "skipped", since_s(t0));
    log_debug("already scaled out; deadline extended", "container=%s", job->container);
    reply_state(e, job, 200, "extended", "already scaled out; deadline extended");
    return true;
}

/* Nothing to change (no limit to raise, already at the level or the maximum): counted, 200. */
static void unchanged(struct engine *e, const struct engine_job *job, const char *kind,
                      const char *reason, int64_t t0)
{
    metrics_action(e->o.metrics, kind, "skipped", since_s(t0));
    reply_state(e, job, 200, "unchanged", reason);
}

/* Puts back a resource's state as it was before a claim whose change did not happen (prev), and
 * notes why when `error` is set. */
static void unclaim(struct engine *e, const struct engine_job *job, const struct res_state *prev,
                    const char *kind, const char *error)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, job->container);
    if (en) {
        en->r[job->resource] = *prev;
        if (error)
            note(en, now_ms(e), kind, "error", error);
    }
    unlock_persist(e);
}

/* The write-ahead claim could not be saved: no claim on disk, no change in Docker (a crash now
 * must not leave the target scaled out with nothing to scale it back in). Answers 503. */
static void claim_unsaved(struct engine *e, const struct engine_job *job, const char *kind,
                          const struct res_state *prev, const struct store_err *serr, int64_t t0)
{
    char msg[300], qn[300], qe[300];

    snprintf(msg, sizeof(msg), "cannot persist the claim: %s", serr->msg);
    unclaim(e, job, prev, kind, msg);
    metrics_action(e->o.metrics, kind, "error", since_s(t0));
    log_error("scale-out refused: its claim could not be saved", "container=%s error=%s",
              quote(qn, sizeof(qn), job->container), quote(qe, sizeof(qe), serr->msg));
    reply_state(e, job, 503, "error", msg);
}

/* A scale-out was applied (or, dry run, would have been): note, count, log, answer. */
static void scaled_out(struct engine *e, const struct engine_job *job, const char *kind,
                       const char *what, int64_t from, int64_t to, int64_t now, int64_t t0)
{
    if (!e->o.dry_run) {
        pthread_mutex_lock(&e->lock);
        struct entry *en = find_entry(e, job->container);
        if (en)
            note(en, now, kind, "ok", NULL);
        unlock_persist(e);
    }
    pthread_cond_broadcast(&e->timer_cond);
    metrics_action(e->o.metrics, kind, e->o.dry_run ? "dry_run" : "ok", since_s(t0));
    log_change(e->o.dry_run ? "would scale out (dry run)" : what, job, kind, from, to, t0,
               e->o.dry_run, job->from_alert ? job->alertname : "manual");
    reply_state(e, job, 200, e->o.dry_run ? "dry_run" : "ok",
                e->o.dry_run ? "dry run: nothing changed" : "scaled out");
}

static void scale_out(struct engine *e, const struct engine_job *job,
                      const struct docker_container *ct, const struct policy_decision *d,
                      int64_t t0)
{
    const char *kind = kind_label(POLICY_SCALE_OUT, job->resource);
    struct docker_update u = {0};
    struct docker_err derr = {0};
    int64_t cur = current_of(ct, job->resource);
    int64_t eff = job->resource == POLICY_CPU && cur == 0 ? DEFAULT_CPU_SHARES : cur;

    if (job->resource == POLICY_MEMORY && cur == 0) {
        unchanged(e, job, kind, "container has no memory limit; nothing to raise", t0);
        return;
    }
    if (eff >= d->target) {
        unchanged(e, job, kind, "already at or above the scaled-out level", t0);
        return;
    }
    if (job->resource == POLICY_CPU) {
        u.has_cpu_shares = true;
        u.cpu_shares = d->target;
    } else {
        u.has_memory = u.has_memory_swap = true;
        u.memory = d->target;
        u.memory_swap = docker_memory_swap_for(ct->res.memory, ct->res.memory_swap, d->target);
    }
    /* Write-ahead: the claim is on disk before Docker changes anything, so a crash right after
     * the update never leaves a scaled-out container without a deadline. (A crash before the
     * update leaves a claim whose level was never applied; scale-in then sees the mismatch and
     * drops it.) */
    int64_t now = now_ms(e);
    struct res_state prev = {0};
    pthread_mutex_lock(&e->lock);
    struct entry *en = get_entry(e, job->container);
    if (en) {
        struct res_state *r = &en->r[job->resource];
        prev = *r;
        utf8_copy(en->id, sizeof(en->id), ct->id);
        r->out = true;
        r->base = cur;
        r->base_swap = job->resource == POLICY_MEMORY ? ct->res.memory_swap : 0;
        r->applied = d->target;
        r->applied_swap = job->resource == POLICY_MEMORY ? u.memory_swap : 0;
        r->deadline_ms = d->deadline_ms;
        r->since_ms = now;
        r->check_queued = false;
        add_firing(r, job);
        note(en, now, kind, e->o.dry_run ? "dry_run" : "applying", NULL);
    }
    struct store_err serr = {0};
    if (!unlock_persist_err(e, &serr) && !e->o.dry_run) {
        claim_unsaved(e, job, kind, &prev, &serr, t0);
        return;
    }
    if (!e->o.dry_run) {
        docker_code rc = e->o.ops->update(e->o.docker_ud, ct->id, &u, &derr);
        if (rc != DOCKER_OK) {
            unclaim(e, job, &prev, kind, NULL);
            docker_failed(e, job, "update", rc, &derr, t0);
            return;
        }
    }
    scaled_out(e, job, kind, "scaled out", cur, d->target, now, t0);
}

static void service_scale_out(struct engine *e, const struct engine_job *job,
                              struct docker_service *svc, int64_t t0);

static void do_scale_out(struct engine *e, const struct engine_job *job, int64_t t0)
{
    struct target t;
    struct policy_container pc;
    struct policy_decision d;
    struct policy_request req = {job->kind, job->resource, job->duration, job->force,
                                 job->from_alert};

    if (inspect(e, job, &t, t0) != DOCKER_OK)
        return;
    if (t.service) {
        service_scale_out(e, job, &t.svc, t0);
        target_free(&t);
        return;
    }
    const struct docker_container *ct = &t.ct;
    if (strcmp(ct->status, "removing") == 0) { /* `docker rm -f` under way: nothing to scale */
        char qn[300];
        log_info("not scaled: container is being removed", "container=%s action=%s",
                 quote(qn, sizeof(qn), job->container), kind_label(job->kind, job->resource));
        metrics_action(e->o.metrics, kind_label(job->kind, job->resource), "skipped", since_s(t0));
        reply_state(e, job, 404, "ignored", "container is being removed");
        target_free(&t);
        return;
    }
    policy_container_from_labels(&pc, &ct->labels, ct->running);
    policy_decide(&e->o.lim, &req, &pc, now_ms(e), &d);
    if (d.verdict != POLICY_ACCEPT) {
        char qn[300], qr[200];
        log_info("ignored", "container=%s action=%s reason=%s remote=%s",
                 quote(qn, sizeof(qn), job->container), kind_label(job->kind, job->resource),
                 quote(qr, sizeof(qr), d.reason), job->remote[0] ? job->remote : "-");
        metrics_action(e->o.metrics, kind_label(job->kind, job->resource), "skipped", since_s(t0));
        reply_state(e, job, d.http_status, "ignored", d.reason);
    } else if (in_maintenance(e, job->container)) {
        metrics_action(e->o.metrics, kind_label(job->kind, job->resource), "skipped", since_s(t0));
        reply_state(e, job, 409, "ignored", "container is in maintenance");
    } else if (!extend_if_out(e, job, &d, t0)) {
        scale_out(e, job, ct, &d, t0);
    }
    target_free(&t);
}

/* Resources differ from what the scale-out set: someone changed them by hand. */
static bool changed_by_hand(const struct res_state *r, const struct docker_container *ct,
                            enum policy_resource which)
{
    if (which == POLICY_CPU)
        return ct->res.cpu_shares != r->applied;
    return ct->res.memory != r->applied ||
           (r->applied_swap != 0 && ct->res.memory_swap != r->applied_swap);
}

static void finish_scale_in(struct engine *e, const struct engine_job *job, const char *kind,
                            const char *result)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, job->container);
    if (en) {
        struct res_state *r = &en->r[job->resource];
        int64_t base = r->base, base_swap = r->base_swap;
        clear_res(r);
        if (strcmp(result, "claim_dropped") != 0) { /* what it was restored to stays visible */
            r->base = base;
            r->base_swap = base_swap;
        }
        note(en, now_ms(e), kind, result, NULL);
    }
    unlock_persist(e);
}

/* At scale-in the target is not at the level the scale-out set (someone changed it by hand):
 * leave it as it is and forget the claim. */
static void claim_dropped(struct engine *e, const struct engine_job *job, const char *kind,
                          int64_t set, int64_t found, const char *reason, int64_t t0)
{
    char qn[300];

    log_warn("resources changed by hand while scaled out; dropping claim",
             "container=%s action=%s set=%" PRId64 " found=%" PRId64,
             quote(qn, sizeof(qn), job->container), kind, set, found);
    finish_scale_in(e, job, kind, "claim_dropped");
    metrics_action(e->o.metrics, kind, "skipped", since_s(t0));
    reply_state(e, job, 200, "claim_dropped", reason);
}

/* A scale-in was applied (or, dry run, would have been): record, count, log, answer. */
static void scaled_in(struct engine *e, const struct engine_job *job, const char *kind,
                      int64_t from, int64_t to, const char *why, int64_t t0)
{
    finish_scale_in(e, job, kind, e->o.dry_run ? "dry_run" : "ok");
    metrics_action(e->o.metrics, kind, e->o.dry_run ? "dry_run" : "ok", since_s(t0));
    log_change(e->o.dry_run ? "would scale in (dry run)" : "scaled in", job, kind, from, to, t0,
               e->o.dry_run, why);
    reply_state(e, job, 200, e->o.dry_run ? "dry_run" : "ok",
                e->o.dry_run ? "dry run: nothing changed" : "scaled in");
}

/* A scale-in attempt failed: let the timer try again in RETRY_MS, not on its next tick. */
static void retry_later(struct engine *e, const struct engine_job *job)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, job->container);
    if (en) {
        en->r[job->resource].check_queued = false;
        en->r[job->resource].hold_until = now_ms(e) + RETRY_MS;
    }
    pthread_mutex_unlock(&e->lock);
}

/* Before a memory scale-in to baseline B: true (postponed, retried in RETRY_MS, noted as the
 * container's last action) when the container uses more than MEM_GUARD_PCT % of B, or when its
 * usage cannot be read. Shrinking below the usage would make the kernel OOM-kill the workload the
 * receiver protects, so this wins even over --max-hold. B of 0 (no limit) needs no check. */
static bool memory_guard_holds(struct engine *e, const struct engine_job *job,
                               const struct res_state *r, const char *id)
{
    const char *kind = kind_label(POLICY_SCALE_IN, job->resource);
    struct docker_stats st = {0};
    struct docker_err derr = {0};
    char qn[300], qe[300], why[256];

    if (job->resource != POLICY_MEMORY || r->base <= 0 || !e->o.ops->stats)
        return false;
    docker_code rc = e->o.ops->stats(e->o.docker_ud, id, &st, &derr);
    if (rc == DOCKER_OK && st.memory_usage <= (uint64_t)r->base / 100 * MEM_GUARD_PCT)
        return false;
    if (rc != DOCKER_OK) {
        metrics_docker_error(e->o.metrics, docker_code_name(rc));
        log_error("memory scale-in postponed: usage unknown",
                  "container=%s baseline=%" PRId64 " error=%s",
                  quote(qn, sizeof(qn), job->container), r->base, quote(qe, sizeof(qe), derr.msg));
        snprintf(why, sizeof(why), "usage unknown: %.200s", derr.msg);
    } else {
        log_warn("memory scale-in postponed: usage above the baseline limit",
                 "container=%s usage=%" PRIu64 " baseline=%" PRId64 " retry_ms=%d",
                 quote(qn, sizeof(qn), job->container), st.memory_usage, r->base, RETRY_MS);
        snprintf(why, sizeof(why), "usage %" PRIu64 " above %d%% of the baseline %" PRId64,
                 st.memory_usage, MEM_GUARD_PCT, r->base);
    }
    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, job->container);
    if (en) {
        en->r[job->resource].check_queued = false;
        en->r[job->resource].hold_until = now_ms(e) + RETRY_MS;
        note(en, now_ms(e), kind, "postponed", why);
    }
    unlock_persist(e);
    return true;
}

/* ---- Swarm services ---- */

#define SERVICE_TRIES 3 /* reads of a service whose update met a version conflict */

static int64_t svc_level(const struct docker_service *s, enum policy_resource r)
{
    return r == POLICY_CPU      ? s->res.limit_nano_cpus
           : r == POLICY_MEMORY ? s->res.limit_memory
                                : s->replicas;
}

static int64_t svc_reserve(const struct docker_service *s, enum policy_resource r)
{
    return r == POLICY_CPU      ? s->res.reserve_nano_cpus
           : r == POLICY_MEMORY ? s->res.reserve_memory
                                : 0;
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

/* The change that sets resource r of s to level, with reservation res. */
static void svc_change(struct docker_service_change *chg, const struct docker_service *s,
                       enum policy_resource r, int64_t level, int64_t res)
{
    memset(chg, 0, sizeof(*chg));
    if (r == POLICY_REPLICAS) {
        chg->has_replicas = true;
        chg->replicas = level;
        return;
    }
    chg->has_resources = true;
    chg->res = s->res;
    if (r == POLICY_CPU) {
        chg->res.limit_nano_cpus = level;
        chg->res.reserve_nano_cpus = res;
    } else {
        chg->res.limit_memory = level;
        chg->res.reserve_memory = res;
    }
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
             "service=%s version=%" PRIu64 " attempt=%d", quote(qn, sizeof(qn), job->container),
             svc->version, attempt);
    docker_service_free(svc);
    memset(svc, 0, sizeof(*svc));
    docker_code rc = e->o.ops->service_inspect(e->o.docker_ud, job->container, svc, &derr);
    if (rc == DOCKER_OK)
        return true;
    if (rc == DOCKER_E_NOT_FOUND || rc == DOCKER_E_NO_SWARM) {
        pthread_mutex_lock(&e->lock);
        drop_entry(e, job->container);
        unlock_persist(e);
        rc = DOCKER_E_NOT_FOUND;
    }
    docker_failed(e, job, "inspect service", rc, &derr, t0);
    return false;
}

/* Scale-out of a service: CPU or memory limit (reservation in proportion), or one step of
 * replicas. While scaled out, a repeat only extends the deadline, except that a replicas alert
 * still firing a whole scale duration after the last step adds another step (up to the max). */
static void service_scale_out(struct engine *e, const struct engine_job *job,
                              struct docker_service *svc, int64_t t0)
{
    const char *kind = kind_label(POLICY_SCALE_OUT, job->resource);
    struct policy_request req = {job->kind, job->resource, job->duration, job->force,
                                 job->from_alert};
    char qn[300], qr[200];

    for (int attempt = 1;; attempt++) {
        struct policy_container pc;
        struct policy_decision d;
        int64_t now = now_ms(e), target;
        bool again = false;

        policy_service_from_labels(&pc, &svc->labels, svc->global);
        policy_decide(&e->o.lim, &req, &pc, now, &d);
        if (d.verdict != POLICY_ACCEPT) {
            log_info("ignored", "service=%s action=%s reason=%s remote=%s",
                     quote(qn, sizeof(qn), job->container), kind, quote(qr, sizeof(qr), d.reason),
                     job->remote[0] ? job->remote : "-");
            metrics_action(e->o.metrics, kind, "skipped", since_s(t0));
            reply_state(e, job, d.http_status, "ignored", d.reason);
            return;
        }
        if (in_maintenance(e, job->container)) {
            metrics_action(e->o.metrics, kind, "skipped", since_s(t0));
            reply_state(e, job, 409, "ignored", "service is in maintenance");
            return;
        }
        int64_t cur = svc_level(svc, job->resource);
        pthread_mutex_lock(&e->lock);
        struct entry *en = find_entry(e, job->container);
        struct res_state prev = en ? en->r[job->resource] : (struct res_state){0};
        pthread_mutex_unlock(&e->lock);
        if (prev.out) {
            again = job->resource == POLICY_REPLICAS && cur == prev.applied && cur < d.max &&
                    now - prev.since_ms >= d.duration_ms;
            if (!again) {
                extend_if_out(e, job, &d, t0);
                return;
            }
        }
        if (job->resource == POLICY_REPLICAS) {
            target = policy_replicas_next(cur, d.step, d.max);
            if (target <= cur) {
                unchanged(e, job, kind, "already at the maximum replicas (trip.max-replicas)", t0);
                return;
            }
        } else {
            if (cur == 0) {
                unchanged(e, job, kind,
                          job->resource == POLICY_CPU
                              ? "service has no CPU limit; nothing to raise"
                              : "service has no memory limit; nothing to raise",
                          t0);
                return;
            }
            target = d.target ? d.target : 2 * cur; /* CPU without trip.cpus: twice the limit */
            if (cur >= target) {
                unchanged(e, job, kind, "already at or above the scaled-out level", t0);
                return;
            }
        }
        int64_t reserve = svc_reserve(svc, job->resource);
        int64_t new_res = scaled_reserve(reserve, cur, target);

        /* Write-ahead claim, as for containers. */
        pthread_mutex_lock(&e->lock);
        en = get_entry(e, job->container);
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
            r->out = true;
            r->applied = target;
            r->applied_res = new_res;
            r->since_ms = now;
            r->check_queued = false;
            add_firing(r, job);
            note(en, now, kind, e->o.dry_run ? "dry_run" : "applying", NULL);
        }
        struct store_err serr = {0};
        if (!unlock_persist_err(e, &serr) && !e->o.dry_run) {
            claim_unsaved(e, job, kind, &prev, &serr, t0);
            return;
        }
        if (!e->o.dry_run) {
            struct docker_service_change chg;
            struct docker_err derr = {0};
            svc_change(&chg, svc, job->resource, target, new_res);
            docker_code rc = e->o.ops->service_update(e->o.docker_ud, svc, &chg, &derr);
            if (rc != DOCKER_OK) {
                unclaim(e, job, &prev, kind, NULL);
                if (rc == DOCKER_E_CONFLICT && attempt < SERVICE_TRIES) {
                    if (!svc_reread(e, job, svc, attempt, t0))
                        return;
                    continue; /* decide again on what is there now */
                }
                docker_failed(e, job, "update service", rc, &derr, t0);
                return;
            }
        }
        scaled_out(e, job, kind, again ? "scaled out another step" : "scaled out", cur, target, now,
                   t0);
        return;
    }
}

/* Scale-in of a service (already judged due) to its recorded baseline. */
static void service_scale_in(struct engine *e, const struct engine_job *job,
                             const struct res_state *r, struct docker_service *svc, const char *why,
                             int64_t t0)
{
    const char *kind = kind_label(POLICY_SCALE_IN, job->resource);

    for (int attempt = 1;; attempt++) {
        int64_t cur = svc_level(svc, job->resource);
        if (!e->o.dry_run && cur != r->applied) {
            claim_dropped(e, job, kind, r->applied, cur,
                          "the service was changed by hand; left as it is", t0);
            return;
        }
        if (!e->o.dry_run) {
            struct docker_service_change chg;
            struct docker_err derr = {0};
            svc_change(&chg, svc, job->resource, r->base, r->base_res);
            docker_code rc = e->o.ops->service_update(e->o.docker_ud, svc, &chg, &derr);
            if (rc == DOCKER_E_CONFLICT && attempt < SERVICE_TRIES) {
                if (!svc_reread(e, job, svc, attempt, t0)) {
                    retry_later(e, job);
                    return;
                }
                continue;
            }
            if (rc != DOCKER_OK) {
                retry_later(e, job);
                docker_failed(e, job, "update service", rc, &derr, t0);
                return;
            }
            pthread_mutex_lock(&e->lock);
            struct entry *en = find_entry(e, job->container);
            if (en)
                en->version = svc->version;
            pthread_mutex_unlock(&e->lock);
        }
        scaled_in(e, job, kind, r->applied, r->base, why, t0);
        return;
    }
}

/* Restores the baseline of a scaled-out resource (already judged due). */
static void scale_in(struct engine *e, const struct engine_job *job, const struct res_state *r,
                     const char *why, int64_t t0)
{
    const char *kind = kind_label(POLICY_SCALE_IN, job->resource);
    struct target t;
    struct docker_update u = {0};
    struct docker_err derr = {0};

    if (inspect(e, job, &t, t0) != DOCKER_OK) {
        retry_later(e, job);
        return;
    }
    if (t.service) {
        service_scale_in(e, job, r, &t.svc, why, t0);
        target_free(&t);
        return;
    }
    struct docker_container ct = t.ct; /* takes over what t.ct owns (freed below) */
    if (!e->o.dry_run && changed_by_hand(r, &ct, job->resource)) {
        claim_dropped(e, job, kind, r->applied, current_of(&ct, job->resource),
                      "resources were changed by hand; left as they are", t0);
        goto out_free;
    }
    if (!e->o.dry_run && memory_guard_holds(e, job, r, ct.id)) {
        metrics_action(e->o.metrics, kind, "skipped", since_s(t0));
        reply_state(e, job, 200, "postponed", "memory usage above the baseline limit; retrying");
        goto out_free;
    }
    if (job->resource == POLICY_CPU) {
        u.has_cpu_shares = true;
        u.cpu_shares = r->base > 0 ? r->base : DEFAULT_CPU_SHARES;
    } else {
        u.has_memory = u.has_memory_swap = true;
        u.memory = r->base;
        u.memory_swap = r->base_swap;
    }
    if (!e->o.dry_run) {
        docker_code rc = e->o.ops->update(e->o.docker_ud, ct.id, &u, &derr);
        if (rc != DOCKER_OK) {
            retry_later(e, job);
            docker_failed(e, job, "update", rc, &derr, t0);
            goto out_free;
        }
    }
    scaled_in(e, job, kind, r->applied, job->resource == POLICY_CPU ? u.cpu_shares : u.memory, why,
              t0);
out_free:
    docker_container_free(&ct);
}

/* Asks Prometheus whether the resource's alert still fires for the container. True: hold. */
static bool prometheus_holds(struct engine *e, const struct engine_job *job)
{
    static const char *const def_labels[] = {"name"};
    struct prom_match m = {
        .container_labels = e->o.n_container_labels ? e->o.container_labels : def_labels,
        .n_container_labels = e->o.n_container_labels ? e->o.n_container_labels : 1,
        .container = job->container,
        .alertname = job->resource == POLICY_CPU
                         ? (e->o.cpu_alert ? e->o.cpu_alert : "ContainerHighCpu")
                     : job->resource == POLICY_MEMORY
                         ? (e->o.memory_alert ? e->o.memory_alert : "ContainerHighMemory")
                         : "ServiceHighCpu", /* or its action label, scale-replicas */
        .action = job->resource == POLICY_CPU      ? "scale-cpu"
                  : job->resource == POLICY_MEMORY ? "scale-memory"
                                                   : "scale-replicas",
    };
    struct prom_err perr = {0};
    bool firing = false;
    char qn[300], qe[300];

    if (prom_query_firing(e->o.prom_url, e->o.prom_timeout_ms ? e->o.prom_timeout_ms : 3000, &m,
                          &firing, &perr) != PROM_OK) {
        log_warn("prometheus check failed; deciding on Alertmanager's notifications",
                 "container=%s error=%s", quote(qn, sizeof(qn), job->container),
                 quote(qe, sizeof(qe), perr.msg));
        return false;
    }
    if (firing)
        log_info("prometheus reports the alert still firing; holding scale-in",
                 "container=%s action=%s", quote(qn, sizeof(qn), job->container),
                 kind_label(POLICY_SCALE_IN, job->resource));
    return firing;
}

/* Copies the resource state when a scale-in should happen now. force: manual request. */
static bool take_due(struct engine *e, const struct engine_job *job, bool force,
                     struct res_state *copy, const char **why)
{
    bool due = false;
    enum policy_due pd = POLICY_HOLD;

    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, job->container);
    struct res_state *r = en ? &en->r[job->resource] : NULL;
    if (r && r->out) {
        struct policy_hold h = {r->deadline_ms, r->since_ms, r->n_firing, e->o.max_hold_ms};
        int64_t next;
        pd = policy_scale_in_due(&h, now_ms(e), &next);
        due = force || pd != POLICY_HOLD;
        *why = force ? "manual" : pd == POLICY_DUE_MAX_HOLD ? "max_hold" : "deadline";
        if (force)
            r->n_firing = 0;
        *copy = *r;
        if (!due)
            r->check_queued = false;
    }
    pthread_mutex_unlock(&e->lock);
    if (due && !force && pd == POLICY_DUE_DEADLINE && e->o.prom_url && e->o.prom_url[0] &&
        prometheus_holds(e, job)) {
        int64_t wait = e->o.lim.scale_duration_ms < 1000 ? 1000 : e->o.lim.scale_duration_ms;
        pthread_mutex_lock(&e->lock);
        en = find_entry(e, job->container);
        if (en) {
            en->r[job->resource].hold_until = now_ms(e) + (wait > 15000 ? 15000 : wait);
            en->r[job->resource].check_queued = false;
        }
        pthread_mutex_unlock(&e->lock);
        return false;
    }
    if (due && strcmp(*why, "max_hold") == 0) {
        char qn[300];
        log_warn("scaling in after --max-hold although the alert still fires or no resolve came",
                 "container=%s firing=%zu", quote(qn, sizeof(qn), job->container), copy->n_firing);
    }
    return due;
}

static void do_scale_in(struct engine *e, const struct engine_job *job, bool force, int64_t t0)
{
    struct res_state copy;
    const char *why = "";

    if (in_maintenance(e, job->container)) {
        pthread_mutex_lock(&e->lock);
        struct entry *en = find_entry(e, job->container);
        if (en)
            en->r[job->resource].check_queued = false;
        pthread_mutex_unlock(&e->lock);
        if (job->done)
            reply_state(e, job, 409, "ignored", "container is in maintenance");
        return;
    }
    if (!take_due(e, job, force, &copy, &why)) {
        if (job->done)
            reply_state(e, job, 200, "unchanged", force ? "not scaled out" : "not due");
        return;
    }
    scale_in(e, job, &copy, why, t0);
}

static void do_resolve(struct engine *e, const struct engine_job *job, int64_t t0)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, job->container);
    if (!en) {
        pthread_mutex_unlock(&e->lock);
        return;
    }
    if (remove_firing(&en->r[job->resource], job->fingerprint))
        unlock_persist(e);
    else
        pthread_mutex_unlock(&e->lock);
    pthread_cond_broadcast(&e->timer_cond);
    do_scale_in(e, job, false, t0);
}

static void do_restart(struct engine *e, const struct engine_job *job, int64_t t0)
{
    struct docker_container ct;
    struct docker_err derr = {0};
    struct policy_container pc;
    struct policy_decision d;
    struct policy_request req = {job->kind, job->resource, NULL, job->force, job->from_alert};
    char qn[300];

    if (job->from_alert && in_maintenance(e, job->container)) {
        log_info("ignored", "container=%s action=restart reason=maintenance",
                 quote(qn, sizeof(qn), job->container));
        metrics_action(e->o.metrics, "restart", "skipped", since_s(t0));
        reply_state(e, job, 409, "ignored", "container is in maintenance");
        return;
    }
    struct target t;
    if (inspect(e, job, &t, t0) != DOCKER_OK)
        return;
    ct = t.ct; /* takes over what t.ct owns (freed below) */
    if (t.service)
        policy_service_from_labels(&pc, &t.svc.labels, t.svc.global);
    else
        policy_container_from_labels(&pc, &ct.labels, ct.running);
    policy_decide(&e->o.lim, &req, &pc, now_ms(e), &d);
    docker_service_free(&t.svc);
    if (d.verdict != POLICY_ACCEPT) {
        log_info("ignored", "container=%s action=restart reason=%s",
                 quote(qn, sizeof(qn), job->container), d.reason);
        metrics_action(e->o.metrics, "restart", "skipped", since_s(t0));
        reply_state(e, job, d.http_status, "ignored", d.reason);
        goto out_free;
    }
    if ((ct.running && !job->force) || ct.restarting || strcmp(ct.status, "removing") == 0) {
        metrics_action(e->o.metrics, "restart", "skipped", since_s(t0));
        reply_state(e, job, 200, "unchanged",
                    ct.running ? "container is running; send {\"force\":true} to restart it"
                               : "container is busy");
        goto out_free;
    }
    docker_code rc = DOCKER_OK;
    if (!e->o.dry_run)
        rc = ct.running ? e->o.ops->restart(e->o.docker_ud, ct.id, &derr)
                        : e->o.ops->start(e->o.docker_ud, ct.id, &derr);
    if (rc != DOCKER_OK && rc != DOCKER_E_NOT_MODIFIED) {
        docker_failed(e, job, ct.running ? "restart" : "start", rc, &derr, t0);
        goto out_free;
    }
    pthread_mutex_lock(&e->lock);
    struct entry *en = get_entry(e, job->container);
    if (en) {
        utf8_copy(en->id, sizeof(en->id), ct.id);
        note(en, now_ms(e), ct.running ? "restart" : "start", e->o.dry_run ? "dry_run" : "ok",
             NULL);
    }
    unlock_persist(e);
    metrics_action(e->o.metrics, "restart", e->o.dry_run ? "dry_run" : "ok", since_s(t0));
    log_info(e->o.dry_run ? "would restart (dry run)"
             : ct.running ? "restarted"
                          : "started",
             "container=%s action=%s from=%s to=running duration_ms=%" PRId64
             " dry_run=%s remote=%s",
             quote(qn, sizeof(qn), job->container), ct.running ? "restart" : "start", ct.status,
             mono_ms() - t0, e->o.dry_run ? "true" : "false", job->remote[0] ? job->remote : "-");
    reply_state(e, job, 200, e->o.dry_run ? "dry_run" : "ok", ct.running ? "restarted" : "started");
out_free:
    docker_container_free(&ct);
}

/* ---- event-driven healing ---- */

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

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
             quote(qn, sizeof(qn), name), streak, policy_heal_delay(&e->o.heal, streak),
             e->o.heal.stable_ms);
}

/* Gone while a heal was pending: forget it quietly (no error, no retry). */
static void heal_gone(struct engine *e, const struct engine_job *job, const char *trigger)
{
    char qn[300];

    pthread_mutex_lock(&e->lock);
    drop_entry(e, job->container);
    unlock_persist(e);
    metrics_heal(e->o.metrics, trigger, "gone", 0);
    log_info("container removed; not healed", "container=%s trigger=%s",
             quote(qn, sizeof(qn), job->container), trigger);
}

/* A Docker call of a heal failed: the next attempt follows the backoff. A daemon that cannot be
 * reached (restarting, socket gone) is a warning and does not count toward the crash-loop flag:
 * the attempts back off all the same, and the watcher's reconcile after reconnecting heals too. */
static void heal_failed(struct engine *e, const struct engine_job *job, const char *trigger,
                        const char *call, docker_code rc, const struct docker_err *derr)
{
    char qn[300], qe[300];
    int64_t now = now_ms(e), delay = 0;
    bool flagged = false;
    bool daemon = rc == DOCKER_E_UNREACHABLE || rc == DOCKER_E_TIMEOUT || rc == DOCKER_E_TRANSPORT;
    int streak = 0;

    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, job->container);
    if (en) {
        if (daemon)
            en->h.fails++;
        else
            flagged = bump_streak(e, en, now);
        streak = en->h.streak;
        delay = policy_heal_delay(&e->o.heal, streak + en->h.fails);
        en->h.due_ms = now + delay;
        note(en, now, "heal", "error", derr->msg);
    }
    unlock_persist(e);
    pthread_cond_broadcast(&e->timer_cond);
    metrics_docker_error(e->o.metrics, docker_code_name(rc));
    metrics_heal(e->o.metrics, trigger, "error", 0);
    log_write(daemon ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR, "heal failed; retrying after the backoff",
              "container=%s trigger=%s call=%s error=%s retry_in_ms=%" PRId64,
              quote(qn, sizeof(qn), job->container), trigger, call,
              quote(qe, sizeof(qe), derr->msg[0] ? derr->msg : docker_code_name(rc)), delay);
    if (flagged)
        warn_crashloop(e, job->container, streak);
}

/* Remembers that an operator's stop was left alone, so a reconcile leaves it too. */
static void mark_operator_stopped(struct engine *e, const char *name)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, name);
    if (en && !en->h.operator_stopped) {
        en->h.operator_stopped = true;
        unlock_persist(e);
        return;
    }
    pthread_mutex_unlock(&e->lock);
}

static void healed(struct engine *e, const struct engine_job *job, const struct heal_state *h,
                   const struct docker_container *ct, bool restart, int64_t t0)
{
    char qn[300];
    int64_t now = now_ms(e);
    bool flagged = false;
    int streak = 0;

    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, job->container);
    if (en) {
        utf8_copy(en->id, sizeof(en->id), ct->id);
        flagged = bump_streak(e, en, now);
        streak = en->h.streak;
        en->h.heals++;
        en->h.fails = 0;
        en->h.operator_stopped = false;
        note(en, now, "heal", e->o.dry_run ? "dry_run" : "ok", NULL);
    }
    unlock_persist(e);
    double latency = h->event_ns > 0 ? (double)(wall_ns() - h->event_ns) / 1e9 : since_s(t0);
    if (latency < 0)
        latency = 0;
    metrics_heal(e->o.metrics, h->trigger, e->o.dry_run ? "dry_run" : "ok", latency);
    log_info(e->o.dry_run ? "would heal (dry run)" : "healed",
             "container=%s action=%s trigger=%s exit_code=%d operator_stop=%s from=%s "
             "latency_ms=%.0f duration_ms=%" PRId64 " streak=%d next_delay_ms=%" PRId64,
             quote(qn, sizeof(qn), job->container), restart ? "restart" : "start", h->trigger,
             h->exit_code, h->operator_stop ? "true" : "false", ct->status, latency * 1000.0,
             mono_ms() - t0, streak, policy_heal_delay(&e->o.heal, streak));
    if (flagged)
        warn_crashloop(e, job->container, streak);
}

/* Decides on the inspected container and starts (or restarts) it. */
static void heal_inspected(struct engine *e, const struct engine_job *job,
                           const struct heal_state *h, const struct docker_container *ct,
                           int64_t t0)
{
    struct policy_container pc;
    struct docker_err derr = {0};
    char reason[160], qn[300];
    bool op_stop = h->operator_stop || h->operator_stopped;

    if (strcmp(h->trigger, "reconcile") == 0 && !ct->oom_killed &&
        (ct->exit_code == 0 || ct->exit_code == 143))
        op_stop = true; /* stopped while nobody watched: exit code of a docker stop */
    policy_container_from_labels(&pc, &ct->labels, ct->running);
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
                 quote(qn, sizeof(qn), job->container), h->trigger, reason);
        if (op_stop && policy_managed(&e->o.lim, pc.enable))
            mark_operator_stopped(e, job->container);
        return;
    }
    if (!ct->running && (ct->restarting || ct->paused || ct->dead ||
                         strcmp(ct->status, "removing") == 0 || strcmp(ct->status, "dead") == 0)) {
        metrics_heal(e->o.metrics, h->trigger, "skipped", 0);
        log_info("not healed", "container=%s trigger=%s reason=busy status=%s",
                 quote(qn, sizeof(qn), job->container), h->trigger, ct->status);
        return;
    }
    docker_code rc = DOCKER_OK;
    if (!e->o.dry_run)
        rc = restart ? e->o.ops->restart(e->o.docker_ud, ct->id, &derr)
                     : e->o.ops->start(e->o.docker_ud, ct->id, &derr);
    if (rc == DOCKER_E_NOT_FOUND || rc == DOCKER_E_CONFLICT) {
        heal_gone(e, job, h->trigger); /* 409: removal in progress */
        return;
    }
    if (rc == DOCKER_E_NOT_MODIFIED) { /* started meanwhile (Docker's own restart policy) */
        metrics_heal(e->o.metrics, h->trigger, "running", 0);
        log_debug("started meanwhile; no heal", "container=%s", job->container);
        return;
    }
    if (rc != DOCKER_OK) {
        heal_failed(e, job, h->trigger, restart ? "restart" : "start", rc, &derr);
        return;
    }
    healed(e, job, h, ct, restart, t0);
}

static void do_heal(struct engine *e, const struct engine_job *job, int64_t t0)
{
    struct heal_state h;
    struct docker_container ct;
    struct docker_err derr = {0};
    char qn[300];

    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, job->container);
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
                 quote(qn, sizeof(qn), job->container), h.trigger);
        return;
    }
    memset(&ct, 0, sizeof(ct));
    docker_code rc = e->o.ops->inspect(e->o.docker_ud, job->container, &ct, &derr);
    if (rc == DOCKER_E_NOT_FOUND)
        heal_gone(e, job, h.trigger);
    else if (rc != DOCKER_OK)
        heal_failed(e, job, h.trigger, "inspect", rc, &derr);
    else
        heal_inspected(e, job, &h, &ct, t0);
    docker_container_free(&ct);
}

/* At start: drop entries whose container vanished or was recreated (its baseline is void). */
static void do_reconcile(struct engine *e, const struct engine_job *job, int64_t t0)
{
    struct target t;
    char qn[300];

    if (inspect(e, job, &t, t0) != DOCKER_OK)
        return;
    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, job->container);
    if (en && ((en->id[0] && strcmp(en->id, target_id(&t)) != 0) || en->service != t.service)) {
        log_warn("container was recreated; dropping its state", "container=%s",
                 quote(qn, sizeof(qn), job->container));
        drop_entry(e, job->container);
        unlock_persist(e);
    } else {
        pthread_mutex_unlock(&e->lock);
    }
    target_free(&t);
    engine_tick(e);
}

static void run_item(struct engine *e, const struct item *it)
{
    int64_t t0 = mono_ms();
    const struct engine_job *job = &it->job;

    if (it->op == OP_RECONCILE) {
        do_reconcile(e, job, t0);
        return;
    }
    if (it->op == OP_HEAL) {
        do_heal(e, job, t0);
        return;
    }
    if (it->op == OP_CHECK) {
        do_scale_in(e, job, false, t0);
        return;
    }
    switch (job->kind) {
    case POLICY_SCALE_OUT:
        do_scale_out(e, job, t0);
        break;
    case POLICY_SCALE_IN:
        do_scale_in(e, job, true, t0);
        break;
    case POLICY_RESOLVE:
        do_resolve(e, job, t0);
        break;
    case POLICY_RESTART:
        do_restart(e, job, t0);
        break;
    default:
        reply_state(e, job, 422, "ignored", "nothing to do");
        break;
    }
}

/* ---- queues and threads ---- */

static uint64_t key_of(const char *name)
{
    uint64_t h = 1469598103934665603ULL;

    for (const char *p = name; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    return h;
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

    if (op != OP_SUBMIT || job->done)
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
static engine_code enqueue(struct engine *e, enum op op, const struct engine_job *job)
{
    uint64_t key = key_of(job->container);

    if (coalesce(e, op, job, key))
        return ENGINE_OK;
    struct item *it = e->spare;
    if (!it)
        return ENGINE_E_FULL;
    e->spare = it->next;
    *it = (struct item){.op = op, .job = *job, .key = key, .prev = e->tail};
    if (e->tail)
        e->tail->next = it;
    else
        e->head = it;
    e->tail = it;
    e->n_queued++;
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

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct engine *e = w->e;

    pthread_mutex_lock(&e->lock);
    for (;;) {
        struct item *next = e->aborting ? NULL : next_runnable(e);
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

/* Queues due heals and clears crash-loop flags of containers running stably (lock held). */
static void tick_heals(struct engine *e, int64_t now)
{
    char qn[300];

    for (size_t i = 0; i < e->n_t && !e->stopping; i++) {
        struct heal_state *h = &e->t[i].h;
        if (h->due_ms && now >= h->due_ms && !h->queued) {
            struct engine_job job = {.kind = POLICY_RESTART};
            utf8_copy(job.container, sizeof(job.container), e->t[i].name);
            if (enqueue(e, OP_HEAL, &job) == ENGINE_OK) {
                h->due_ms = 0;
                h->queued = true;
            }
        }
        if (h->crashloop && h->up && !h->due_ms && !h->queued &&
            now - h->up_since_ms >= e->o.heal.stable_ms) {
            h->crashloop = false;
            h->streak = 0;
            log_info("container runs stably again; crash-loop flag cleared", "container=%s",
                     quote(qn, sizeof(qn), e->t[i].name));
        }
    }
}

void engine_tick(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    int64_t now = now_ms(e);
    tick_heals(e, now);
    for (size_t i = 0; i < e->n_t && !e->stopping; i++) {
        if (e->t[i].h.maintenance)
            continue; /* no scale-in either until released */
        for (int k = 0; k < POLICY_N_RESOURCES; k++) {
            struct res_state *r = &e->t[i].r[k];
            struct policy_hold h = {r->deadline_ms, r->since_ms, r->n_firing, e->o.max_hold_ms};
            int64_t next;
            if (!r->out || r->check_queued || r->hold_until > now ||
                policy_scale_in_due(&h, now, &next) == POLICY_HOLD)
                continue;
            struct engine_job job = {.kind = POLICY_SCALE_IN, .resource = (enum policy_resource)k};
            utf8_copy(job.container, sizeof(job.container), e->t[i].name);
            if (enqueue(e, OP_CHECK, &job) == ENGINE_OK)
                r->check_queued = true;
        }
    }
    pthread_mutex_unlock(&e->lock);
}

/* Milliseconds until the earliest moment a scale-in may become due (lock held), at most 1000. */
static int64_t next_wake(struct engine *e)
{
    int64_t now = now_ms(e), wait = 1000;

    for (size_t i = 0; i < e->n_t; i++) {
        const struct heal_state *hs = &e->t[i].h;
        if (hs->due_ms && !hs->queued && hs->due_ms - now < wait)
            wait = hs->due_ms - now;
        for (int k = 0; k < POLICY_N_RESOURCES; k++) {
            const struct res_state *r = &e->t[i].r[k];
            struct policy_hold h = {r->deadline_ms, r->since_ms, r->n_firing, e->o.max_hold_ms};
            int64_t next;
            if (r->out && !r->check_queued) {
                policy_scale_in_due(&h, now, &next);
                if (r->hold_until > next)
                    next = r->hold_until;
                if (next - now < wait)
                    wait = next - now;
            }
        }
    }
    return wait < 1 ? 1 : wait;
}

static void *timer_main(void *arg)
{
    struct engine *e = arg;
    struct timespec ts;

    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        pthread_mutex_unlock(&e->lock);
        engine_tick(e);
        pthread_mutex_lock(&e->lock);
        if (e->stopping)
            break;
        deadline_in(&ts, next_wake(e));
        pthread_cond_timedwait(&e->timer_cond, &e->lock, &ts);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

static void cache_fill(struct cache_entry *ce, const struct docker_summary *s)
{
    struct engine_cached *c = &ce->c;
    const char *v;

    memset(ce, 0, sizeof(*ce));
    utf8_copy(ce->name, sizeof(ce->name), s->name);
    c->exists = true;
    c->running = strcmp(s->state, "running") == 0;
#define CACHE_LABEL(field, key)                                                                    \
    v = docker_labels_get(&s->labels, key);                                                        \
    c->has_##field = v != NULL;                                                                    \
    utf8_copy(c->field, sizeof(c->field), v);
    CACHE_LABEL(enable, "trip.enable")
    CACHE_LABEL(cpu_shares, "trip.cpu-shares")
    CACHE_LABEL(memory, "trip.memory")
    CACHE_LABEL(scale_duration, "trip.scale-duration")
    CACHE_LABEL(heal, "trip.heal")
    CACHE_LABEL(swarm_service, "com.docker.swarm.service.name")
#undef CACHE_LABEL
}

static void cache_fill_service(struct cache_entry *ce, const struct docker_service *s)
{
    struct engine_cached *c = &ce->c;
    const char *v;

    memset(ce, 0, sizeof(*ce));
    utf8_copy(ce->name, sizeof(ce->name), s->name);
    c->exists = c->running = c->service = true;
    c->global = s->global;
#define CACHE_LABEL(field, key)                                                                    \
    v = docker_labels_get(&s->labels, key);                                                        \
    c->has_##field = v != NULL;                                                                    \
    utf8_copy(c->field, sizeof(c->field), v);
    CACHE_LABEL(enable, "trip.enable")
    CACHE_LABEL(memory, "trip.memory")
    CACHE_LABEL(scale_duration, "trip.scale-duration")
    CACHE_LABEL(cpus, "trip.cpus")
    CACHE_LABEL(max_replicas, "trip.max-replicas")
    CACHE_LABEL(replicas_step, "trip.replicas-step")
#undef CACHE_LABEL
}

docker_code engine_refresh(struct engine *e)
{
    struct docker_summary_list l = {0};
    struct docker_err derr = {0};
    docker_code rc = e->o.ops->list(e->o.docker_ud, &l, &derr);

    if (rc != DOCKER_OK) {
        metrics_docker_error(e->o.metrics, docker_code_name(rc));
        pthread_mutex_lock(&e->lock);
        if (e->ready)
            log_warn("docker unreachable", "error=%s",
                     derr.msg[0] ? derr.msg : docker_code_name(rc));
        e->ready = false;
        pthread_mutex_unlock(&e->lock);
        return rc;
    }
    /* Swarm services, when this node is a manager; the containers are listed first so that a
     * container wins over a service of the same name. */
    struct docker_service_list sl = {0};
    if (e->o.ops->service_list) {
        struct docker_err serr = {0};
        docker_code src = e->o.ops->service_list(e->o.docker_ud, &sl, &serr);
        if (src != DOCKER_OK && src != DOCKER_E_NO_SWARM) {
            metrics_docker_error(e->o.metrics, docker_code_name(src));
            log_debug("cannot list services", "error=%s", serr.msg);
        }
    }
    size_t n = l.n < MAX_CACHE ? l.n : MAX_CACHE;
    size_t ns = sl.n < MAX_CACHE - n ? sl.n : MAX_CACHE - n;
    struct cache_entry *fresh = calloc(n + ns + 1, sizeof(*fresh));
    for (size_t i = 0; fresh && i < n; i++)
        cache_fill(&fresh[i], &l.v[i]);
    for (size_t i = 0; fresh && i < ns; i++)
        cache_fill_service(&fresh[n + i], &sl.v[i]);
    docker_summary_list_free(&l);
    docker_service_list_free(&sl);
    n += ns;
    pthread_mutex_lock(&e->lock);
    if (fresh) {
        free(e->cache);
        e->cache = fresh;
        e->n_cache = n;
    }
    if (!e->ready)
        log_info("docker reachable", "containers=%zu", n);
    e->ready = true;
    pthread_mutex_unlock(&e->lock);
    return DOCKER_OK;
}

static void *refresh_main(void *arg)
{
    struct engine *e = arg;
    struct timespec ts;

    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        pthread_mutex_unlock(&e->lock);
        engine_refresh(e);
        pthread_mutex_lock(&e->lock);
        if (e->stopping)
            break;
        deadline_in(&ts, e->o.refresh_interval_ms);
        pthread_cond_timedwait(&e->timer_cond, &e->lock, &ts);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* ---- public ---- */

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
    e->pool = calloc(e->o.queue_max, sizeof(*e->pool));
    if (!e->pool)
        goto out_free;
    for (size_t i = e->o.queue_max; i-- > 0;) {
        e->pool[i].next = e->spare;
        e->spare = &e->pool[i];
    }
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
    set_err(err, ENGINE_E_NOMEM, "out of memory");
    return ENGINE_E_NOMEM;
}

engine_code engine_load(struct engine *e, struct engine_err *err)
{
    struct store_err serr = {0};
    json_t *doc = NULL, *c;
    size_t i;

    if (!e->o.store)
        return ENGINE_OK;
    store_code rc = store_load(e->o.store, &doc, &serr);
    if (rc == STORE_E_NOTFOUND)
        return ENGINE_OK;
    if (rc != STORE_OK) {
        set_err(err, ENGINE_E_STORE, "%s", serr.msg);
        return ENGINE_E_STORE;
    }
    pthread_mutex_lock(&e->lock);
    json_array_foreach(json_object_get(doc, "containers"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        /* never cut a container name: a prefix could name another container */
        bool usable = name && *name && strlen(name) < sizeof(e->t[0].name);
        struct entry *en = usable ? get_entry(e, name) : NULL;
        if (!en)
            continue;
        utf8_copy(en->id, sizeof(en->id), str_of(json_object_get(c, "id")));
        res_from_json(&en->r[POLICY_CPU], json_object_get(c, "cpu"));
        res_from_json(&en->r[POLICY_MEMORY], json_object_get(c, "memory"));
        en->service = strcmp(str_of(json_object_get(c, "kind")), "service") == 0;
        if (en->service) {
            res_from_json(&en->r[POLICY_REPLICAS], json_object_get(c, "replicas"));
            en->version = (uint64_t)get_i64(c, "version");
        }
        const json_t *last = json_object_get(c, "last_action");
        utf8_copy(en->last_action, sizeof(en->last_action),
                  str_of(json_object_get(last, "action")));
        utf8_copy(en->last_result, sizeof(en->last_result),
                  str_of(json_object_get(last, "result")));
        utf8_copy(en->last_error, sizeof(en->last_error), str_of(json_object_get(last, "error")));
        en->last_action_ms = get_i64(last, "at_ms");
        en->h.maintenance = json_is_true(json_object_get(c, "maintenance"));
        en->h.operator_stopped =
            json_is_true(json_object_get(json_object_get(c, "heal"), "operator_stopped"));
    }
    log_info("state loaded", "path=%s containers=%zu", store_path(e->o.store), e->n_t);
    pthread_mutex_unlock(&e->lock);
    json_decref(doc);
    return ENGINE_OK;
}

engine_code engine_start(struct engine *e, struct engine_err *err)
{
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->n_t; i++) {
        struct engine_job job = {.kind = POLICY_NONE};
        utf8_copy(job.container, sizeof(job.container), e->t[i].name);
        enqueue(e, OP_RECONCILE, &job);
    }
    e->started = true;
    pthread_mutex_unlock(&e->lock);
    for (size_t i = 0; i < e->n_workers; i++) {
        if (pthread_create(&e->w[i].thread, NULL, worker_main, &e->w[i]) != 0)
            abort(); /* cannot run without workers; at start-up only */
    }
    if (pthread_create(&e->timer, NULL, timer_main, e) != 0)
        abort();
    if (e->o.refresh_interval_ms > 0) {
        if (pthread_create(&e->refresher, NULL, refresh_main, e) != 0)
            abort();
        e->has_refresher = true;
    }
    (void)err;
    return ENGINE_OK;
}

engine_code engine_submit(struct engine *e, const struct engine_job *job, struct engine_err *err)
{
    engine_code rc;

    if (!job->container[0]) {
        set_err(err, ENGINE_E_INVALID, "empty container name");
        return ENGINE_E_INVALID;
    }
    pthread_mutex_lock(&e->lock);
    rc = e->stopping ? ENGINE_E_STOPPED : enqueue(e, OP_SUBMIT, job);
    pthread_mutex_unlock(&e->lock);
    if (rc == ENGINE_E_FULL)
        set_err(err, rc, "engine queue is full (%zu jobs)", e->o.queue_max);
    else if (rc == ENGINE_E_STOPPED)
        set_err(err, rc, "shutting down");
    return rc;
}

/* Lock held. */
static bool idle_locked(const struct engine *e)
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
    while (!idle_locked(e))
        pthread_cond_wait(&e->idle_cond, &e->lock);
    pthread_mutex_unlock(&e->lock);
}

/* Answers every queued job with 503 (lock held). */
static void cancel_queued(struct engine *e)
{
    while (e->head) {
        struct item it = *e->head;
        release(e, e->head);
        if (it.job.done) {
            pthread_mutex_unlock(&e->lock);
            it.job.done(it.job.done_ud, 503, "{\"result\":\"error\",\"reason\":\"shutting down\"}");
            pthread_mutex_lock(&e->lock);
        }
    }
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
    pthread_cond_broadcast(&e->timer_cond);
    deadline_in(&ts, grace_ms);
    while (!idle_locked(e)) {
        if (pthread_cond_timedwait(&e->idle_cond, &e->lock, &ts) == ETIMEDOUT)
            break;
    }
    if (!idle_locked(e))
        log_warn("shutdown grace expired; dropping queued actions", "grace_ms=%" PRId64, grace_ms);
    e->aborting = true;
    cancel_queued(e);
    pthread_cond_broadcast(&e->work_cond);
    e->stopped = true;
    pthread_mutex_unlock(&e->lock);
    for (size_t i = 0; i < e->n_workers; i++)
        pthread_join(e->w[i].thread, NULL);
    pthread_join(e->timer, NULL);
    if (e->has_refresher)
        pthread_join(e->refresher, NULL);
    pthread_mutex_lock(&e->lock);
    unlock_persist(e);
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
    free(e);
}

bool engine_lookup(struct engine *e, const char *name, struct engine_cached *out)
{
    bool found = false;

    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->n_cache && !found; i++) {
        if (strcmp(e->cache[i].name, name) == 0) {
            *out = e->cache[i].c;
            found = true;
        }
    }
    pthread_mutex_unlock(&e->lock);
    return found;
}

void engine_cached_policy(const struct engine_cached *cached, struct policy_container *c)
{
    memset(c, 0, sizeof(*c));
    c->known = true;
    c->exists = cached->exists;
    c->running = cached->running;
    c->enable = cached->has_enable ? cached->enable : NULL;
    c->cpu_shares = cached->has_cpu_shares ? cached->cpu_shares : NULL;
    c->memory = cached->has_memory ? cached->memory : NULL;
    c->scale_duration = cached->has_scale_duration ? cached->scale_duration : NULL;
    c->heal = cached->has_heal ? cached->heal : NULL;
    c->service = cached->service;
    c->global = cached->global;
    c->cpus = cached->has_cpus ? cached->cpus : NULL;
    c->max_replicas = cached->has_max_replicas ? cached->max_replicas : NULL;
    c->replicas_step = cached->has_replicas_step ? cached->replicas_step : NULL;
    c->swarm_service = cached->has_swarm_service ? cached->swarm_service : NULL;
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
    pthread_mutex_lock(&e->lock);
    g->ready = e->ready;
    for (size_t i = 0; i < e->n_cache; i++) {
        const struct engine_cached *c = &e->cache[i].c;
        g->managed += policy_managed(&e->o.lim, c->has_enable ? c->enable : NULL);
    }
    for (size_t i = 0; i < e->n_t; i++) {
        g->scaled_out_cpu += e->t[i].r[POLICY_CPU].out;
        g->scaled_out_memory += e->t[i].r[POLICY_MEMORY].out;
        g->scaled_out_replicas += e->t[i].r[POLICY_REPLICAS].out;
        g->crashloop += e->t[i].h.crashloop;
        g->maintenance += e->t[i].h.maintenance;
    }
    pthread_mutex_unlock(&e->lock);
}

char *engine_state_json(struct engine *e, const char *name)
{
    json_t *doc = NULL;
    char *text = NULL;

    pthread_mutex_lock(&e->lock);
    if (!name) {
        doc = json_object();
        json_t *arr = json_array();
        for (size_t i = 0; i < e->n_t; i++)
            json_array_append_new(arr, entry_json(&e->t[i]));
        /* managed containers the engine has not acted on yet */
        for (size_t i = 0; i < e->n_cache; i++) {
            const struct engine_cached *c = &e->cache[i].c;
            if (!find_entry(e, e->cache[i].name) &&
                policy_managed(&e->o.lim, c->has_enable ? c->enable : NULL)) {
                struct entry blank = {0};
                utf8_copy(blank.name, sizeof(blank.name), e->cache[i].name);
                json_array_append_new(arr, entry_json(&blank));
            }
        }
        json_object_set_new(doc, "containers", arr);
        json_object_set_new(doc, "dry_run", json_boolean(e->o.dry_run));
    } else {
        struct entry *en = find_entry(e, name);
        struct entry blank = {0};
        for (size_t i = 0; !en && i < e->n_cache; i++) {
            const struct engine_cached *c = &e->cache[i].c;
            if (strcmp(e->cache[i].name, name) == 0 &&
                policy_managed(&e->o.lim, c->has_enable ? c->enable : NULL)) {
                utf8_copy(blank.name, sizeof(blank.name), name);
                en = &blank;
            }
        }
        if (en) {
            doc = entry_json(en);
            json_object_set_new(doc, "dry_run", json_boolean(e->o.dry_run));
        }
    }
    pthread_mutex_unlock(&e->lock);
    if (doc) {
        text = json_dumps(doc, JSON_INDENT(2));
        json_decref(doc);
    }
    return text;
}

/* ---- healing entry points ---- */

engine_code engine_heal(struct engine *e, const struct engine_heal_req *req, struct engine_err *err)
{
    char qn[300];

    if (!req->container[0]) {
        set_err(err, ENGINE_E_INVALID, "empty container name");
        return ENGINE_E_INVALID;
    }
    pthread_mutex_lock(&e->lock);
    if (e->stopping) {
        pthread_mutex_unlock(&e->lock);
        set_err(err, ENGINE_E_STOPPED, "shutting down");
        return ENGINE_E_STOPPED;
    }
    struct entry *en = get_entry(e, req->container);
    if (!en) {
        pthread_mutex_unlock(&e->lock);
        set_err(err, ENGINE_E_FULL, "state table is full");
        return ENGINE_E_FULL;
    }
    struct heal_state *h = &en->h;
    h->up = false;
    if (h->maintenance) {
        pthread_mutex_unlock(&e->lock);
        metrics_heal(e->o.metrics, req->trigger, "maintenance", 0);
        log_info("not healed", "container=%s trigger=%s reason=maintenance",
                 quote(qn, sizeof(qn), req->container), req->trigger);
        return ENGINE_OK;
    }
    if (h->due_ms || h->queued) { /* one pending heal per container */
        h->operator_stop = h->operator_stop && req->operator_stop;
        pthread_mutex_unlock(&e->lock);
        return ENGINE_OK;
    }
    int64_t now = now_ms(e);
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
    utf8_copy(job.container, sizeof(job.container), req->container);
    if (delay == 0 && enqueue(e, OP_HEAL, &job) == ENGINE_OK) {
        h->queued = true;
    } else {
        h->due_ms = now + (delay ? delay : e->o.heal.first_ms);
        pthread_cond_broadcast(&e->timer_cond);
    }
    pthread_mutex_unlock(&e->lock);
    if (delay)
        log_info("heal delayed by the backoff",
                 "container=%s trigger=%s delay_ms=%" PRId64 " streak=%d",
                 quote(qn, sizeof(qn), req->container), req->trigger, delay, streak);
    return ENGINE_OK;
}

void engine_container_started(struct engine *e, const char *name)
{
    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, name);
    if (!en) {
        pthread_mutex_unlock(&e->lock);
        return;
    }
    en->h.up = true;
    en->h.up_since_ms = now_ms(e);
    if (en->h.operator_stopped) {
        en->h.operator_stopped = false;
        unlock_persist(e);
        return;
    }
    pthread_mutex_unlock(&e->lock);
}

void engine_container_destroyed(struct engine *e, const char *name)
{
    pthread_mutex_lock(&e->lock);
    if (!find_entry(e, name)) {
        pthread_mutex_unlock(&e->lock);
        return;
    }
    drop_entry(e, name);
    unlock_persist(e);
    char qn[300];
    log_info("container removed; state dropped", "container=%s", quote(qn, sizeof(qn), name));
}

/* Lock held: whether the cache knows name as a managed container. */
static bool cached_managed(struct engine *e, const char *name)
{
    for (size_t i = 0; i < e->n_cache; i++) {
        const struct engine_cached *c = &e->cache[i].c;
        if (strcmp(e->cache[i].name, name) == 0)
            return policy_managed(&e->o.lim, c->has_enable ? c->enable : NULL);
    }
    return false;
}

engine_code engine_set_maintenance(struct engine *e, const char *name, bool enabled,
                                   struct engine_err *err)
{
    char qn[300];

    pthread_mutex_lock(&e->lock);
    struct entry *en = find_entry(e, name);
    if (!en && cached_managed(e, name))
        en = get_entry(e, name);
    if (!en) {
        pthread_mutex_unlock(&e->lock);
        set_err(err, ENGINE_E_UNKNOWN, "no state for container %s (unknown or not managed)", name);
        return ENGINE_E_UNKNOWN;
    }
    bool was = en->h.maintenance;
    en->h.maintenance = enabled;
    if (enabled) {
        en->h.due_ms = 0; /* a delayed heal is cancelled */
        en->h.crashloop = false;
        en->h.streak = 0;
    }
    unlock_persist(e);
    if (was != enabled)
        log_info(enabled ? "maintenance on: no healing, no scaling" : "maintenance released",
                 "container=%s", quote(qn, sizeof(qn), name));
    if (was && !enabled) {
        struct engine_heal_req req = {.trigger = "reconcile", .exit_code = -1};
        utf8_copy(req.container, sizeof(req.container), name);
        engine_heal(e, &req, NULL);
    }
    return ENGINE_OK;
}
