/* test_events.c: what a Docker event means for healing (events_classify), the restart backoff and
 * heal permission (policy_heal_*), and the engine's heal scheduling: immediate first heal, spaced
 * later ones, crash-loop flag set and cleared, maintenance, destroy, operator stops.
 * The engine runs on a fake Docker and a fake clock: the real daemon cannot be made to crash-loop
 * on a controlled clock (test_receiver_heal does it against the real one with real time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "events.h"
#include "log.h"
#include "policy.h"

#define T0 1800000000000LL

/* ---- events_classify ---- */

static struct docker_kv kv_managed[] = {{"name", "user"}, {"trip.enable", "true"}};
static struct docker_kv kv_plain[] = {{"name", "user"}};
static const struct docker_labels attrs_managed = {kv_managed, 2};
static const struct docker_labels attrs_plain = {kv_plain, 1};

static enum events_verdict classify(const char *type, const char *action, bool managed, bool kill,
                                    bool oom, const char **trigger, bool *op)
{
    static const struct policy_limits lim = {.heal = true};
    struct docker_event ev = {
        type, action, "id1", "user", 0, 1, managed ? &attrs_managed : &attrs_plain};
    return events_classify(&lim, &ev, kill, oom, trigger, op);
}

static void die_of_managed_container_is_a_heal(void **state)
{
    const char *t;
    bool op;
    (void)state;
    assert_int_equal(classify("container", "die", true, false, false, &t, &op), EVENTS_HEAL);
    assert_string_equal(t, "exit");
    assert_false(op);
    assert_int_equal(classify("container", "die", true, true, false, &t, &op), EVENTS_HEAL);
    assert_string_equal(t, "exit");
    assert_true(op); /* docker stop / docker kill: a kill event came first */
    assert_int_equal(classify("container", "die", true, true, true, &t, &op), EVENTS_HEAL);
    assert_string_equal(t, "oom");
    assert_false(op);
    assert_int_equal(classify("container", "health_status: unhealthy", true, false, false, &t, &op),
                     EVENTS_HEAL);
    assert_string_equal(t, "unhealthy");
}

static void other_events_are_marks_or_ignored(void **state)
{
    const char *t;
    bool op;
    (void)state;
    assert_int_equal(classify("container", "die", false, false, false, &t, &op), EVENTS_IGNORE);
    assert_int_equal(classify("container", "health_status: healthy", true, false, false, &t, &op),
                     EVENTS_IGNORE);
    assert_int_equal(classify("container", "stop", true, false, false, &t, &op), EVENTS_IGNORE);
    assert_int_equal(classify("container", "kill", true, false, false, &t, &op), EVENTS_MARK);
    assert_int_equal(classify("container", "oom", true, false, false, &t, &op), EVENTS_MARK);
    assert_int_equal(classify("container", "start", false, false, false, &t, &op), EVENTS_STARTED);
    assert_int_equal(classify("container", "destroy", false, false, false, &t, &op),
                     EVENTS_DESTROYED);
    assert_int_equal(classify("network", "die", true, false, false, &t, &op), EVENTS_IGNORE);
}

/* ---- policy ---- */

static void heal_delay_doubles_from_100ms_to_a_1min_cap(void **state)
{
    const struct policy_backoff b = {100, 60000, 10000, 5, true};
    static const struct {
        int streak;
        int64_t ms;
    } t[] = {{0, 0}, {1, 100}, {2, 200}, {5, 1600}, {10, 51200}, {11, 60000}, {1000, 60000}};
    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        assert_int_equal(policy_heal_delay(&b, t[i].streak), t[i].ms);
}

static void operator_stops_follow_flag_then_label(void **state)
{
    const struct policy_limits lim = {.heal = true};
    struct policy_backoff b = {100, 60000, 10000, 5, false};
    struct policy_container c = {.known = true, .exists = true, .enable = "true"};
    char why[160];
    (void)state;
    assert_true(policy_heal_allowed(&lim, &b, &c, false, why, sizeof(why)));
    assert_false(policy_heal_allowed(&lim, &b, &c, true, why, sizeof(why)));
    assert_string_equal(why, "stopped by an operator (heal-operator-stops is false)");
    c.heal_operator_stops = "true";
    assert_true(policy_heal_allowed(&lim, &b, &c, true, why, sizeof(why)));
    b.operator_stops = true;
    c.heal_operator_stops = "false";
    assert_false(policy_heal_allowed(&lim, &b, &c, true, why, sizeof(why)));
    c.heal = "false";
    assert_false(policy_heal_allowed(&lim, &b, &c, false, why, sizeof(why)));
    assert_string_equal(why, "healing is disabled for this container (trip.heal)");
    c.heal = NULL;
    c.enable = NULL;
    assert_false(policy_heal_allowed(&lim, &b, &c, false, why, sizeof(why)));
    assert_string_equal(why, "container is not managed");
}

/* ---- engine ---- */

static struct {
    pthread_mutex_t lock;
    bool exists, running, unreachable;
    bool listed; /* the container list has "user" (managed): the cache knows its ID and labels */
    const char *label; /* extra "k=v" */
    int starts, inspects;
} fk = {.lock = PTHREAD_MUTEX_INITIALIZER};
static atomic_llong clock_ms;

static int64_t fake_clock(void *ud)
{
    (void)ud;
    return atomic_load(&clock_ms);
}

static docker_code f_inspect(void *ud, const char *name, struct docker_container *out,
                             struct docker_err *err)
{
    (void)ud;
    pthread_mutex_lock(&fk.lock);
    fk.inspects++;
    if (fk.unreachable) {
        pthread_mutex_unlock(&fk.lock);
        err->code = DOCKER_E_UNREACHABLE;
        snprintf(err->msg, sizeof(err->msg), "inspect %s: daemon unreachable", name);
        return DOCKER_E_UNREACHABLE;
    }
    if (!fk.exists) {
        pthread_mutex_unlock(&fk.lock);
        err->code = DOCKER_E_NOT_FOUND;
        snprintf(err->msg, sizeof(err->msg), "inspect %s: No such container", name);
        return DOCKER_E_NOT_FOUND;
    }
    snprintf(out->id, sizeof(out->id), "id-%s", name);
    snprintf(out->name, sizeof(out->name), "%s", name);
    snprintf(out->status, sizeof(out->status), "%s", fk.running ? "running" : "exited");
    out->running = fk.running;
    out->exit_code = 1;
    out->labels.v = calloc(2, sizeof(*out->labels.v));
    out->labels.v[0].key = strdup("trip.enable");
    out->labels.v[0].value = strdup("true");
    out->labels.n = 1;
    if (fk.label) {
        const char *eq = strchr(fk.label, '=');
        out->labels.v[1].key = strndup(fk.label, (size_t)(eq - fk.label));
        out->labels.v[1].value = strdup(eq + 1);
        out->labels.n = 2;
    }
    pthread_mutex_unlock(&fk.lock);
    return DOCKER_OK;
}

static docker_code f_start(void *ud, const char *id, struct docker_err *err)
{
    (void)ud;
    (void)id;
    (void)err;
    pthread_mutex_lock(&fk.lock);
    fk.starts++;
    fk.running = true;
    pthread_mutex_unlock(&fk.lock);
    return DOCKER_OK;
}

static docker_code f_list(void *ud, struct docker_summary_list *out, struct docker_err *err)
{
    (void)ud;
    (void)err;
    out->v = NULL;
    out->n = 0;
    pthread_mutex_lock(&fk.lock);
    if (fk.listed && fk.exists) {
        out->v = calloc(1, sizeof(*out->v));
        out->n = 1;
        snprintf(out->v->id, sizeof(out->v->id), "%s", "0123456789abcdef");
        snprintf(out->v->name, sizeof(out->v->name), "%s", "user");
        snprintf(out->v->state, sizeof(out->v->state), "%s", fk.running ? "running" : "exited");
        out->v->labels.v = calloc(1, sizeof(*out->v->labels.v));
        out->v->labels.v[0].key = strdup("trip.enable");
        out->v->labels.v[0].value = strdup("true");
        out->v->labels.n = 1;
    }
    pthread_mutex_unlock(&fk.lock);
    return DOCKER_OK;
}

static const struct engine_docker_ops fake_ops = {f_inspect, NULL, f_start, NULL, f_list,
                                                  NULL,      NULL, NULL,    NULL,
                                                  NULL,      NULL, NULL};

static struct engine *start_engine(bool operator_stops)
{
    struct engine_opts o = {.lim = {.heal = true},
                            .workers = 2,
                            .ops = &fake_ops,
                            .clock = fake_clock,
                            .heal = {100, 60000, 10000, 5, operator_stops}};
    struct engine *e = NULL;
    assert_int_equal(engine_new(&o, &e, NULL), ENGINE_OK);
    assert_int_equal(engine_start(e, NULL), ENGINE_OK);
    return e;
}

static int setup(void **state)
{
    (void)state;
    log_set_level(LOG_LEVEL_ERROR);
    atomic_store(&clock_ms, T0);
    fk.exists = true;
    fk.running = false;
    fk.unreachable = false;
    fk.label = NULL;
    fk.starts = 0;
    fk.inspects = 0;
    fk.listed = false;
    return 0;
}

/* The container dies (fake: stops running) and the watcher reports it. */
static void die(struct engine *e, bool operator_stop, const char *trigger)
{
    struct engine_heal_req req = {
        .container = "user", .operator_stop = operator_stop, .exit_code = 1};
    snprintf(req.trigger, sizeof(req.trigger), "%s", trigger);
    pthread_mutex_lock(&fk.lock);
    fk.running = false;
    pthread_mutex_unlock(&fk.lock);
    assert_int_equal(engine_heal(e, &req, NULL), ENGINE_OK);
    engine_wait_idle(e);
}

static int starts(void)
{
    pthread_mutex_lock(&fk.lock);
    int n = fk.starts;
    pthread_mutex_unlock(&fk.lock);
    return n;
}

static void advance(struct engine *e, int64_t ms)
{
    atomic_fetch_add(&clock_ms, ms);
    engine_tick(e);
    engine_wait_idle(e);
}

static bool state_has(struct engine *e, const char *needle)
{
    char *s = engine_state_json(e, "user");
    bool r = s && strstr(s, needle);
    free(s);
    return r;
}

static void first_heal_is_immediate_later_ones_wait_the_backoff(void **state)
{
    struct engine *e = start_engine(true);
    (void)state;
    die(e, false, "exit");
    assert_int_equal(starts(), 1);
    die(e, false, "exit");
    assert_int_equal(starts(), 1); /* 100 ms to wait */
    advance(e, 99);
    assert_int_equal(starts(), 1);
    advance(e, 1);
    assert_int_equal(starts(), 2);
    die(e, false, "exit");
    advance(e, 199);
    assert_int_equal(starts(), 2);
    advance(e, 1);
    assert_int_equal(starts(), 3);
    /* ran 10 s: a new streak, immediate again */
    atomic_fetch_add(&clock_ms, 10000);
    die(e, false, "exit");
    assert_int_equal(starts(), 4);
    engine_free(e);
}

static int inspects(void)
{
    pthread_mutex_lock(&fk.lock);
    int n = fk.inspects;
    pthread_mutex_unlock(&fk.lock);
    return n;
}

/* A death the cache knows the container of (ID, labels) is healed by a start at once, with no
 * inspect before it; an unhealthy one, or one the cache has not seen, is inspected first. */
static void exit_heal_starts_without_an_inspect(void **state)
{
    struct engine *e = start_engine(true);
    (void)state;
    die(e, false, "exit"); /* not in the cache yet */
    assert_int_equal(starts(), 1);
    assert_int_equal(inspects(), 1);
    fk.listed = true;
    assert_int_equal(engine_refresh(e), DOCKER_OK);
    atomic_fetch_add(&clock_ms, 10000); /* a new streak: no backoff */
    die(e, false, "exit");
    assert_int_equal(starts(), 2);
    assert_int_equal(inspects(), 1);
    atomic_fetch_add(&clock_ms, 10000);
    die(e, false, "oom");
    assert_int_equal(starts(), 3);
    assert_int_equal(inspects(), 1);
    atomic_fetch_add(&clock_ms, 10000);
    die(e, false, "unhealthy"); /* the fake runs no longer: started, after an inspect */
    assert_int_equal(starts(), 4);
    assert_int_equal(inspects(), 2);
    engine_free(e);
}

static void five_quick_heals_flag_crash_looping_until_stable(void **state)
{
    struct engine *e = start_engine(true);
    struct metrics_gauges g;
    (void)state;
    for (int i = 0; i < 5; i++) {
        die(e, false, "exit");
        advance(e, 1000); /* past the backoff (at most 800 ms here), well within 10 s */
    }
    assert_int_equal(starts(), 5);
    assert_true(state_has(e, "\"crash_looping\": true"));
    engine_gauges(e, &g);
    assert_int_equal(g.crashloop, 1);
    engine_container_started(e, "user");
    advance(e, 9999);
    assert_true(state_has(e, "\"crash_looping\": true"));
    advance(e, 1);
    assert_true(state_has(e, "\"crash_looping\": false"));
    engine_gauges(e, &g);
    assert_int_equal(g.crashloop, 0);
    engine_free(e);
}

static void maintenance_blocks_heals_until_released(void **state)
{
    struct engine *e = start_engine(true);
    (void)state;
    assert_int_equal(engine_set_maintenance(e, "nobody", true, NULL), ENGINE_E_UNKNOWN);
    die(e, false, "exit"); /* creates the entry */
    assert_int_equal(engine_set_maintenance(e, "user", true, NULL), ENGINE_OK);
    assert_true(state_has(e, "\"maintenance\": true"));
    die(e, false, "exit");
    advance(e, 60000);
    assert_int_equal(starts(), 1);
    assert_int_equal(engine_set_maintenance(e, "user", false, NULL), ENGINE_OK);
    engine_wait_idle(e);
    assert_int_equal(starts(), 2);
    engine_free(e);
}

static void destroyed_container_is_never_restarted(void **state)
{
    struct engine *e = start_engine(true);
    (void)state;
    die(e, false, "exit");
    die(e, false, "exit"); /* waits 100 ms */
    engine_container_destroyed(e, "user");
    fk.exists = false;
    advance(e, 1000);
    assert_int_equal(starts(), 1);
    assert_null(engine_state_json(e, "user"));
    /* a die whose container is gone by the time the worker inspects: dropped quietly */
    die(e, false, "exit");
    assert_int_equal(starts(), 1);
    assert_null(engine_state_json(e, "user"));
    engine_free(e);
}

static void operator_stop_left_alone_when_configured(void **state)
{
    struct engine *e = start_engine(false);
    (void)state;
    die(e, true, "exit");
    assert_int_equal(starts(), 0);
    assert_true(state_has(e, "\"operator_stopped\": true"));
    die(e, false, "reconcile"); /* after a reconnect: still the operator's stop */
    advance(e, 1000);
    assert_int_equal(starts(), 0);
    engine_container_started(e, "user"); /* the operator started it again */
    assert_true(state_has(e, "\"operator_stopped\": false"));
    advance(e, 60000);
    die(e, false, "exit"); /* a crash now is healed */
    assert_int_equal(starts(), 1);
    /* the label overrides the flag */
    fk.label = "trip.heal-operator-stops=true";
    advance(e, 60000);
    die(e, true, "exit");
    advance(e, 1000);
    assert_int_equal(starts(), 2);
    engine_free(e);
}

static void unreachable_daemon_backs_off_without_crash_loop_flag(void **state)
{
    struct engine *e = start_engine(true);
    (void)state;
    fk.unreachable = true;
    die(e, false, "exit"); /* attempt 1 fails: next in 100 ms, then 200, 400, ... */
    for (int64_t d = 100, n = 1; d <= 1600; d *= 2, n++) {
        advance(e, d - 1);
        assert_int_equal(fk.inspects, n);
        assert_true(state_has(e, "\"result\": \"error\""));
        advance(e, 1);
        assert_int_equal(fk.inspects, n + 1);
    }
    assert_int_equal(starts(), 0);
    assert_true(state_has(e, "\"crash_looping\": false"));
    fk.unreachable = false;
    advance(e, 3200);
    assert_int_equal(starts(), 1);
    assert_true(state_has(e, "\"crash_looping\": false"));
    engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(die_of_managed_container_is_a_heal),
        cmocka_unit_test(other_events_are_marks_or_ignored),
        cmocka_unit_test(heal_delay_doubles_from_100ms_to_a_1min_cap),
        cmocka_unit_test(operator_stops_follow_flag_then_label),
        cmocka_unit_test_setup(first_heal_is_immediate_later_ones_wait_the_backoff, setup),
        cmocka_unit_test_setup(exit_heal_starts_without_an_inspect, setup),
        cmocka_unit_test_setup(five_quick_heals_flag_crash_looping_until_stable, setup),
        cmocka_unit_test_setup(maintenance_blocks_heals_until_released, setup),
        cmocka_unit_test_setup(destroyed_container_is_never_restarted, setup),
        cmocka_unit_test_setup(operator_stop_left_alone_when_configured, setup),
        cmocka_unit_test_setup(unreachable_daemon_backs_off_without_crash_loop_flag, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
