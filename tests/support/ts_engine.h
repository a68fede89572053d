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
