/* test_engine_service.c: the engine's Swarm service path with an injected clock and an in-memory
 * Swarm (the shared fake, tests/support/ts_fakedocker.h). The fake stands in for what the real
 * daemon cannot be made to do on demand: an out-of-band update landing exactly between the engine's
 * read and its write, every time, or a clock that jumps. The same behaviours run against a real
 * single-node swarm in tests/integration/test_receiver_swarm.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "engine.h"
#include "ts_common.h"
#include "ts_engine.h"
#include "ts_fakedocker.h"
#include "log.h"
#include "store.h"

#define GIB (1024LL * 1024 * 1024)
#define MIB (1024LL * 1024)
#define CPU 1000000000LL
#define T0 TS_T0
#define DURATION_MS 300000

static struct engine_opts base_opts(void)
{
    return ts_engine_opts(&ts_fake_ops, 2);
}

static void alert(struct engine *e, const char *name, enum policy_kind kind, enum policy_resource r,
                  const char *fp)
{
    ts_engine_alert(e, name, kind, r, fp, "ServiceHighCpu");
    engine_wait_idle(e);
}

static int64_t replicas_of(const char *name)
{
    pthread_mutex_lock(&ts_fk.lock);
    int64_t v = ts_fake_find_service(name)->replicas;
    pthread_mutex_unlock(&ts_fk.lock);
    return v;
}

static struct docker_service_resources res_of(const char *name)
{
    pthread_mutex_lock(&ts_fk.lock);
    struct docker_service_resources v = ts_fake_find_service(name)->res;
    pthread_mutex_unlock(&ts_fk.lock);
    return v;
}

/* A manual call, answered. */
static void manual(struct engine *e, struct ts_waiter *w, enum policy_kind kind,
                   enum policy_resource r, const char *name)
{
    ts_engine_manual(e, w, kind, r, name, NULL, false);
    ts_waiter_wait(w);
}

static void replicas_step_out_and_back_to_the_baseline(void **state)
{
    (void)state;
    ts_fake_add_service("web", 1, "trip.max-replicas=3", NULL);
    struct engine_opts o = base_opts();
    struct engine *e = ts_engine_start(&o);

    alert(e, "web", POLICY_SCALE_OUT, POLICY_REPLICAS, "fp1");
    assert_int_equal(replicas_of("web"), 2);
    json_t *j = ts_engine_state(e, "web");
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "service");
    assert_true(json_is_true(json_object_get(json_object_get(j, "replicas"), "scaled_out")));
    assert_int_equal(ts_state_i64(j, "replicas", "baseline"), 1);
    assert_int_equal(ts_state_i64(j, "replicas", "applied"), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 10); /* acted on */
    json_decref(j);

    /* The same alert repeated within a scale duration: no second step. */
    ts_engine_advance(e, 60000);
    alert(e, "web", POLICY_SCALE_OUT, POLICY_REPLICAS, "fp1");
    assert_int_equal(replicas_of("web"), 2);
    /* Still firing a whole scale duration after the step: one more step, then the maximum. */
    ts_engine_advance(e, DURATION_MS);
    alert(e, "web", POLICY_SCALE_OUT, POLICY_REPLICAS, "fp1");
    assert_int_equal(replicas_of("web"), 3);
    ts_engine_advance(e, DURATION_MS);
    alert(e, "web", POLICY_SCALE_OUT, POLICY_REPLICAS, "fp1");
    assert_int_equal(replicas_of("web"), 3);

    /* Resolved, deadline passed: back to the recorded baseline, not to 1 step less. */
    alert(e, "web", POLICY_RESOLVE, POLICY_REPLICAS, "fp1");
    ts_engine_advance(e, DURATION_MS + 1000);
    assert_int_equal(replicas_of("web"), 1);
    j = ts_engine_state(e, "web");
    assert_false(json_is_true(json_object_get(json_object_get(j, "replicas"), "scaled_out")));
    json_decref(j);
    engine_free(e);
}

static void cpu_and_memory_limits_keep_reservations_in_proportion(void **state)
{
    (void)state;
    ts_fake_add_service("api", 1, NULL, NULL);
    struct engine_opts o = base_opts();
    struct engine *e = ts_engine_start(&o);

    alert(e, "api", POLICY_SCALE_OUT, POLICY_CPU, "c1"); /* no trip.cpus: twice the limit */
    alert(e, "api", POLICY_SCALE_OUT, POLICY_MEMORY, "m1");
    struct docker_service_resources r = res_of("api");
    assert_int_equal(r.limit_nano_cpus, CPU);
    assert_int_equal(r.reserve_nano_cpus, CPU / 2);
    assert_int_equal(r.limit_memory, 2 * GIB);
    assert_int_equal(r.reserve_memory, 1 * GIB);
    assert_int_equal(replicas_of("api"), 1);

    alert(e, "api", POLICY_RESOLVE, POLICY_CPU, "c1");
    alert(e, "api", POLICY_RESOLVE, POLICY_MEMORY, "m1");
    ts_engine_advance(e, DURATION_MS + 1000);
    r = res_of("api");
    assert_int_equal(r.limit_nano_cpus, CPU / 2);
    assert_int_equal(r.reserve_nano_cpus, CPU / 4);
    assert_int_equal(r.limit_memory, 1 * GIB);
    assert_int_equal(r.reserve_memory, 512 * MIB);
    engine_free(e);
}

static void version_conflict_is_read_again_and_decided_on_what_is_there(void **state)
{
    (void)state;
    struct ts_fake_svc *s =
        ts_fake_add_service("web", 1, "trip.max-replicas=10", "trip.replicas-step=2");
    s->conflicts = 1; /* an operator's `docker service update` lands between read and write */
    s->oob_replicas = 4;
    struct engine_opts o = base_opts();
    struct engine *e = ts_engine_start(&o);

    alert(e, "web", POLICY_SCALE_OUT, POLICY_REPLICAS, "fp1");
    assert_int_equal(ts_fk.conflicts_seen, 1);
    assert_int_equal(ts_fk.updates, 2);
    /* Decided again from the operator's 4, not written over with the stale 1 + 2. */
    assert_int_equal(replicas_of("web"), 6);
    json_t *j = ts_engine_state(e, "web");
    assert_int_equal(ts_state_i64(j, "replicas", "baseline"), 4);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 11);
    json_decref(j);

    /* The same on the way back. */
    s->conflicts = 1;
    s->oob_replicas = 0; /* a change of something else (its env) */
    alert(e, "web", POLICY_RESOLVE, POLICY_REPLICAS, "fp1");
    ts_engine_advance(e, DURATION_MS + 1000);
    assert_int_equal(replicas_of("web"), 4);
    assert_int_equal(ts_fk.conflicts_seen, 2);
    engine_free(e);
}

static void endless_conflicts_give_up_and_record_nothing(void **state)
{
    (void)state;
    struct ts_fake_svc *s = ts_fake_add_service("web", 1, NULL, NULL);
    s->conflicts = 100;
    struct engine_opts o = base_opts();
    struct engine *e = ts_engine_start(&o);
    struct ts_waiter w;

    manual(e, &w, POLICY_SCALE_OUT, POLICY_REPLICAS, "web");
    assert_int_equal(w.status, 502);
    assert_non_null(strstr(w.body, "update out of sequence"));
    assert_int_equal(ts_fk.updates, 3); /* SERVICE_TRIES */
    assert_int_equal(replicas_of("web"), 1);
    json_t *j = ts_engine_state(e, "web");
    assert_false(json_is_true(json_object_get(json_object_get(j, "replicas"), "scaled_out")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "last_action"), "result")), "error");
    json_decref(j);
    engine_free(e);
}

static void refused_update_is_not_recorded(void **state)
{
    (void)state;
    struct ts_fake_svc *s = ts_fake_add_service("api", 1, NULL, NULL);
    s->fail_update = 1;
    struct engine_opts o = base_opts();
    struct engine *e = ts_engine_start(&o);
    struct ts_waiter w;

    manual(e, &w, POLICY_SCALE_OUT, POLICY_MEMORY, "api");
    assert_int_equal(w.status, 502);
    assert_non_null(strstr(w.body, "invalid resources"));
    json_t *j = ts_engine_state(e, "api");
    assert_false(json_is_true(json_object_get(json_object_get(j, "memory"), "scaled_out")));
    json_decref(j);
    manual(e, &w, POLICY_SCALE_OUT, POLICY_MEMORY, "api"); /* later, the daemon agrees */
    assert_int_equal(w.status, 200);
    assert_int_equal(res_of("api").limit_memory, 2 * GIB);
    engine_free(e);
}

static void global_services_and_restarts_are_refused(void **state)
{
    (void)state;
    struct ts_fake_svc *g = ts_fake_add_service("agent", 0, NULL, NULL);
    g->global = true;
    ts_fake_add_service("web", 1, NULL, NULL);
    struct engine_opts o = base_opts();
    struct engine *e = ts_engine_start(&o);
    struct ts_waiter w;

    manual(e, &w, POLICY_SCALE_OUT, POLICY_REPLICAS, "agent");
    assert_int_equal(w.status, 422);
    assert_non_null(strstr(w.body, "never scaled horizontally"));
    manual(e, &w, POLICY_RESTART, POLICY_CPU, "web");
    assert_int_equal(w.status, 422);
    assert_non_null(strstr(w.body, "restart policy"));
    manual(e, &w, POLICY_SCALE_OUT, POLICY_REPLICAS, "nothing-here");
    assert_int_equal(w.status, 404);
    assert_non_null(strstr(w.body, "no such container or service"));
    assert_int_equal(ts_fk.updates, 0);
    engine_free(e);
}

static void dry_run_changes_no_service(void **state)
{
    (void)state;
    ts_fake_add_service("web", 1, NULL, NULL);
    struct engine_opts o = base_opts();
    o.dry_run = true;
    struct engine *e = ts_engine_start(&o);
    struct ts_waiter w;

    manual(e, &w, POLICY_SCALE_OUT, POLICY_REPLICAS, "web");
    assert_int_equal(w.status, 200);
    assert_non_null(strstr(w.body, "\"result\":\"dry_run\""));
    assert_int_equal(ts_fk.updates, 0);
    assert_int_equal(replicas_of("web"), 1);
    engine_free(e);
}

static void service_claim_survives_a_restart(void **state)
{
    (void)state;
    char dir[] = "/tmp/trip-svc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ts_fake_add_service("web", 2, NULL, NULL);
    struct store *st = store_new(dir, NULL);
    assert_non_null(st);
    struct engine_opts o = base_opts();
    o.store = st;
    struct engine *e = ts_engine_start(&o);
    alert(e, "web", POLICY_SCALE_OUT, POLICY_REPLICAS, "fp1");
    assert_int_equal(replicas_of("web"), 3);
    engine_free(e); /* the receiver stops while the service is scaled out */

    e = ts_engine_start(&o); /* loads the claim and reconciles it against the service */
    engine_wait_idle(e);
    json_t *j = ts_engine_state(e, "web");
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "service");
    assert_int_equal(ts_state_i64(j, "replicas", "baseline"), 2);
    json_decref(j);
    alert(e, "web", POLICY_RESOLVE, POLICY_REPLICAS, "fp1");
    ts_engine_advance(e, DURATION_MS + 1000);
    assert_int_equal(replicas_of("web"), 2);
    engine_free(e);
    store_free(st);
    char path[128];
    snprintf(path, sizeof(path), "%s/state.json", dir);
    unlink(path);
    rmdir(dir);
}

/* A service's claim in a state file as the receiver wrote it before the file had its own codec
 * (version 1) loads, and is scaled in to the recorded baseline. */
static void service_state_file_of_version_1_loads(void **state)
{
    char dir[] = "/tmp/trip-engine-svc-XXXXXX", path[80];
    json_error_t jerr;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state.json", dir);
    json_t *doc = json_load_file(ts_fixture("state-v1-service.json"), 0, &jerr);
    assert_non_null(doc);
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
    ts_fake_add_service("web", 3, "trip.max-replicas=3", NULL);
    struct engine_opts o = base_opts();
    o.store = store_new(dir, NULL);
    struct engine *e = ts_engine_start(&o);
    engine_wait_idle(e);
    json_t *j = ts_engine_state(e, "web");
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "service");
    assert_true(json_is_true(json_object_get(json_object_get(j, "replicas"), "scaled_out")));
    assert_int_equal(ts_state_i64(j, "replicas", "baseline"), 1);
    assert_int_equal(ts_state_i64(j, "replicas", "applied"), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 11);
    json_decref(j);
    ts_engine_clock_set(T0 + 360000 + 3600000 + 1000); /* its alert firing: past --max-hold */
    ts_engine_advance(e, 0);
    assert_int_equal(replicas_of("web"), 1);
    engine_free(e);
    ts_state_dir_remove(dir, o.store);
}

int main(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(replicas_step_out_and_back_to_the_baseline, ts_engine_setup),
        cmocka_unit_test_setup(cpu_and_memory_limits_keep_reservations_in_proportion,
                               ts_engine_setup),
        cmocka_unit_test_setup(version_conflict_is_read_again_and_decided_on_what_is_there,
                               ts_engine_setup),
        cmocka_unit_test_setup(endless_conflicts_give_up_and_record_nothing, ts_engine_setup),
        cmocka_unit_test_setup(refused_update_is_not_recorded, ts_engine_setup),
        cmocka_unit_test_setup(global_services_and_restarts_are_refused, ts_engine_setup),
        cmocka_unit_test_setup(dry_run_changes_no_service, ts_engine_setup),
        cmocka_unit_test_setup(service_claim_survives_a_restart, ts_engine_setup),
        cmocka_unit_test_setup(service_state_file_of_version_1_loads, ts_engine_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
