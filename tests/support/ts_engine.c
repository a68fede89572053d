/* ts_engine.c: engine helpers for the unit tests (see ts_engine.h). */
#include "ts_engine.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "http.h"
#include "store.h"
#include "ts_fakedocker.h"

static atomic_llong clock_ms;

int64_t ts_engine_clock(void *ud)
{
    (void)ud;
    return atomic_load(&clock_ms);
}

void ts_engine_clock_set(int64_t ms)
{
    atomic_store(&clock_ms, ms);
}

void ts_engine_advance(struct engine *e, int64_t ms)
{
    atomic_fetch_add(&clock_ms, ms);
    engine_tick(e);
    engine_wait_idle(e);
}

struct engine *ts_engine_start(const struct engine_opts *o)
{
    struct engine *e = NULL;
    assert_int_equal(engine_new(o, &e, NULL), ENGINE_OK);
    assert_int_equal(engine_load(e, NULL), ENGINE_OK);
    assert_int_equal(engine_start(e, NULL), ENGINE_OK);
    return e;
}

/* The reply as the manual API sends it (http_engine_reply), and the outcome it was made from. */
static void on_done(void *ud, const struct engine_result *res)
{
    struct ts_waiter *w = ud;
    char *body = NULL;
    int status = http_engine_reply(res, &body);
    assert_non_null(body);
    pthread_mutex_lock(&w->lock);
    w->outcome = res->outcome;
    w->status = status;
    snprintf(w->body, sizeof(w->body), "%s", body);
    free(body);
    w->done_mono_ms = clock_mono_ms();
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void ts_engine_manual(struct engine *e, struct ts_waiter *w, enum policy_kind kind,
                      enum policy_resource r, const char *name, const char *duration, bool force)
{
    struct engine_job j = {
        .kind = kind, .resource = r, .force = force, .done = on_done, .done_ud = w};
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->status = -1;
    snprintf(j.container, sizeof(j.container), "%s", name);
    snprintf(j.duration, sizeof(j.duration), "%s", duration ? duration : "");
    snprintf(j.remote, sizeof(j.remote), "127.0.0.1");
    assert_int_equal(engine_submit(e, &j, NULL), ENGINE_OK);
}

void ts_waiter_wait(struct ts_waiter *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->status < 0)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

json_t *ts_engine_state(struct engine *e, const char *name)
{
    char *text = engine_state_json(e, name);
    assert_non_null(text);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(j);
    return j;
}

int64_t ts_state_i64(const json_t *j, const char *res, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(json_object_get(j, res), key));
}

struct engine_opts ts_engine_opts(const struct engine_docker_ops *ops, size_t workers)
{
    struct engine_opts o = {
        .lim = TS_POLICY_LIMITS,
        .max_hold_ms = 3600000,
        .workers = workers,
        .ops = ops,
        .clock = ts_engine_clock,
    };
    return o;
}

int ts_engine_setup(void **state)
{
    (void)state;
    ts_fake_reset();
    ts_engine_clock_set(TS_T0);
    return 0;
}

void ts_engine_alert(struct engine *e, const char *name, enum policy_kind kind,
                     enum policy_resource r, const char *fingerprint, const char *alertname)
{
    struct engine_job j = {.kind = kind, .resource = r, .from_alert = true};
    snprintf(j.container, sizeof(j.container), "%s", name);
    snprintf(j.fingerprint, sizeof(j.fingerprint), "%s", fingerprint);
    snprintf(j.alertname, sizeof(j.alertname), "%s", alertname);
    assert_int_equal(engine_submit(e, &j, NULL), ENGINE_OK);
}

void ts_state_dir_remove(const char *dir, struct store *st)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/state.json", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/.state.json.tmp", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/journal", dir);
    unlink(path);
    rmdir(dir);
    store_free(st);
}
