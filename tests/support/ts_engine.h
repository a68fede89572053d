/* ts_engine.h: running the engine in unit tests: a settable wall clock, start-up, manual calls
 * and their replies. The Docker side is each test's own fake (struct engine_docker_ops). */
#ifndef TRIP_TS_ENGINE_H
#define TRIP_TS_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "engine.h"

/* The engine's wall clock in the tests (engine_opts.clock = ts_engine_clock): set it with
 * ts_engine_clock_set(), move it with ts_engine_advance(). */
int64_t ts_engine_clock(void *ud);
void ts_engine_clock_set(int64_t ms);
/* Moves the clock by ms, runs a timer scan (engine_tick) and waits until the engine is idle. */
void ts_engine_advance(struct engine *e, int64_t ms);

/* The limits the engine and policy unit tests decide under: 1024 shares (max 4096), 2 GiB (max
 * 16 GiB), 5 min scale duration within [1 s, 24 h], healing on, services up to 8 CPUs and 10
 * replicas one at a time. */
#define TS_POLICY_LIMITS                                                                           \
    {                                                                                              \
        .cpu_shares = 1024, .max_cpu_shares = 4096, .memory = 2 * 1024LL * 1024 * 1024,            \
        .max_memory = 16 * 1024LL * 1024 * 1024, .scale_duration_ms = 300000,                      \
        .min_duration_ms = 1000, .max_duration_ms = 86400000, .manage_all = false, .heal = true,   \
        .max_nano_cpus = 8000000000LL, .max_replicas = 10, .replicas_step = 1                      \
    }

/* Engine options for a unit test: TS_POLICY_LIMITS, --max-hold 1 h, `workers` workers, Docker ops,
 * and the test clock. */
struct engine_opts ts_engine_opts(const struct engine_docker_ops *ops, size_t workers);
/* The engine tests' epoch: 2027-01-15T08:00:00Z. */
#define TS_T0 1800000000000LL
/* A cmocka setup: the shared fake Docker emptied, the clock at TS_T0. */
int ts_engine_setup(void **state);
/* Submits an alert job (fire and forget) for name, asserting it was taken. */
void ts_engine_alert(struct engine *e, const char *name, enum policy_kind kind,
                     enum policy_resource r, const char *fingerprint, const char *alertname);

struct store;
/* Removes <dir>/state.json (and its temporary file) and dir, and frees st (may be NULL). */
void ts_state_dir_remove(const char *dir, struct store *st);

/* engine_new + engine_load + engine_start, each asserted OK. */
struct engine *ts_engine_start(const struct engine_opts *o);

/* engine_state_json(e, name) parsed (asserted present); json_decref() it. */
json_t *ts_engine_state(struct engine *e, const char *name);
/* The integer key of resource object res ("cpu", "memory", "replicas") of a state view j. */
int64_t ts_state_i64(const json_t *j, const char *res, const char *key);

/* The reply of a manual call. */
struct ts_waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    enum outcome outcome; /* what the engine answered */
    int status;           /* the HTTP status the manual API makes of it; -1 until the reply came */
    char body[4096];
    int64_t done_mono_ms; /* CLOCK_MONOTONIC ms of the reply */
};
/* Submits a manual job (remote 127.0.0.1) whose reply goes to w. duration may be NULL. Returns
 * at once; ts_waiter_wait() waits for the reply. */
void ts_engine_manual(struct engine *e, struct ts_waiter *w, enum policy_kind kind,
                      enum policy_resource r, const char *name, const char *duration, bool force);
void ts_waiter_wait(struct ts_waiter *w);

#endif
