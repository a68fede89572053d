/* test_engine_service.c: the engine's Swarm service path with an injected clock and an in-memory
 * Swarm. The fake stands in for what the real daemon cannot be made to do on demand: an
 * out-of-band update landing exactly between the engine's read and its write, every time, or a
 * clock that jumps. The same behaviours run against a real single-node swarm in
 * tests/integration/test_receiver_swarm.c. */
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
#include "log.h"
#include "store.h"

#define GIB (1024LL * 1024 * 1024)
#define MIB (1024LL * 1024)
#define CPU 1000000000LL
#define T0 1800000000000LL
#define DURATION_MS 300000

struct fake_svc {
    char name[64];
    char id[32];
    uint64_t version;
    bool global;
    int64_t replicas;
    struct docker_service_resources res;
    const char *labels[6]; /* "k=v" */
    int conflicts;         /* the next updates refused: someone else updates first */
    int64_t oob_replicas;  /* what that someone sets the replicas to (0: leaves them) */
    char oob_env[32];      /* ... and a field the engine must not overwrite */
    int fail_update;       /* the next updates refused with 400 */
};

static struct {
    pthread_mutex_t lock;
    struct fake_svc s[4];
    size_t n;
    int updates, conflicts_seen;
} fk = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct fake_svc *find(const char *name)
{
    for (size_t i = 0; i < fk.n; i++) {
        if (strcmp(fk.s[i].name, name) == 0 || strcmp(fk.s[i].id, name) == 0)
            return &fk.s[i];
    }
    return NULL;
}

static struct fake_svc *add(const char *name, int64_t replicas, const char *max, const char *step)
{
    struct fake_svc *s = &fk.s[fk.n++];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->id, sizeof(s->id), "svc%s0000000000000000", name);
    s->version = 10;
    s->replicas = replicas;
    s->res = (struct docker_service_resources){CPU / 2, 1 * GIB, CPU / 4, 512 * MIB};
    size_t n = 0;
    s->labels[n++] = "trip.enable=true";
    if (max)
        s->labels[n++] = max;
    if (step)
        s->labels[n++] = step;
    return s;
}

static void copy_labels(struct docker_labels *l, const char *const *src)
{
    size_t n = 0;
    while (n < 6 && src[n])
        n++;
    l->v = calloc(n + 1, sizeof(*l->v));
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(src[i], '=');
        l->v[i].key = strndup(src[i], (size_t)(eq - src[i]));
        l->v[i].value = strdup(eq + 1);
    }
    l->n = n;
}

static docker_code f_inspect(void *ud, const char *name, struct docker_container *out,
                             struct docker_err *err)
{
    (void)ud;
    (void)out;
    err->code = DOCKER_E_NOT_FOUND;
    snprintf(err->msg, sizeof(err->msg), "inspect %s: No such container: %s", name, name);
    return DOCKER_E_NOT_FOUND;
}

static docker_code f_list(void *ud, struct docker_summary_list *out, struct docker_err *err)
{
    (void)ud;
    (void)err;
    memset(out, 0, sizeof(*out));
    return DOCKER_OK;
}

static docker_code f_svc_inspect(void *ud, const char *name, struct docker_service *out,
                                 struct docker_err *err)
{
    (void)ud;
    pthread_mutex_lock(&fk.lock);
    struct fake_svc *s = find(name);
    if (!s) {
        pthread_mutex_unlock(&fk.lock);
        err->code = DOCKER_E_NOT_FOUND;
        snprintf(err->msg, sizeof(err->msg), "inspect service %s: service %s not found", name,
                 name);
        return DOCKER_E_NOT_FOUND;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", s->id);
    snprintf(out->name, sizeof(out->name), "%s", s->name);
    out->version = s->version;
    out->global = s->global;
    out->replicas = s->global ? 0 : s->replicas;
    out->res = s->res;
    copy_labels(&out->labels, s->labels);
    out->spec = strdup("{}");
    pthread_mutex_unlock(&fk.lock);
    return DOCKER_OK;
}

static docker_code f_svc_update(void *ud, const struct docker_service *cur,
                                const struct docker_service_change *chg, struct docker_err *err)
{
    (void)ud;
    pthread_mutex_lock(&fk.lock);
    struct fake_svc *s = find(cur->id);
    fk.updates++;
    if (s && s->conflicts > 0) { /* someone else's update lands first */
        s->conflicts--;
        fk.conflicts_seen++;
        s->version++;
        if (s->oob_replicas)
            s->replicas = s->oob_replicas;
        snprintf(s->oob_env, sizeof(s->oob_env), "LEVEL=%d", fk.conflicts_seen);
    }
    if (!s || cur->version != s->version) {
        pthread_mutex_unlock(&fk.lock);
        err->code = DOCKER_E_CONFLICT;
        snprintf(err->msg, sizeof(err->msg),
                 "update service %.60s: rpc error: code = Unknown desc = update out of sequence",
                 cur->name);
        return DOCKER_E_CONFLICT;
    }
    if (s->fail_update > 0) {
        s->fail_update--;
        pthread_mutex_unlock(&fk.lock);
        err->code = DOCKER_E_BAD_REQUEST;
        snprintf(err->msg, sizeof(err->msg), "update service %.60s: invalid resources", cur->name);
        return DOCKER_E_BAD_REQUEST;
    }
    if (chg->has_replicas)
        s->replicas = chg->replicas;
    if (chg->has_resources)
        s->res = chg->res;
    s->version++;
    pthread_mutex_unlock(&fk.lock);
    return DOCKER_OK;
}

static docker_code f_svc_list(void *ud, struct docker_service_list *out, struct docker_err *err)
{
    (void)ud;
    (void)err;
    memset(out, 0, sizeof(*out));
    return DOCKER_OK;
}

static const struct engine_docker_ops fake_ops = {
    f_inspect, NULL, NULL, NULL, f_list, NULL, f_svc_inspect, f_svc_update, f_svc_list};

static struct engine_opts base_opts(void)
{
    struct engine_opts o = {
        .lim = {.cpu_shares = 1024,
                .max_cpu_shares = 4096,
                .memory = 2 * GIB,
                .max_memory = 16 * GIB,
                .scale_duration_ms = DURATION_MS,
                .min_duration_ms = 1000,
                .max_duration_ms = 86400000,
                .heal = true,
                .max_nano_cpus = 8 * CPU,
                .max_replicas = 10,
                .replicas_step = 1},
        .max_hold_ms = 3600000,
        .workers = 2,
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
    fk.updates = fk.conflicts_seen = 0;
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
    snprintf(j.alertname, sizeof(j.alertname), "ServiceHighCpu");
    assert_int_equal(engine_submit(e, &j, NULL), ENGINE_OK);
    engine_wait_idle(e);
}

static int64_t replicas_of(const char *name)
{
    pthread_mutex_lock(&fk.lock);
    int64_t v = find(name)->replicas;
    pthread_mutex_unlock(&fk.lock);
    return v;
}

static struct docker_service_resources res_of(const char *name)
{
    pthread_mutex_lock(&fk.lock);
    struct docker_service_resources v = find(name)->res;
    pthread_mutex_unlock(&fk.lock);
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
    add("web", 1, "trip.max-replicas=3", NULL);
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
    add("api", 1, NULL, NULL);
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
    struct fake_svc *s = add("web", 1, "trip.max-replicas=10", "trip.replicas-step=2");
    s->conflicts = 1; /* an operator's `docker service update` lands between read and write */
    s->oob_replicas = 4;
    struct engine_opts o = base_opts();
    struct engine *e = ts_engine_start(&o);

    alert(e, "web", POLICY_SCALE_OUT, POLICY_REPLICAS, "fp1");
    assert_int_equal(fk.conflicts_seen, 1);
    assert_int_equal(fk.updates, 2);
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
    assert_int_equal(fk.conflicts_seen, 2);
    engine_free(e);
}

static void endless_conflicts_give_up_and_record_nothing(void **state)
{
    (void)state;
    struct fake_svc *s = add("web", 1, NULL, NULL);
    s->conflicts = 100;
    struct engine_opts o = base_opts();
    struct engine *e = ts_engine_start(&o);
    struct ts_waiter w;

    manual(e, &w, POLICY_SCALE_OUT, POLICY_REPLICAS, "web");
    assert_int_equal(w.status, 502);
    assert_non_null(strstr(w.body, "update out of sequence"));
    assert_int_equal(fk.updates, 3); /* SERVICE_TRIES */
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
    struct fake_svc *s = add("api", 1, NULL, NULL);
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
    struct fake_svc *g = add("agent", 0, NULL, NULL);
    g->global = true;
    add("web", 1, NULL, NULL);
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
    assert_int_equal(fk.updates, 0);
    engine_free(e);
}

static void dry_run_changes_no_service(void **state)
{
    (void)state;
    add("web", 1, NULL, NULL);
    struct engine_opts o = base_opts();
    o.dry_run = true;
    struct engine *e = ts_engine_start(&o);
    struct ts_waiter w;

    manual(e, &w, POLICY_SCALE_OUT, POLICY_REPLICAS, "web");
    assert_int_equal(w.status, 200);
    assert_non_null(strstr(w.body, "\"result\":\"dry_run\""));
    assert_int_equal(fk.updates, 0);
    assert_int_equal(replicas_of("web"), 1);
    engine_free(e);
}

static void service_claim_survives_a_restart(void **state)
{
    (void)state;
    char dir[] = "/tmp/trip-svc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    add("web", 2, NULL, NULL);
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
    add("web", 3, "trip.max-replicas=3", NULL);
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
    unlink(path);
    rmdir(dir);
    store_free(o.store);
}

int main(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(replicas_step_out_and_back_to_the_baseline, setup),
        cmocka_unit_test_setup(cpu_and_memory_limits_keep_reservations_in_proportion, setup),
        cmocka_unit_test_setup(version_conflict_is_read_again_and_decided_on_what_is_there, setup),
        cmocka_unit_test_setup(endless_conflicts_give_up_and_record_nothing, setup),
        cmocka_unit_test_setup(refused_update_is_not_recorded, setup),
        cmocka_unit_test_setup(global_services_and_restarts_are_refused, setup),
        cmocka_unit_test_setup(dry_run_changes_no_service, setup),
        cmocka_unit_test_setup(service_claim_survives_a_restart, setup),
        cmocka_unit_test_setup(service_state_file_of_version_1_loads, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
