/* test_engine_state.c: the engine's state file: claims survive a restart and are acted on, text
 * that is cut stays valid, a file of the previous version (tests/fixtures/state-v1-*.json, as
 * the receiver wrote it before the file had its own codec) loads and is rewritten in the current
 * one, a newer one is refused. With the shared fake Docker (tests/support/ts_fakedocker.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "engine.h"
#include "log.h"
#include "store.h"
#include "ts_common.h"
#include "ts_engine.h"
#include "ts_fakedocker.h"

#define GIB TS_GIB
#define T0 TS_T0

static struct engine_opts base_opts(void)
{
    return ts_engine_opts(&ts_fake_ops_containers, 4);
}

static void alert(struct engine *e, const char *name, enum policy_kind kind, enum policy_resource r,
                  const char *fp)
{
    ts_engine_alert(e, name, kind, r, fp, "ContainerHighCpu");
}

static void state_survives_restart_and_overdue_scales_in(void **state)
{
    char dir[] = "/tmp/trip-engine-XXXXXX";
    struct engine_opts o = base_opts();
    (void)state;
    assert_non_null(mkdtemp(dir));
    o.store = store_new(dir, NULL);
    ts_fake_add("user", 300, GIB, true);
    ts_fake_add("gone", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    alert(e, "gone", POLICY_SCALE_OUT, POLICY_CPU, "fp2");
    alert(e, "user", POLICY_RESOLVE, POLICY_CPU, "fp1");
    engine_wait_idle(e);
    engine_free(e); /* the table is on disk */
    ts_fk.n = 1;    /* "gone" was removed while the receiver was down */
    ts_engine_clock_set(ts_engine_clock(NULL) + 400000);
    e = ts_engine_start(&o);
    engine_wait_idle(e);
    engine_tick(e);
    engine_wait_idle(e);
    assert_int_equal(ts_fake_shares("user"), 300);
    char *s = engine_state_json(e, NULL);
    assert_null(strstr(s, "\"gone\""));
    free(s);
    engine_free(e);
    char path[64];
    snprintf(path, sizeof(path), "%s/state.json", dir);
    ts_state_dir_remove(dir, o.store);
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
    ts_fake_add("web", 1024, GIB, true);
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
    ts_state_dir_remove(dir, o.store);
}

/* Copies fixture `name` to <dir>/state.json. */
static void put_state_file(const char *dir, const char *name)
{
    char path[64];
    json_error_t jerr;
    json_t *doc = json_load_file(ts_fixture(name), 0, &jerr);

    assert_non_null(doc);
    snprintf(path, sizeof(path), "%s/state.json", dir);
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
}

/* The loaded claims of tests/fixtures/state-v1-containers.json, as the API shows them. */
static void assert_v1_containers_loaded(struct engine *e)
{
    json_t *j = ts_engine_state(e, "user");
    assert_true(json_is_true(json_object_get(json_object_get(j, "cpu"), "scaled_out")));
    assert_int_equal(ts_state_i64(j, "cpu", "baseline"), 300);
    assert_int_equal(ts_state_i64(j, "cpu", "applied"), 1024);
    assert_int_equal(ts_state_i64(j, "cpu", "deadline_ms"), T0 + 300000);
    assert_int_equal(ts_state_i64(j, "memory", "baseline"), GIB);
    assert_int_equal(ts_state_i64(j, "memory", "baseline_swap"), 2 * GIB);
    assert_int_equal(ts_state_i64(j, "memory", "applied_swap"), 4 * GIB);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_object_get(j, "memory"), "firing"), 0),
            "fingerprint")),
        "fp2");
    json_decref(j);
    j = ts_engine_state(e, "db");
    assert_true(json_is_true(json_object_get(j, "maintenance")));
    assert_false(json_is_true(json_object_get(json_object_get(j, "cpu"), "scaled_out")));
    assert_int_equal(ts_state_i64(j, "cpu", "baseline"), 512);
    json_decref(j);
}

/* A state file as the receiver wrote it before the file had its own codec (version 1, the API's
 * view) loads; the next save writes the current version, which loads the same. */
static void state_file_of_version_1_loads_and_is_rewritten(void **state)
{
    char dir[] = "/tmp/trip-engine-XXXXXX", path[64];
    struct engine_opts o = base_opts();
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state.json", dir);
    put_state_file(dir, "state-v1-containers.json");
    o.store = store_new(dir, NULL);
    ts_fake_add("user", 1024, 2 * GIB, true)->swap = 4 * GIB;
    ts_fake_add("db", 512, 2 * GIB, true);
    struct engine *e = ts_engine_start(&o);
    engine_wait_idle(e);
    assert_v1_containers_loaded(e);
    engine_free(e); /* saves in the current version */

    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "version")), 2);
    assert_null(json_object_get(json_array_get(json_object_get(doc, "containers"), 0), "heal"));
    json_decref(doc);
    e = ts_engine_start(&o);
    engine_wait_idle(e);
    assert_v1_containers_loaded(e);
    /* the loaded claim is acted on: its alert still firing, past --max-hold (1 h) back to the
     * baseline of 300 shares */
    ts_engine_clock_set(T0 + 3600000 + 1000);
    ts_engine_advance(e, 0);
    assert_int_equal(ts_fake_shares("user"), 300);
    engine_free(e);
    ts_state_dir_remove(dir, o.store);
}

/* A file written by a newer receiver is refused with what to do, not half read. */
static void state_file_of_a_newer_version_is_refused(void **state)
{
    char dir[] = "/tmp/trip-engine-XXXXXX", path[64];
    struct engine_opts o = base_opts();
    struct engine *e = NULL;
    struct engine_err err = {0};
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state.json", dir);
    json_t *doc = json_pack("{s:i, s:[]}", "version", 99, "containers");
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
    o.store = store_new(dir, NULL);
    assert_int_equal(engine_new(&o, &e, NULL), ENGINE_OK);
    assert_int_equal(engine_load(e, &err), ENGINE_E_STORE);
    assert_non_null(strstr(err.msg, "version 99 is newer"));
    engine_free(e);
    ts_state_dir_remove(dir, o.store);
}

/* A file of the wrong shape is refused whole and left as it is (once "{}" loaded as an empty table
 * and was rewritten over what the operator had; "version": 0 or a string was read as version 1). */
static void state_files_of_the_wrong_shape_are_refused(void **state)
{
    static const struct {
        const char *text;
        const char *msg;
    } rows[] = {
        {"{}", "no \"containers\" array"},
        {"{\"version\": 2}", "no \"containers\" array"},
        {"{\"version\": 2, \"containers\": {}}", "no \"containers\" array"},
        {"{\"version\": \"2\", \"containers\": []}", "\"version\" is not a number"},
        {"{\"version\": 0, \"containers\": []}", "version 0 was never written"},
        {"{\"version\": -3, \"containers\": []}", "version -3 was never written"},
        {"{\"version\": 2, \"containers\": [1]}", "containers[0] is not an object"},
        {"{\"version\": 2, \"containers\": [{\"id\": \"abc\"}]}", "containers[0] is not an object"},
        {"{\"version\": 2, \"containers\": [{\"name\": \"\"}]}", "containers[0] is not an object"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char dir[] = "/tmp/trip-engine-XXXXXX", path[64];
        struct engine_opts o = base_opts();
        struct engine *e = NULL;
        struct engine_err err = {0};
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/state.json", dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(rows[i].text, f);
        fclose(f);
        o.store = store_new(dir, NULL);
        assert_int_equal(engine_new(&o, &e, NULL), ENGINE_OK);
        assert_int_equal(engine_load(e, &err), ENGINE_E_STORE);
        if (!strstr(err.msg, rows[i].msg))
            fail_msg("%s: %s", rows[i].text, err.msg);
        assert_non_null(strstr(err.msg, "move it aside"));
        engine_free(e);
        char *after = ts_read_file(path, NULL);
        assert_string_equal(after, rows[i].text); /* not rewritten */
        free(after);
        ts_state_dir_remove(dir, o.store);
    }
}

int main(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(state_survives_restart_and_overdue_scales_in, ts_engine_setup),
        cmocka_unit_test_setup(multibyte_text_in_the_state_file_survives_a_reload, ts_engine_setup),
        cmocka_unit_test_setup(state_file_of_version_1_loads_and_is_rewritten, ts_engine_setup),
        cmocka_unit_test_setup(state_file_of_a_newer_version_is_refused, ts_engine_setup),
        cmocka_unit_test_setup(state_files_of_the_wrong_shape_are_refused, ts_engine_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
