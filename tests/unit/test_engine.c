/* test_engine.c: engine timing and decisions with an injected clock and the shared in-memory
 * Docker (tests/support/ts_fakedocker.h), which stands in for what the real daemon cannot be made
 * to do on demand (a slow update, a failing update, a clock that jumps); the same behaviours run
 * against the real Docker Engine in tests/integration/test_receiver_*.c. */
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
#include "ts_common.h"
#include "ts_docker.h"
#include "ts_engine.h"
#include "ts_fakedocker.h"
#include "log.h"
#include "prom.h"
#include "store.h"

#define GIB (1024LL * 1024 * 1024)
#define MIB (1024LL * 1024)
#define T0 TS_T0

static struct engine_opts base_opts(void)
{
    return ts_engine_opts(&ts_fake_ops_containers, 4);
}

static void alert(struct engine *e, const char *name, enum policy_kind kind, enum policy_resource r,
                  const char *fp)
{
    ts_engine_alert(e, name, kind, r, fp,
                    r == POLICY_CPU ? "ContainerHighCpu" : "ContainerHighMemory");
}

static int updates(void)
{
    pthread_mutex_lock(&ts_fk.lock);
    int v = ts_fk.updates;
    pthread_mutex_unlock(&ts_fk.lock);
    return v;
}

static void scale_in_waits_for_deadline_and_resolve(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    ts_fake_add("user", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    assert_int_equal(ts_fake_shares("user"), 1024);
    assert_int_equal(updates(), 1);
    ts_engine_advance(e, 299000); /* before the deadline */
    assert_int_equal(ts_fake_shares("user"), 1024);
    ts_engine_advance(e, 2000); /* deadline passed, but the alert still fires */
    assert_int_equal(ts_fake_shares("user"), 1024);
    alert(e, "user", POLICY_RESOLVE, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    assert_int_equal(ts_fake_shares("user"), 512); /* resolved after the deadline: at once */
    assert_int_equal(updates(), 2);
    engine_free(e);
}

static void resolved_early_scales_in_at_deadline(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    ts_fake_add("c300", 300, GIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "c300", POLICY_SCALE_OUT, POLICY_CPU, "fp");
    engine_wait_idle(e);
    alert(e, "c300", POLICY_RESOLVE, POLICY_CPU, "fp");
    engine_wait_idle(e);
    assert_int_equal(ts_fake_shares("c300"), 1024);
    ts_engine_advance(e, 299999);
    assert_int_equal(ts_fake_shares("c300"), 1024);
    ts_engine_advance(e, 1);
    assert_int_equal(ts_fake_shares("c300"), 300); /* the inspected baseline, not 512 */
    engine_free(e);
}

static void repeated_firing_extends_and_never_reapplies(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    ts_fake_add("user", 512, GIB, true);
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
    assert_int_equal(ts_fake_shares("user"), 1024);
    assert_int_equal(updates(), 1);
    ts_engine_advance(e, 100000);
    assert_int_equal(ts_fake_shares("user"), 512);
    assert_int_equal(updates(), 2);
    engine_free(e);
}

static void max_hold_scales_in_without_resolve(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    o.max_hold_ms = 600000;
    ts_fake_add("user", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    ts_engine_advance(e, 599999);
    assert_int_equal(ts_fake_shares("user"), 1024);
    ts_engine_advance(e, 1);
    assert_int_equal(ts_fake_shares("user"), 512);
    engine_free(e);
}

static void memory_round_trip_keeps_swap_consistent(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    struct ts_fake_ct *c = ts_fake_add("db", 512, 256 * MIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "db", POLICY_SCALE_OUT, POLICY_MEMORY, "m1");
    engine_wait_idle(e);
    pthread_mutex_lock(&ts_fk.lock);
    assert_int_equal(c->memory, 2 * GIB);
    assert_int_equal(c->swap, 4 * GIB);
    pthread_mutex_unlock(&ts_fk.lock);
    alert(e, "db", POLICY_RESOLVE, POLICY_MEMORY, "m1");
    ts_engine_advance(e, 300000);
    pthread_mutex_lock(&ts_fk.lock);
    assert_int_equal(c->memory, 256 * MIB);
    assert_int_equal(c->swap, 512 * MIB);
    pthread_mutex_unlock(&ts_fk.lock);
    engine_free(e);
}

/* The count of trip_action_phase_seconds{phase} in the exposition text, -1 when absent. */
static long phase_count(struct metrics *m, const char *phase)
{
    char *text = metrics_render(m, NULL, "test");
    char needle[96];
    long n = -1;

    snprintf(needle, sizeof(needle), "trip_action_phase_seconds_count{phase=\"%s\"} ", phase);
    const char *at = text ? strstr(text, needle) : NULL;
    if (at)
        n = strtol(at + strlen(needle), NULL, 10);
    free(text);
    return n;
}

/* A scale-out and its scale-in each count every phase once: the queue wait, the inspect, the
 * write-ahead claim's save (scale-out only), the Docker call, the final save. */
static void action_phases_are_timed(void **state)
{
    struct engine_opts o = base_opts();
    struct metrics *m = metrics_new();
    (void)state;
    assert_non_null(m);
    o.metrics = m;
    ts_fake_add("user", 512, 0, true);
    struct engine *e = ts_engine_start(&o);
    assert_int_equal(phase_count(m, "queue"), -1);
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "c1");
    engine_wait_idle(e);
    assert_int_equal(phase_count(m, "queue"), 1);
    assert_int_equal(phase_count(m, "inspect"), 1);
    assert_int_equal(phase_count(m, "claim_save"), 1);
    assert_int_equal(phase_count(m, "docker"), 1);
    assert_int_equal(phase_count(m, "final_save"), 1);
    alert(e, "user", POLICY_RESOLVE, POLICY_CPU, "c1");
    ts_engine_advance(e, 300000);
    engine_wait_idle(e);
    assert_int_equal(ts_fake_shares("user"), 512);
    assert_true(phase_count(m, "queue") >= 2);
    assert_int_equal(phase_count(m, "claim_save"), 1);
    assert_int_equal(phase_count(m, "docker"), 2);
    assert_int_equal(phase_count(m, "final_save"), 2);
    engine_free(e);
    metrics_free(m);
}

static void hand_changed_resources_drop_the_claim(void **state)
{
    struct engine_opts o = base_opts();
    struct ts_waiter w;
    (void)state;
    struct ts_fake_ct *c = ts_fake_add("user", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    alert(e, "user", POLICY_RESOLVE, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    pthread_mutex_lock(&ts_fk.lock);
    c->shares = 700; /* an operator's docker update */
    pthread_mutex_unlock(&ts_fk.lock);
    ts_engine_advance(e, 300000);
    assert_int_equal(ts_fake_shares("user"), 700);
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
static void block_updates_of(struct ts_fake_ct *c)
{
    pthread_mutex_lock(&ts_fk.lock);
    c->gate = true;
    pthread_mutex_unlock(&ts_fk.lock);
}

/* Waits until an update is stuck at a gate (its job is in flight). */
static void wait_blocked(void)
{
    pthread_mutex_lock(&ts_fk.lock);
    while (ts_fk.blocked == 0)
        pthread_cond_wait(&ts_fk.cond, &ts_fk.lock);
    pthread_mutex_unlock(&ts_fk.lock);
}

static void open_gate(struct ts_fake_ct *c)
{
    pthread_mutex_lock(&ts_fk.lock);
    c->gate = false;
    pthread_cond_broadcast(&ts_fk.cond);
    pthread_mutex_unlock(&ts_fk.lock);
}

/* The queue holds queue_max jobs in all (ENGINE_E_FULL beyond), and a job's slot is used again
 * once it ran: the pool is handed out in order, never-used slots after released ones. */
static void queue_holds_queue_max_jobs_and_reuses_slots(void **state)
{
    struct engine_opts o = base_opts();
    struct engine_err err = {0};
    (void)state;
    o.workers = 1;
    o.queue_max = 4;
    ts_fake_add("user", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    for (int round = 0; round < 3; round++) {
        /* the one worker held by a scale-out stuck in Docker; its own slot is free again */
        char slow_name[32];
        struct ts_waiter w;
        snprintf(slow_name, sizeof(slow_name), "slow%d", round);
        struct ts_fake_ct *slow = ts_fake_add(slow_name, 512, GIB, true);
        block_updates_of(slow);
        ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, slow_name, "1m", false);
        wait_blocked();
        for (int i = 0; i <= 4; i++) {
            struct engine_job job = {.kind = POLICY_RESTART};
            snprintf(job.container, sizeof(job.container), "user");
            snprintf(job.fingerprint, sizeof(job.fingerprint), "r%d-%d", round, i);
            assert_int_equal(engine_submit(e, &job, &err), i < 4 ? ENGINE_OK : ENGINE_E_FULL);
        }
        open_gate(slow);
        ts_waiter_wait(&w);
        engine_wait_idle(e);
    }
    engine_free(e);
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
    struct ts_fake_ct *slow = ts_fake_add("slow", 512, GIB, true);
    /* six other containers, at least three of which the hash placed with "slow" */
    for (int i = 0, k = 0; k < 6; i++) {
        char name[32];
        snprintf(name, sizeof(name), "svc%d", i);
        bool same = former_worker(name, 2) == former_worker("slow", 2);
        if (same ? n_same == 3 : (size_t)k - n_same == 3)
            continue;
        n_same += same;
        snprintf(names[k++], sizeof(names[0]), "%s", name);
        ts_fake_add(name, 512, GIB, true);
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
        assert_int_equal(ts_fake_shares(names[k]), 1024);
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
    pthread_mutex_lock(&ts_fk.lock);
    size_t seen = 0;
    const char *want[] = {"slow cpu=1024", "slow memory=2147483648", "slow cpu=512"};
    for (size_t i = 0; i < ts_fk.n_applied; i++) {
        if (strncmp(ts_fk.applied[i], "slow ", 5) == 0) {
            assert_true(seen < 3);
            assert_string_equal(ts_fk.applied[i], want[seen]);
            seen++;
        }
    }
    pthread_mutex_unlock(&ts_fk.lock);
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
    struct ts_fake_ct *c = ts_fake_add("user", 512, GIB, true);
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
    assert_int_equal(ts_fake_shares("user"), 1024);
    pthread_mutex_lock(&ts_fk.lock);
    assert_int_equal(c->memory, 2 * GIB);
    pthread_mutex_unlock(&ts_fk.lock);
    engine_free(e);
}

/* engine_hold: what is queued meanwhile waits, nothing is lost or merged away, and all of it
 * runs once released; engine_stop overrides a hold. */
static void held_engine_queues_and_runs_on_release(void **state)
{
    struct engine_opts o = base_opts();
    char name[16];
    (void)state;
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        ts_fake_add(name, 512, GIB, true);
    }
    struct engine *e = ts_engine_start(&o);
    engine_hold(e);
    engine_hold(e); /* holds nest */
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        alert(e, name, POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    }
    ts_sleep_ms(200);
    assert_int_equal(updates(), 0);
    engine_release(e);
    ts_sleep_ms(100);
    assert_int_equal(updates(), 0);
    engine_release(e);
    engine_wait_idle(e);
    assert_int_equal(updates(), 12);
    assert_int_equal(ts_fake_shares("c11"), 1024);
    /* held again with work queued: engine_stop still runs it within its grace */
    engine_hold(e);
    alert(e, "c0", POLICY_SCALE_OUT, POLICY_MEMORY, "fp2");
    engine_stop(e, 5000);
    assert_int_equal(updates(), 13);
    engine_free(e);
}

static void repeat_after_a_resolve_is_not_merged_across_it(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    struct ts_fake_ct *c = ts_fake_add("user", 512, GIB, true);
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
    assert_int_equal(ts_fake_shares("user"), 1024);
    alert(e, "user", POLICY_RESOLVE, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    assert_int_equal(ts_fake_shares("user"), 512);
    assert_int_equal(updates(), 2);
    engine_free(e);
}

static void restart_starts_stopped_and_leaves_running(void **state)
{
    struct engine_opts o = base_opts();
    struct ts_waiter w;
    (void)state;
    struct ts_fake_ct *c = ts_fake_add("web", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    ts_engine_manual(e, &w, POLICY_RESTART, POLICY_CPU, "web", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 200);
    assert_non_null(strstr(w.body, "\"result\":\"unchanged\""));
    assert_int_equal(ts_fk.starts + ts_fk.restarts, 0);
    ts_engine_manual(e, &w, POLICY_RESTART, POLICY_CPU, "web", NULL, true);
    ts_waiter_wait(&w);
    assert_non_null(strstr(w.body, "\"result\":\"ok\""));
    assert_int_equal(ts_fk.restarts, 1);
    pthread_mutex_lock(&ts_fk.lock);
    c->running = false;
    pthread_mutex_unlock(&ts_fk.lock);
    alert(e, "web", POLICY_RESTART, POLICY_CPU, "down");
    engine_wait_idle(e);
    assert_int_equal(ts_fk.starts, 1);
    assert_true(c->running);
    engine_free(e);
}

static void manual_errors_carry_status_codes(void **state)
{
    struct engine_opts o = base_opts();
    struct ts_waiter w;
    (void)state;
    ts_fake_add("free", 512, GIB, false);
    struct ts_fake_ct *big = ts_fake_add("big", 512, GIB, true);
    big->labels[1] = "trip.cpu-shares=100000";
    struct ts_fake_ct *bad = ts_fake_add("bad", 512, GIB, true);
    bad->fail_update = 1;
    struct engine *e = ts_engine_start(&o);
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, "free", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.outcome, OUTCOME_NOT_MANAGED);
    assert_int_equal(w.status, 403);
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, "ghost", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.outcome, OUTCOME_NOT_FOUND);
    assert_int_equal(w.status, 404);
    assert_non_null(strstr(w.body, "no such container"));
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, "big", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.outcome, OUTCOME_REFUSED);
    assert_int_equal(w.status, 422);
    assert_non_null(strstr(w.body, "trip.cpu-shares=100000 is outside [2, 4096]"));
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_MEMORY, "bad", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.outcome, OUTCOME_FAILED);
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
    struct ts_fake_ct *c = ts_fake_add("flaky", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "flaky", POLICY_SCALE_OUT, POLICY_CPU, "fp");
    alert(e, "flaky", POLICY_RESOLVE, POLICY_CPU, "fp");
    engine_wait_idle(e);
    pthread_mutex_lock(&ts_fk.lock);
    c->fail_update = 1;
    pthread_mutex_unlock(&ts_fk.lock);
    ts_engine_advance(e, 300000); /* due: the update fails */
    assert_int_equal(updates(), 2);
    ts_engine_advance(e, 1000); /* next ticks do not hammer Docker */
    ts_engine_advance(e, 1000);
    assert_int_equal(updates(), 2);
    pthread_mutex_lock(&ts_fk.lock);
    c->fail_update = 0;
    pthread_mutex_unlock(&ts_fk.lock);
    ts_engine_advance(e, 3000); /* 5 s after the failure: tried again */
    assert_int_equal(updates(), 3);
    assert_int_equal(ts_fake_shares("flaky"), 512);
    engine_free(e);
}

static int64_t memory_of(struct ts_fake_ct *c)
{
    pthread_mutex_lock(&ts_fk.lock);
    int64_t v = c->memory;
    pthread_mutex_unlock(&ts_fk.lock);
    return v;
}

static void set_usage(struct ts_fake_ct *c, int64_t usage, int fail_stats)
{
    pthread_mutex_lock(&ts_fk.lock);
    c->usage = usage;
    c->fail_stats = fail_stats;
    pthread_mutex_unlock(&ts_fk.lock);
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
    struct ts_fake_ct *c = ts_fake_add("db", 512, 256 * MIB, true);
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
    ts_fake_add("user", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, "user", "20s", false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 200);
    assert_non_null(strstr(w.body, "\"result\":\"dry_run\""));
    assert_non_null(strstr(w.body, "\"scaled_out\":true"));
    assert_int_equal(updates(), 0);
    ts_engine_advance(e, 20000);
    assert_int_equal(updates(), 0);
    assert_int_equal(ts_fake_shares("user"), 512);
    engine_free(e);
}

/* The CPU quota is a row of the resource table: scaled out to trip.cpus (or twice the quota
 * without it), shown and restored like the other resources; no quota is left alone. */
static void cpu_quota_scales_out_to_its_label_and_back(void **state)
{
    struct engine_opts o = base_opts();
    struct ts_waiter w;
    (void)state;
    o.lim.max_nano_cpus = 4000000000LL;
    struct ts_fake_ct *q = ts_fake_add("quota", 1024, GIB, true);
    q->nano_cpus = 500000000;
    q->labels[1] = "trip.cpus=1.5";
    ts_fake_add("double", 1024, GIB, true)->nano_cpus = 250000000;
    ts_fake_add("none", 1024, GIB, true);
    struct engine *e = ts_engine_start(&o);

    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPUS, "quota", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.outcome, OUTCOME_DONE);
    assert_int_equal(ts_fake_nano_cpus("quota"), 1500000000LL);
    assert_int_equal(ts_fake_shares("quota"), 1024); /* the CPU shares row is another resource */
    json_t *j = ts_engine_state(e, "quota");
    assert_true(json_is_true(json_object_get(json_object_get(j, "cpus"), "scaled_out")));
    assert_int_equal(ts_state_i64(j, "cpus", "baseline"), 500000000);
    json_decref(j);
    ts_engine_manual(e, &w, POLICY_SCALE_IN, POLICY_CPUS, "quota", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.outcome, OUTCOME_DONE);
    assert_int_equal(ts_fake_nano_cpus("quota"), 500000000);

    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPUS, "double", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(ts_fake_nano_cpus("double"), 500000000);
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPUS, "none", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.outcome, OUTCOME_UNCHANGED);
    assert_non_null(strstr(w.body, "no CPU quota"));
    assert_int_equal(ts_fake_nano_cpus("none"), 0);
    engine_free(e);
}

/* Prometheus behind its seam (engine_opts.prom): what it answers for the container's alert. */
static struct {
    bool firing;
    int queries;
    char alertname[64];
} prom_fake;

static int fake_query_firing(const struct engine_opts *o, const struct prom_match *m, bool *firing,
                             struct prom_err *err)
{
    (void)o;
    (void)err;
    prom_fake.queries++;
    snprintf(prom_fake.alertname, sizeof(prom_fake.alertname), "%s", m->alertname);
    *firing = prom_fake.firing;
    return PROM_OK;
}

static const struct engine_prom_ops fake_prom = {fake_query_firing};

/* At the deadline a resolved alert that Prometheus still reports firing holds the scale-in for
 * min(scale duration, 15 s); once it stops, the scale-in happens. */
static void prometheus_still_firing_holds_the_scale_in(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    o.prom_url = "http://prometheus.invalid";
    o.prom = &fake_prom;
    prom_fake.firing = true;
    prom_fake.queries = 0;
    ts_fake_add("user", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    alert(e, "user", POLICY_RESOLVE, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    assert_int_equal(ts_fake_shares("user"), 1024);
    ts_engine_advance(e, 300000); /* the deadline */
    assert_true(prom_fake.queries >= 1);
    assert_string_equal(prom_fake.alertname, "ContainerHighCpu");
    assert_int_equal(ts_fake_shares("user"), 1024);
    prom_fake.firing = false;
    ts_engine_advance(e, 14000); /* still within the 15 s hold */
    assert_int_equal(ts_fake_shares("user"), 1024);
    ts_engine_advance(e, 1000);
    assert_int_equal(ts_fake_shares("user"), 512);
    engine_free(e);
}

/* A manual memory scale-in postponed by the memory guard is retried by the engine (every 5 s) until
 * the usage fits, although the scale-out's deadline is still far. */
static void postponed_manual_memory_scale_in_is_retried(void **state)
{
    struct engine_opts o = base_opts();
    struct ts_waiter w;
    (void)state;
    struct ts_fake_ct *c = ts_fake_add("db", 512, 256 * MIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "db", POLICY_SCALE_OUT, POLICY_MEMORY, "m1");
    engine_wait_idle(e);
    assert_int_equal(memory_of(c), 2 * GIB);
    set_usage(c, 300 * MIB, 0);
    ts_engine_manual(e, &w, POLICY_SCALE_IN, POLICY_MEMORY, "db", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.outcome, OUTCOME_POSTPONED);
    assert_int_equal(w.status, 200);
    set_usage(c, 1 * MIB, 0); /* the usage dropped */
    ts_engine_advance(e, 5000);
    assert_int_equal(memory_of(c), 256 * MIB);
    json_t *j = ts_engine_state(e, "db");
    assert_false(json_is_true(json_object_get(json_object_get(j, "memory"), "scaled_out")));
    json_decref(j);
    engine_free(e);
}

/* The same at the deadline (alert resolved): postponed, then retried once the usage fits. */
static void postponed_deadline_memory_scale_in_is_retried(void **state)
{
    struct engine_opts o = base_opts();
    (void)state;
    struct ts_fake_ct *c = ts_fake_add("db", 512, 256 * MIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "db", POLICY_SCALE_OUT, POLICY_MEMORY, "m1");
    alert(e, "db", POLICY_RESOLVE, POLICY_MEMORY, "m1");
    engine_wait_idle(e);
    set_usage(c, 300 * MIB, 0);
    ts_engine_advance(e, 300000); /* the deadline: postponed */
    assert_int_equal(memory_of(c), 2 * GIB);
    set_usage(c, 1 * MIB, 0);
    ts_engine_advance(e, 5000);
    assert_int_equal(memory_of(c), 256 * MIB);
    engine_free(e);
}

/* A manual scale-in of a container that is not managed is refused (403) like every other call on
 * it, with --manage-all and trip.enable=false as without it; an unknown one is 404. */
static void manual_scale_in_of_an_unmanaged_container_is_refused(void **state)
{
    struct engine_opts o = base_opts();
    struct ts_waiter w;
    (void)state;
    o.lim.manage_all = true;
    ts_fake_add("optout", 512, GIB, false)->labels[0] = "trip.enable=false";
    ts_fake_add("managed", 512, GIB, false); /* no trip.enable: managed under --manage-all */
    struct engine *e = ts_engine_start(&o);
    ts_engine_manual(e, &w, POLICY_SCALE_IN, POLICY_CPU, "optout", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.outcome, OUTCOME_NOT_MANAGED);
    assert_int_equal(w.status, 403);
    assert_non_null(strstr(w.body, "trip.enable=false"));
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, "optout", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 403); /* as a scale-out */
    ts_engine_manual(e, &w, POLICY_SCALE_IN, POLICY_CPU, "managed", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.outcome, OUTCOME_UNCHANGED);
    assert_non_null(strstr(w.body, "not scaled out"));
    ts_engine_manual(e, &w, POLICY_SCALE_IN, POLICY_CPU, "ghost", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 404);
    engine_free(e);
}

/* ---- one container, three identities; claims tied to the container they were made on ---- */

#define HEX_ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A container with a Docker-like 64-hex ID, listed so the engine's cache knows its aliases. */
static struct ts_fake_ct *add_listed(struct engine **e, struct engine_opts *o, const char *name)
{
    struct ts_fake_ct *c = ts_fake_add(name, 512, GIB, true);
    snprintf(c->id, sizeof(c->id), "%s", HEX_ID);
    ts_fk.list = true;
    *e = ts_engine_start(o);
    assert_int_equal(engine_refresh(*e), DOCKER_OK);
    return c;
}

/* Entries of GET /containers. */
static size_t n_entries(struct engine *e)
{
    char *s = engine_state_json(e, NULL);
    json_t *j = json_loads(s, 0, NULL);
    size_t n = json_array_size(json_object_get(j, "containers"));
    json_decref(j);
    free(s);
    return n;
}

static void name_full_id_and_prefix_share_one_claim(void **state)
{
    struct engine_opts o = base_opts();
    struct ts_waiter w[3];
    struct engine *e;
    (void)state;
    struct ts_fake_ct *c = add_listed(&e, &o, "alias");
    const char *refs[3] = {"alias", HEX_ID, "0123456789ab"};
    block_updates_of(c); /* all three in flight at once if they were three containers */
    for (int i = 0; i < 3; i++)
        ts_engine_manual(e, &w[i], POLICY_SCALE_OUT, POLICY_CPU, refs[i], NULL, false);
    wait_blocked();
    usleep(200 * 1000); /* time for a second update to reach the gate, were it allowed to */
    pthread_mutex_lock(&ts_fk.lock);
    assert_int_equal(ts_fk.blocked, 1);
    pthread_mutex_unlock(&ts_fk.lock);
    open_gate(c);
    for (int i = 0; i < 3; i++)
        ts_waiter_wait(&w[i]);
    engine_wait_idle(e);
    assert_int_equal(updates(), 1); /* one update ... */
    assert_int_equal(n_entries(e), 1); /* ... one entry, one claim */
    for (int i = 0; i < 3; i++) {
        json_t *j = ts_engine_state(e, refs[i]); /* every alias shows the same entry */
        assert_string_equal(json_string_value(json_object_get(j, "name")), "alias");
        assert_true(json_is_true(json_object_get(json_object_get(j, "cpu"), "scaled_out")));
        json_decref(j);
    }
    engine_free(e);
}

static void maintenance_by_name_holds_for_the_id_and_its_prefix(void **state)
{
    struct engine_opts o = base_opts();
    struct ts_waiter w;
    struct engine *e;
    (void)state;
    add_listed(&e, &o, "maint");
    assert_int_equal(engine_set_maintenance(e, "maint", true, NULL), ENGINE_OK);
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, "0123456789ab", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 409);
    ts_engine_alert(e, HEX_ID, POLICY_SCALE_OUT, POLICY_MEMORY, "fp", "ContainerHighMemory");
    engine_wait_idle(e);
    assert_int_equal(updates(), 0);
    assert_int_equal(ts_fake_shares("maint"), 512);
    /* released by its prefix: the same flag */
    assert_int_equal(engine_set_maintenance(e, "0123456789abcdef", false, NULL), ENGINE_OK);
    json_t *j = ts_engine_state(e, "maint");
    assert_false(json_is_true(json_object_get(j, "maintenance")));
    json_decref(j);
    assert_int_equal(n_entries(e), 1);
    engine_free(e);
}

/* Scale out x, docker rm x, docker run x again at 1024 shares (without trip.enable, or with it):
 * the claim was made on the removed container; at the deadline the new one is left untouched. */
static void recreated_container_keeps_what_it_has_at_the_deadline(bool opted_in)
{
    struct engine_opts o = base_opts();
    struct ts_waiter w;
    struct ts_fake_ct *c = ts_fake_add("x", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "x", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    alert(e, "x", POLICY_RESOLVE, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    assert_int_equal(ts_fake_shares("x"), 1024);
    pthread_mutex_lock(&ts_fk.lock);
    snprintf(c->id, sizeof(c->id), "id-x-recreated");
    c->labels[0] = opted_in ? "trip.enable=true" : "other=1";
    c->shares = 1024;
    pthread_mutex_unlock(&ts_fk.lock);
    ts_engine_advance(e, 301000); /* the deadline passed, the alert resolved */
    assert_int_equal(ts_fake_shares("x"), 1024);
    assert_int_equal(updates(), 1);
    ts_engine_manual(e, &w, POLICY_SCALE_IN, POLICY_CPU, "x", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(ts_fake_shares("x"), 1024);
    assert_int_equal(updates(), 1);
    engine_free(e);
}

static void recreated_without_opt_in_is_untouched_at_the_deadline(void **state)
{
    (void)state;
    recreated_container_keeps_what_it_has_at_the_deadline(false);
}

static void recreated_with_opt_in_is_untouched_at_the_deadline(void **state)
{
    (void)state;
    recreated_container_keeps_what_it_has_at_the_deadline(true);
}

/* ---- --selector ---- */

static struct engine_opts scoped_opts(void)
{
    struct engine_opts o = base_opts();
    snprintf(o.lim.selector.t[0].key, sizeof(o.lim.selector.t[0].key), "trip.stack");
    snprintf(o.lim.selector.t[0].value, sizeof(o.lim.selector.t[0].value), "a");
    snprintf(o.lim.selector.t[0].text, sizeof(o.lim.selector.t[0].text), "trip.stack=a");
    o.lim.selector.t[0].has_value = true;
    o.lim.selector.n = 1;
    return o;
}

static void outside_the_selector_is_never_acted_on(void **state)
{
    struct engine_opts o = scoped_opts();
    struct ts_waiter w;
    struct engine_cached cached;
    (void)state;
    struct ts_fake_ct *in = ts_fake_add("in", 512, GIB, true);
    struct ts_fake_ct *out = ts_fake_add("out", 512, GIB, true);
    in->labels[1] = "trip.stack=a";
    out->labels[1] = "trip.stack=b";
    out->running = in->running = false;
    ts_fk.list = true;
    struct engine *e = ts_engine_start(&o);
    assert_int_equal(engine_refresh(e), DOCKER_OK);
    assert_true(engine_lookup(e, "in", &cached));
    assert_false(engine_lookup(e, "out", &cached)); /* not cached: webhooks see no such container */
    assert_null(engine_state_json(e, "out"));
    /* the manual API: the same answer as a container that does not exist */
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, "out", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 404);
    char missing[4096];
    snprintf(missing, sizeof(missing), "%s", strstr(w.body, "\"reason\""));
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, "nosuch", NULL, false);
    ts_waiter_wait(&w);
    assert_string_equal(missing, strstr(w.body, "\"reason\""));
    ts_engine_manual(e, &w, POLICY_RESTART, POLICY_CPU, "out", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 404);
    assert_int_equal(engine_set_maintenance(e, "out", true, NULL), ENGINE_E_UNKNOWN);
    /* an alert job that reached the engine, and a heal */
    alert(e, "out", POLICY_SCALE_OUT, POLICY_MEMORY, "fp");
    struct engine_heal_req hr = {.container = "out", .trigger = "exit", .exit_code = 1};
    assert_int_equal(engine_heal(e, &hr, NULL), ENGINE_OK);
    engine_wait_idle(e);
    assert_null(engine_state_json(e, "out")); /* what the heal queued by name was dropped */
    assert_int_equal(updates(), 0);
    pthread_mutex_lock(&ts_fk.lock);
    assert_int_equal(ts_fk.starts, 0);
    assert_false(out->running);
    pthread_mutex_unlock(&ts_fk.lock);
    /* while the one inside is */
    ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, "in", NULL, false);
    ts_waiter_wait(&w);
    assert_int_equal(w.status, 200);
    struct engine_heal_req hin = {.container = "in", .trigger = "exit", .exit_code = 1};
    assert_int_equal(engine_heal(e, &hin, NULL), ENGINE_OK);
    engine_wait_idle(e);
    assert_int_equal(ts_fake_shares("in"), 1024);
    pthread_mutex_lock(&ts_fk.lock);
    assert_true(in->running);
    pthread_mutex_unlock(&ts_fk.lock);
    engine_free(e);
}

/* A claim made while the container was in scope: once outside (another selector after a
 * restart, or its labels changed), the scale-in at the deadline does not touch it. */
static void claim_outside_the_selector_is_dropped_not_scaled_in(void **state)
{
    struct engine_opts o = scoped_opts();
    (void)state;
    struct ts_fake_ct *c = ts_fake_add("moved", 512, GIB, true);
    c->labels[1] = "trip.stack=a";
    struct engine *e = ts_engine_start(&o);
    alert(e, "moved", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    alert(e, "moved", POLICY_RESOLVE, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    assert_int_equal(ts_fake_shares("moved"), 1024);
    pthread_mutex_lock(&ts_fk.lock);
    c->labels[1] = "trip.stack=b";
    pthread_mutex_unlock(&ts_fk.lock);
    ts_engine_advance(e, 301000);
    assert_int_equal(ts_fake_shares("moved"), 1024);
    assert_int_equal(updates(), 1);
    assert_int_equal(n_entries(e), 0);
    engine_free(e);
}

int main(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(scale_in_waits_for_deadline_and_resolve, ts_engine_setup),
        cmocka_unit_test_setup(resolved_early_scales_in_at_deadline, ts_engine_setup),
        cmocka_unit_test_setup(repeated_firing_extends_and_never_reapplies, ts_engine_setup),
        cmocka_unit_test_setup(max_hold_scales_in_without_resolve, ts_engine_setup),
        cmocka_unit_test_setup(memory_round_trip_keeps_swap_consistent, ts_engine_setup),
        cmocka_unit_test_setup(hand_changed_resources_drop_the_claim, ts_engine_setup),
        cmocka_unit_test_setup(slow_container_holds_one_worker_only, ts_engine_setup),
        cmocka_unit_test_setup(alert_flood_is_merged_not_queued, ts_engine_setup),
        cmocka_unit_test_setup(held_engine_queues_and_runs_on_release, ts_engine_setup),
        cmocka_unit_test_setup(repeat_after_a_resolve_is_not_merged_across_it, ts_engine_setup),
        cmocka_unit_test_setup(restart_starts_stopped_and_leaves_running, ts_engine_setup),
        cmocka_unit_test_setup(manual_errors_carry_status_codes, ts_engine_setup),
        cmocka_unit_test_setup(failed_scale_in_is_retried_later, ts_engine_setup),
        cmocka_unit_test_setup(memory_scale_in_waits_while_usage_is_above_baseline,
                               ts_engine_setup),
        cmocka_unit_test_setup(dry_run_changes_nothing_but_reports, ts_engine_setup),
        cmocka_unit_test_setup(cpu_quota_scales_out_to_its_label_and_back, ts_engine_setup),
        cmocka_unit_test_setup(prometheus_still_firing_holds_the_scale_in, ts_engine_setup),
        cmocka_unit_test_setup(action_phases_are_timed, ts_engine_setup),
        cmocka_unit_test_setup(queue_holds_queue_max_jobs_and_reuses_slots, ts_engine_setup),
        cmocka_unit_test_setup(postponed_manual_memory_scale_in_is_retried, ts_engine_setup),
        cmocka_unit_test_setup(postponed_deadline_memory_scale_in_is_retried, ts_engine_setup),
        cmocka_unit_test_setup(manual_scale_in_of_an_unmanaged_container_is_refused,
                               ts_engine_setup),
        cmocka_unit_test_setup(name_full_id_and_prefix_share_one_claim, ts_engine_setup),
        cmocka_unit_test_setup(maintenance_by_name_holds_for_the_id_and_its_prefix,
                               ts_engine_setup),
        cmocka_unit_test_setup(recreated_without_opt_in_is_untouched_at_the_deadline,
                               ts_engine_setup),
        cmocka_unit_test_setup(recreated_with_opt_in_is_untouched_at_the_deadline,
                               ts_engine_setup),
        cmocka_unit_test_setup(outside_the_selector_is_never_acted_on, ts_engine_setup),
        cmocka_unit_test_setup(claim_outside_the_selector_is_dropped_not_scaled_in,
                               ts_engine_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
