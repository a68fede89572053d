/* test_engine.c: engine timing and decisions with an injected clock and an in-memory Docker.
 * The fake stands in for what the real daemon cannot be made to do on demand (a slow update, a
 * failing update, a clock that jumps); the same behaviours run against the real Docker Engine in
 * tests/integration/test_receiver_*.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "engine.h"
#include "ts_engine.h"
#include "log.h"
#include "store.h"

#define GIB (1024LL * 1024 * 1024)
#define MIB (1024LL * 1024)
#define T0 1800000000000LL

struct fake_ct {
    char name[64];
    char id[65];
    int64_t shares, memory, swap;
    bool running;
    const char *labels[6]; /* "k=v" */
    int update_delay_ms;
    int fail_update;
    bool gate;     /* updates block while set (a Docker call that hangs until the test says) */
    int64_t usage; /* memory in use, as one-shot stats report it */
    int fail_stats;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* gate opened, or an update blocked on a gate */
    struct fake_ct c[16];
    size_t n;
    int updates, starts, restarts, inspects;
    int blocked;          /* updates waiting at a gate */
    char applied[32][96]; /* "name cpu=N" / "name memory=N", in the order applied */
    size_t n_applied;
} fk = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static struct fake_ct *fake_find(const char *name)
{
    for (size_t i = 0; i < fk.n; i++) {
        if (strcmp(fk.c[i].name, name) == 0 || strcmp(fk.c[i].id, name) == 0)
            return &fk.c[i];
    }
    return NULL;
}

static struct fake_ct *fake_add(const char *name, int64_t shares, int64_t memory, bool managed)
{
    struct fake_ct *c = &fk.c[fk.n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    snprintf(c->id, sizeof(c->id), "id-%s", name);
    c->shares = shares;
    c->memory = memory;
    c->swap = memory ? 2 * memory : 0;
    c->running = true;
    c->labels[0] = managed ? "trip.enable=true" : "other=1";
    return c;
}

static docker_code f_inspect(void *ud, const char *name, struct docker_container *out,
                             struct docker_err *err)
{
    (void)ud;
    pthread_mutex_lock(&fk.lock);
    fk.inspects++;
    struct fake_ct *c = fake_find(name);
    if (!c) {
        pthread_mutex_unlock(&fk.lock);
        err->code = DOCKER_E_NOT_FOUND;
        snprintf(err->msg, sizeof(err->msg), "inspect %s: No such container: %s", name, name);
        return DOCKER_E_NOT_FOUND;
    }
    snprintf(out->id, sizeof(out->id), "%s", c->id);
    snprintf(out->name, sizeof(out->name), "%s", c->name);
    snprintf(out->status, sizeof(out->status), "%s", c->running ? "running" : "exited");
    out->running = c->running;
    out->res.cpu_shares = c->shares;
    out->res.memory = c->memory;
    out->res.memory_swap = c->swap;
    size_t n = 0;
    while (n < 6 && c->labels[n])
        n++;
    out->labels.v = calloc(n + 1, sizeof(*out->labels.v));
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(c->labels[i], '=');
        out->labels.v[i].key = strndup(c->labels[i], (size_t)(eq - c->labels[i]));
        out->labels.v[i].value = strdup(eq + 1);
    }
    out->labels.n = n;
    pthread_mutex_unlock(&fk.lock);
    return DOCKER_OK;
}

static docker_code f_update(void *ud, const char *id, const struct docker_update *u,
                            struct docker_err *err)
{
    (void)ud;
    pthread_mutex_lock(&fk.lock);
    struct fake_ct *c = fake_find(id);
    int delay = c ? c->update_delay_ms : 0;
    pthread_mutex_unlock(&fk.lock);
    if (delay)
        usleep((useconds_t)delay * 1000);
    pthread_mutex_lock(&fk.lock);
    if (c && c->gate) {
        fk.blocked++;
        pthread_cond_broadcast(&fk.cond);
        while (c->gate)
            pthread_cond_wait(&fk.cond, &fk.lock);
        fk.blocked--;
    }
    fk.updates++;
    if (c && c->fail_update) {
        pthread_mutex_unlock(&fk.lock);
        err->code = DOCKER_E_BAD_REQUEST;
        snprintf(err->msg, sizeof(err->msg),
                 "update %s: Memory limit should be smaller than already set memoryswap limit", id);
        return DOCKER_E_BAD_REQUEST;
    }
    if (u->has_cpu_shares)
        c->shares = u->cpu_shares;
    if (u->has_memory)
        c->memory = u->memory;
    if (u->has_memory_swap)
        c->swap = u->memory_swap;
    if (fk.n_applied < 32)
        snprintf(fk.applied[fk.n_applied++], sizeof(fk.applied[0]), "%s %s=%lld", c->name,
                 u->has_cpu_shares ? "cpu" : "memory",
                 (long long)(u->has_cpu_shares ? u->cpu_shares : u->memory));
    pthread_mutex_unlock(&fk.lock);
    return DOCKER_OK;
}

static docker_code f_start(void *ud, const char *id, struct docker_err *err)
{
    (void)ud;
    (void)err;
    pthread_mutex_lock(&fk.lock);
    fk.starts++;
    fake_find(id)->running = true;
    pthread_mutex_unlock(&fk.lock);
    return DOCKER_OK;
}

static docker_code f_restart(void *ud, const char *id, struct docker_err *err)
{
    (void)ud;
    (void)id;
    (void)err;
    pthread_mutex_lock(&fk.lock);
    fk.restarts++;
    pthread_mutex_unlock(&fk.lock);
    return DOCKER_OK;
}

static docker_code f_list(void *ud, struct docker_summary_list *out, struct docker_err *err)
{
    (void)ud;
    (void)err;
    out->v = NULL;
    out->n = 0;
    return DOCKER_OK;
}

static docker_code f_stats(void *ud, const char *id, struct docker_stats *out,
                           struct docker_err *err)
{
    (void)ud;
    pthread_mutex_lock(&fk.lock);
    struct fake_ct *c = fake_find(id);
    if (!c || c->fail_stats) {
        pthread_mutex_unlock(&fk.lock);
        err->code = DOCKER_E_TRANSPORT;
        snprintf(err->msg, sizeof(err->msg), "stats %s: connection reset", id);
        return DOCKER_E_TRANSPORT;
    }
    memset(out, 0, sizeof(*out));
    out->memory_usage = (uint64_t)c->usage;
    out->memory_limit = (uint64_t)c->memory;
    pthread_mutex_unlock(&fk.lock);
    return DOCKER_OK;
}

static const struct engine_docker_ops fake_ops = {
    f_inspect, f_update, f_start, f_restart, f_list,
    f_stats,   NULL,     NULL,    NULL}; /* no Swarm: test_engine_service.c */

static struct engine_opts base_opts(void)
{
    struct engine_opts o = {
        .lim = {.cpu_shares = 1024,
                .max_cpu_shares = 4096,
                .memory = 2 * GIB,
                .max_memory = 16 * GIB,
                .scale_duration_ms = 300000,
                .min_duration_ms = 1000,
                .max_duration_ms = 86400000,
                .heal = true},
        .max_hold_ms = 3600000,
        .workers = 4,
        .ops = &fake_ops,
        .clock = ts_engine_clock,
    };
    return o;
}

static int setup(void **state)
{
    (void)state;
    pthread_mutex_lock(&fk.lock);
    fk.n = 0;
    fk.updates = fk.starts = fk.restarts = fk.inspects = 0;
    fk.blocked = 0;
    fk.n_applied = 0;
    pthread_mutex_unlock(&fk.lock);
    ts_engine_clock_set(T0);
    return 0;
}

static void alert(struct engine *e, const char *name, enum policy_kind kind, enum policy_resource r,
                  const char *fp)
{
    struct engine_job j = {.kind = kind, .resource = r, .from_alert = true};
    snprintf(j.container, sizeof(j.container), "%s", name);
    snprintf(j.fingerprint, sizeof(j.fingerprint), "%s", fp);
    snprintf(j.alertname, sizeof(j.alertname), "%s",
             r == POLICY_CPU ? "ContainerHighCpu" : "ContainerHighMemory");
    assert_int_equal(engine_submit(e, &j, NULL), ENGINE_OK);
}

static int64_t shares_of(const char *name)
{
    pthread_mutex_lock(&fk.lock);
    int64_t v = fake_find(name)->shares;
    pthread_mutex_unlock(&fk.lock);
    return v;
}

static int updates(void)
{
    pthread_mutex_lock(&fk.lock);
    int v = fk.updates;
    pthread_mutex_unlock(&fk.lock);
    return v;
}

static void scale_in_waits_for_deadline_and_resolve(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    fake_add("user", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    assert_int_equal(shares_of("user"), 1024);
    assert_int_equal(updates(), 1);
    ts_engine_advance(e, 299000); /* before the deadline */
    assert_int_equal(shares_of("user"), 1024);
    ts_engine_advance(e, 2000); /* deadline passed, but the alert still fires */
    assert_int_equal(shares_of("user"), 1024);
    alert(e, "user", POLICY_RESOLVE, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    assert_int_equal(shares_of("user"), 512); /* resolved after the deadline: at once */
    assert_int_equal(updates(), 2);
    engine_free(e);
}

static void resolved_early_scales_in_at_deadline(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    fake_add("c300", 300, GIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "c300", POLICY_SCALE_OUT, POLICY_CPU, "fp");
    engine_wait_idle(e);
    alert(e, "c300", POLICY_RESOLVE, POLICY_CPU, "fp");
    engine_wait_idle(e);
    assert_int_equal(shares_of("c300"), 1024);
    ts_engine_advance(e, 299999);
    assert_int_equal(shares_of("c300"), 1024);
    ts_engine_advance(e, 1);
    assert_int_equal(shares_of("c300"), 300); /* the inspected baseline, not 512 */
    engine_free(e);
}

static void repeated_firing_extends_and_never_reapplies(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    fake_add("user", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    for (int i = 0; i < 100; i++)
        alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    assert_int_equal(updates(), 1);
    ts_engine_advance(e, 200000);
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1"); /* repeat: deadline now T0+200s+300s */
    alert(e, "user", POLICY_RESOLVE, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    ts_engine_advance(e, 200000); /* T0+400s: past the first deadline, before the extended one */
    assert_int_equal(shares_of("user"), 1024);
    assert_int_equal(updates(), 1);
    ts_engine_advance(e, 100000);
    assert_int_equal(shares_of("user"), 512);
    assert_int_equal(updates(), 2);
    engine_free(e);
}

static void max_hold_scales_in_without_resolve(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    o.max_hold_ms = 600000;
    fake_add("user", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    ts_engine_advance(e, 599999);
    assert_int_equal(shares_of("user"), 1024);
    ts_engine_advance(e, 1);
    assert_int_equal(shares_of("user"), 512);
    engine_free(e);
}

static void memory_round_trip_keeps_swap_consistent(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    struct fake_ct *c = fake_add("db", 512, 256 * MIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "db", POLICY_SCALE_OUT, POLICY_MEMORY, "m1");
    engine_wait_idle(e);
    pthread_mutex_lock(&fk.lock);
    assert_int_equal(c->memory, 2 * GIB);
    assert_int_equal(c->swap, 4 * GIB);
    pthread_mutex_unlock(&fk.lock);
    alert(e, "db", POLICY_RESOLVE, POLICY_MEMORY, "m1");
    ts_engine_advance(e, 300000);
    pthread_mutex_lock(&fk.lock);
    assert_int_equal(c->memory, 256 * MIB);
    assert_int_equal(c->swap, 512 * MIB);
    pthread_mutex_unlock(&fk.lock);
    engine_free(e);
}

static void hand_changed_resources_drop_the_claim(void **state)
{
    struct engine_opts o = base_opts();
    struct ts_waiter w;
    (void)state;
    struct fake_ct *c = fake_add("user", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    alert(e, "user", POLICY_RESOLVE, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    pthread_mutex_lock(&fk.lock);
    c->shares = 700; /* an operator's docker update */
    pthread_mutex_unlock(&fk.lock);
    ts_engine_advance(e, 300000);
    assert_int_equal(shares_of("user"), 700);
    assert_int_equal(updates(), 1);
    ts_engine_manual(e, &w, POLICY_SCALE_IN, POLICY_CPU, "user", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 200);
    assert_non_null(strstr(w.body, "\"result\":\"unchanged\""));
    char *s = engine_state_json(e, "user");
    assert_non_null(strstr(s, "\"last_action\""));
    assert_non_null(strstr(s, "\"result\": \"claim_dropped\""));
    free(s);
    engine_free(e);
}

/* Waits for the reply up to ms; false when none came (the test then fails, it never hangs). */
static bool wait_reply_for(struct ts_waiter *w, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    while (w->status < 0 && pthread_cond_timedwait(&w->cond, &w->lock, &ts) == 0)
        ;
    bool got = w->status >= 0;
    pthread_mutex_unlock(&w->lock);
    return got;
}

/* Updates of c block from now on, until open_gate(c). */
static void block_updates_of(struct fake_ct *c)
{
    pthread_mutex_lock(&fk.lock);
    c->gate = true;
    pthread_mutex_unlock(&fk.lock);
}

/* Waits until an update is stuck at a gate (its job is in flight). */
static void wait_blocked(void)
{
    pthread_mutex_lock(&fk.lock);
    while (fk.blocked == 0)
        pthread_cond_wait(&fk.cond, &fk.lock);
    pthread_mutex_unlock(&fk.lock);
}

static void open_gate(struct fake_ct *c)
{
    pthread_mutex_lock(&fk.lock);
    c->gate = false;
    pthread_cond_broadcast(&fk.cond);
    pthread_mutex_unlock(&fk.lock);
}

/* The placement the engine used to have (FNV-1a of the name % workers): names it put on the
 * same worker as another container are the ones a per-worker queue would have stalled. */
static size_t former_worker(const char *name, size_t workers)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = name; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    return (size_t)(h % workers);
}

static void slow_container_holds_one_worker_only(void **state)
{
    struct engine_opts o = base_opts();
    struct ts_waiter a1, a2, a3, others[6];
    char names[6][32];
    size_t n_same = 0;
    (void)state;
    o.workers = 2;
    struct fake_ct *slow = fake_add("slow", 512, GIB, true);
    /* six other containers, at least three of which the hash placed with "slow" */
    for (int i = 0, k = 0; k < 6; i++) {
        char name[32];
        snprintf(name, sizeof(name), "svc%d", i);
        bool same = former_worker(name, 2) == former_worker("slow", 2);
        if (same ? n_same == 3 : (size_t)k - n_same == 3)
            continue;
        n_same += same;
        snprintf(names[k++], sizeof(names[0]), "%s", name);
        fake_add(name, 512, GIB, true);
    }
    assert_int_equal(n_same, 3);
    block_updates_of(slow);
    struct engine *e = ts_engine_start(&o);
    ts_engine_manual(e, &a1, POLICY_SCALE_OUT, POLICY_CPU, "slow", "1m", false);
    wait_blocked(); /* a1 holds one of the two workers until the gate opens */
    ts_engine_manual(e, &a2, POLICY_SCALE_OUT, POLICY_MEMORY, "slow", "1m", false);
    ts_engine_manual(e, &a3, POLICY_SCALE_IN, POLICY_CPU, "slow", NULL, true);
    for (int k = 0; k < 6; k++)
        ts_engine_manual(e, &others[k], POLICY_SCALE_OUT, POLICY_CPU, names[k], "1m", false);
    for (int k = 0; k < 6; k++) {
        assert_true(wait_reply_for(&others[k], 10000)); /* while "slow" is still blocked */
        assert_int_equal(others[k].status, 200);
        assert_int_equal(shares_of(names[k]), 1024);
    }
    assert_int_equal(a1.status, -1); /* nothing of "slow" ran past its first job */
    assert_int_equal(a2.status, -1);
    assert_int_equal(a3.status, -1);
    open_gate(slow);
    ts_waiter_wait(&a1);
    ts_waiter_wait(&a2);
    ts_waiter_wait(&a3);
    assert_int_equal(a1.status, 200);
    assert_int_equal(a2.status, 200);
    assert_int_equal(a3.status, 200);
    engine_wait_idle(e);
    /* the slow container's jobs ran one after another, in the order submitted */
    pthread_mutex_lock(&fk.lock);
    size_t seen = 0;
    const char *want[] = {"slow cpu=1024", "slow memory=2147483648", "slow cpu=512"};
    for (size_t i = 0; i < fk.n_applied; i++) {
        if (strncmp(fk.applied[i], "slow ", 5) == 0) {
            assert_true(seen < 3);
            assert_string_equal(fk.applied[i], want[seen]);
            seen++;
        }
    }
    pthread_mutex_unlock(&fk.lock);
    assert_int_equal(seen, 3);
    assert_true(a1.done_mono_ms <= a2.done_mono_ms);
    assert_true(a2.done_mono_ms <= a3.done_mono_ms);
    engine_free(e);
}

static void alert_flood_is_merged_not_queued(void **state)
{
    struct engine_opts o = base_opts();
    struct ts_waiter m1, m2;
    (void)state;
    o.workers = 2; /* default queue: 2048 jobs */
    struct fake_ct *c = fake_add("user", 512, GIB, true);
    block_updates_of(c);
    struct engine *e = ts_engine_start(&o);
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    wait_blocked();
    for (int i = 0; i < 10000; i++) { /* alert() asserts ENGINE_OK: never ENGINE_E_FULL */
        alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
        alert(e, "user", POLICY_SCALE_OUT, POLICY_MEMORY, "fp2");
    }
    /* manual calls are never merged: each gets its own answer */
    ts_engine_manual(e, &m1, POLICY_SCALE_OUT, POLICY_CPU, "user", NULL, false);
    ts_engine_manual(e, &m2, POLICY_SCALE_OUT, POLICY_CPU, "user", NULL, false);
    open_gate(c);
    ts_waiter_wait(&m1);
    ts_waiter_wait(&m2);
    engine_wait_idle(e);
    assert_int_equal(m1.status, 200);
    assert_int_equal(m2.status, 200);
    assert_non_null(strstr(m2.body, "\"result\":\"extended\""));
    assert_int_equal(updates(), 2); /* one CPU and one memory scale-out, nothing re-applied */
    assert_int_equal(shares_of("user"), 1024);
    pthread_mutex_lock(&fk.lock);
    assert_int_equal(c->memory, 2 * GIB);
    pthread_mutex_unlock(&fk.lock);
    engine_free(e);
}

static void repeat_after_a_resolve_is_not_merged_across_it(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    struct fake_ct *c = fake_add("user", 512, GIB, true);
    block_updates_of(c);
    struct engine *e = ts_engine_start(&o);
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    wait_blocked();
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    alert(e, "user", POLICY_RESOLVE, POLICY_CPU, "fp1");
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1"); /* fires again after the resolve */
    open_gate(c);
    engine_wait_idle(e);
    ts_engine_advance(e, 300000); /* deadline passed: the alert still fires, so no scale-in */
    assert_int_equal(shares_of("user"), 1024);
    alert(e, "user", POLICY_RESOLVE, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    assert_int_equal(shares_of("user"), 512);
    assert_int_equal(updates(), 2);
    engine_free(e);
}

static void restart_starts_stopped_and_leaves_running(void **state)
{
    struct engine_opts o = base_opts();
    struct ts_waiter w;
    (void)state;
    struct fake_ct *c = fake_add("web", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    ts_engine_manual(e, &w, POLICY_RESTART, POLICY_CPU, "web", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 200);
    assert_non_null(strstr(w.body, "\"result\":\"unchanged\""));
    assert_int_equal(fk.starts + fk.restarts, 0);
    ts_engine_manual(e, &w, POLICY_RESTART, POLICY_CPU, "web", NULL, true);
    ts_waiter_wait(&w);
    assert_non_null(strstr(w.body, "\"result\":\"ok\""));
    assert_int_equal(fk.restarts, 1);
    pthread_mutex_lock(&fk.lock);
    c->running = false;
    pthread_mutex_unlock(&fk.lock);
    alert(e, "web", POLICY_RESTART, POLICY_CPU, "down");
    engine_wait_idle(e);
    assert_int_equal(fk.starts, 1);
    assert_true(c->running);
    engine_free(e);
}

static void manual_errors_carry_status_codes(void **state)
{
    struct engine_opts o = base_opts();
    struct ts_waiter w;
    (void)state;
    fake_add("free", 512, GIB, false);
    struct fake_ct *big = fake_add("big", 512, GIB, true);
    big->labels[1] = "trip.cpu-shares=100000";
    struct fake_ct *bad = fake_add("bad", 512, GIB, true);
    bad->fail_update = 1;
    struct engine *e = ts_engine_start(&o);
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, "free", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 403);
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, "ghost", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 404);
    assert_non_null(strstr(w.body, "no such container"));
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, "big", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 422);
    assert_non_null(strstr(w.body, "trip.cpu-shares=100000 is outside [2, 4096]"));
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_MEMORY, "bad", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 502);
    assert_non_null(strstr(w.body, "memoryswap"));
    char *s = engine_state_json(e, "bad");
    assert_non_null(s); /* the write-ahead claim was withdrawn when the update failed */
    assert_null(strstr(s, "\"scaled_out\": true"));
    assert_non_null(strstr(s, "\"result\": \"error\""));
    free(s);
    engine_free(e);
}

static void failed_scale_in_is_retried_later(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    struct fake_ct *c = fake_add("flaky", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "flaky", POLICY_SCALE_OUT, POLICY_CPU, "fp");
    alert(e, "flaky", POLICY_RESOLVE, POLICY_CPU, "fp");
    engine_wait_idle(e);
    pthread_mutex_lock(&fk.lock);
    c->fail_update = 1;
    pthread_mutex_unlock(&fk.lock);
    ts_engine_advance(e, 300000); /* due: the update fails */
    assert_int_equal(updates(), 2);
    ts_engine_advance(e, 1000); /* next ticks do not hammer Docker */
    ts_engine_advance(e, 1000);
    assert_int_equal(updates(), 2);
    pthread_mutex_lock(&fk.lock);
    c->fail_update = 0;
    pthread_mutex_unlock(&fk.lock);
    ts_engine_advance(e, 3000); /* 5 s after the failure: tried again */
    assert_int_equal(updates(), 3);
    assert_int_equal(shares_of("flaky"), 512);
    engine_free(e);
}

static int64_t memory_of(struct fake_ct *c)
{
    pthread_mutex_lock(&fk.lock);
    int64_t v = c->memory;
    pthread_mutex_unlock(&fk.lock);
    return v;
}

static void set_usage(struct fake_ct *c, int64_t usage, int fail_stats)
{
    pthread_mutex_lock(&fk.lock);
    c->usage = usage;
    c->fail_stats = fail_stats;
    pthread_mutex_unlock(&fk.lock);
}

/* The workload grew into the scaled-out memory: shrinking to the baseline would OOM-kill it, or
 * make the memory rule fire again, so scale-in waits (shown in the state) and is tried again until
 * the working set fits under 50 % of the baseline, even past --max-hold; unreadable usage
 * postpones too. */
static void memory_scale_in_waits_while_usage_is_above_baseline(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    o.max_hold_ms = 300000; /* the alert never resolves: --max-hold makes it due */
    struct fake_ct *c = fake_add("db", 512, 256 * MIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "db", POLICY_SCALE_OUT, POLICY_MEMORY, "m1");
    engine_wait_idle(e);
    assert_int_equal(memory_of(c), 2 * GIB);
    set_usage(c, 300 * MIB, 0);
    ts_engine_advance(e, 300000); /* due, but 300 MiB in use */
    assert_int_equal(memory_of(c), 2 * GIB);
    assert_int_equal(updates(), 1);
    char *js = engine_state_json(e, "db");
    assert_non_null(js);
    assert_non_null(strstr(js, "\"postponed\""));
    assert_non_null(strstr(js, "above 50% of the baseline"));
    free(js);
    set_usage(c, 240 * MIB, 0); /* 240 MiB > 90 % of 256 MiB: still too close */
    ts_engine_advance(e, 5000);
    assert_int_equal(memory_of(c), 2 * GIB);
    set_usage(c, 150 * MIB, 0); /* 59 %: fits, but above the 50 % margin the rules need (60 %) */
    ts_engine_advance(e, 5000);
    assert_int_equal(memory_of(c), 2 * GIB);
    set_usage(c, 100 * MIB, 1); /* usage unknown: postponed as well */
    ts_engine_advance(e, 5000);
    assert_int_equal(memory_of(c), 2 * GIB);
    set_usage(c, 300 * MIB, 0);
    ts_engine_advance(e, 5000);
    ts_engine_advance(e, 5000);
    assert_int_equal(memory_of(c), 2 * GIB);
    assert_int_equal(updates(), 1);
    set_usage(c, 100 * MIB, 0); /* released: the next retry scales in */
    ts_engine_advance(e, 1000);
    ts_engine_advance(e, 5000);
    assert_int_equal(memory_of(c), 256 * MIB);
    assert_int_equal(updates(), 2);
    js = engine_state_json(e, "db");
    assert_non_null(strstr(js, "\"ok\""));
    free(js);
    engine_free(e);
}

static void dry_run_changes_nothing_but_reports(void **state)
{
    struct engine_opts o = base_opts();
    struct ts_waiter w;
    (void)state;
    o.dry_run = true;
    fake_add("user", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, "user", "20s", false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 200);
    assert_non_null(strstr(w.body, "\"result\":\"dry_run\""));
    assert_non_null(strstr(w.body, "\"scaled_out\":true"));
    assert_int_equal(updates(), 0);
    ts_engine_advance(e, 20000);
    assert_int_equal(updates(), 0);
    assert_int_equal(shares_of("user"), 512);
    engine_free(e);
}

static void state_survives_restart_and_overdue_scales_in(void **state)
{
    char dir[] = "/tmp/trip-engine-XXXXXX";
    struct engine_opts o = base_opts();
    (void)state;
    assert_non_null(mkdtemp(dir));
    o.store = store_new(dir, NULL);
    fake_add("user", 300, GIB, true);
    fake_add("gone", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    alert(e, "gone", POLICY_SCALE_OUT, POLICY_CPU, "fp2");
    alert(e, "user", POLICY_RESOLVE, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    engine_free(e); /* the table is on disk */
    fk.n = 1;       /* "gone" was removed while the receiver was down */
    ts_engine_clock_set(ts_engine_clock(NULL) + 400000);
    e = ts_engine_start(&o);
    engine_wait_idle(e);
    engine_tick(e);
    engine_wait_idle(e);
    assert_int_equal(shares_of("user"), 300);
    char *s = engine_state_json(e, NULL);
    assert_null(strstr(s, "\"gone\""));
    free(s);
    engine_free(e);
    char path[64];
    snprintf(path, sizeof(path), "%s/state.json", dir);
    unlink(path);
    rmdir(dir);
    store_free(o.store);
}

/* Found by fuzzing: a last error cut inside a character made the container vanish from the API
 * and from every later save. */
static void multibyte_text_in_the_state_file_survives_a_reload(void **state)
{
    char dir[] = "/tmp/trip-engine-XXXXXX", path[64], err[512] = "";
    struct engine_opts o = base_opts();
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state.json", dir);
    for (int i = 0; i < 200; i++)
        strcat(err, "\xc3\xa9");
    json_t *doc =
        json_pack("{s:i, s:[{s:s, s:s, s:{s:b, s:I, s:I, s:I, s:I}, s:{s:s, s:s, s:s}}]}",
                  "version", 1, "containers", "name", "web", "id", "id-web", "cpu", "scaled_out", 1,
                  "baseline", (json_int_t)512, "applied", (json_int_t)1024, "deadline_ms",
                  (json_int_t)(T0 + 60000), "since_ms", (json_int_t)T0, "last_action", "action",
                  "scale_out_cpu", "result", "error", "error", err);
    assert_non_null(doc);
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
    o.store = store_new(dir, NULL);
    fake_add("web", 1024, GIB, true);
    struct engine *e = ts_engine_start(&o);
    engine_wait_idle(e);
    char *s = engine_state_json(e, "web");
    assert_non_null(s);
    assert_non_null(strstr(s, "\"scaled_out\": true"));
    free(s);
    s = engine_state_json(e, NULL);
    assert_non_null(strstr(s, "\"name\": \"web\""));
    free(s);
    engine_free(e); /* saves again */
    json_error_t jerr;
    doc = json_load_file(path, 0, &jerr);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "containers")), 1);
    json_decref(doc);
    unlink(path);
    rmdir(dir);
    store_free(o.store);
}

int main(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(scale_in_waits_for_deadline_and_resolve, setup),
        cmocka_unit_test_setup(resolved_early_scales_in_at_deadline, setup),
        cmocka_unit_test_setup(repeated_firing_extends_and_never_reapplies, setup),
        cmocka_unit_test_setup(max_hold_scales_in_without_resolve, setup),
        cmocka_unit_test_setup(memory_round_trip_keeps_swap_consistent, setup),
        cmocka_unit_test_setup(hand_changed_resources_drop_the_claim, setup),
        cmocka_unit_test_setup(slow_container_holds_one_worker_only, setup),
        cmocka_unit_test_setup(alert_flood_is_merged_not_queued, setup),
        cmocka_unit_test_setup(repeat_after_a_resolve_is_not_merged_across_it, setup),
        cmocka_unit_test_setup(restart_starts_stopped_and_leaves_running, setup),
        cmocka_unit_test_setup(manual_errors_carry_status_codes, setup),
        cmocka_unit_test_setup(failed_scale_in_is_retried_later, setup),
        cmocka_unit_test_setup(memory_scale_in_waits_while_usage_is_above_baseline, setup),
        cmocka_unit_test_setup(dry_run_changes_nothing_but_reports, setup),
        cmocka_unit_test_setup(state_survives_restart_and_overdue_scales_in, setup),
        cmocka_unit_test_setup(multibyte_text_in_the_state_file_survives_a_reload, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
