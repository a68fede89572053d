/* test_engine_state.c: the engine's state file: claims survive a restart and are acted on, text
 * that is cut stays valid, a file of the previous version (tests/fixtures/state-v1-*.json, as
 * the receiver wrote it before the file had its own codec) loads and is rewritten in the current
 * one, a newer one is refused; the write-ahead claim is in the journal before Docker is called,
 * and the journal's records newer than the file are loaded over it. With the shared fake Docker
 * (tests/support/ts_fakedocker.h). */
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

/* A claim in state.json on a container that no longer opts in (same ID, trip.enable gone, e.g. a
 * state file carried over or a receiver restarted with --manage-all off): dropped at start-up,
 * never scaled in, at the deadline neither. */
static void loaded_claim_on_a_container_that_no_longer_opts_in_is_dropped(void **state)
{
    char dir[] = "/tmp/trip-engine-XXXXXX", path[64];
    struct engine_opts o = base_opts();
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state.json", dir);
    json_t *doc = json_pack("{s:i, s:[{s:s, s:s, s:s, s:{s:b, s:i, s:i, s:I, s:I, s:[]}}]}",
                            "version", 2, "containers", "name", "nomgd", "id", "id-nomgd", "kind",
                            "container", "cpu", "scaled_out", 1, "baseline", 512, "applied",
                            1024, "deadline_ms", (json_int_t)(T0 - 1000), "since_ms",
                            (json_int_t)(T0 - 60000), "firing");
    assert_non_null(doc);
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
    o.store = store_new(dir, NULL);
    ts_fake_add("nomgd", 1024, GIB, false); /* labelled other=1: no trip.enable */
    struct engine *e = ts_engine_start(&o);
    engine_wait_idle(e);
    ts_engine_advance(e, 1000);
    ts_engine_clock_set(T0 + 3600000 + 1000); /* past --max-hold too */
    ts_engine_advance(e, 0);
    assert_int_equal(ts_fake_shares("nomgd"), 1024);
    pthread_mutex_lock(&ts_fk.lock);
    assert_int_equal(ts_fk.updates, 0);
    pthread_mutex_unlock(&ts_fk.lock);
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
        /* keyed by container ID: a claim without one could land on whatever carries the name now
         * (an "id": "" entry once had an unmanaged container's shares changed at start-up) */
        {"{\"version\": 2, \"containers\": [{\"name\": \"web\", \"id\": \"\", \"cpu\": "
         "{\"scaled_out\": true, \"baseline\": 512, \"applied\": 1024}}]}",
         "containers[0] has no container or service \"id\""},
        {"{\"version\": 2, \"containers\": [{\"name\": \"web\"}]}",
         "containers[0] has no container or service \"id\""},
        {"{\"version\": 2, \"containers\": [{\"name\": \"a\", \"id\": \"id-a\"}, {\"name\": "
         "\"b\", \"id\": 7}]}",
         "containers[1] has no container or service \"id\""},
        {"{\"containers\": [{\"name\": \"web\", \"id\": \"\"}]}",
         "containers[0] has no container or service \"id\""},
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

/* The state a restart would load from dir right now (a second engine, not started). */
static json_t *state_on_disk(const char *dir, const char *name, struct engine_err *err)
{
    struct engine_opts o = base_opts();
    struct engine *e = NULL;
    json_t *j = NULL;

    o.store = store_new(dir, NULL);
    assert_int_equal(engine_new(&o, &e, NULL), ENGINE_OK);
    if (engine_load(e, err) == ENGINE_OK)
        j = ts_engine_state(e, name);
    engine_free(e);
    store_free(o.store);
    return j;
}

/* Whether a restart from dir would have an entry for name. */
static bool on_disk_has(const char *dir, const char *name)
{
    struct engine_opts o = base_opts();
    struct engine *e = NULL;

    o.store = store_new(dir, NULL);
    assert_int_equal(engine_new(&o, &e, NULL), ENGINE_OK);
    assert_int_equal(engine_load(e, NULL), ENGINE_OK);
    char *s = engine_state_json(e, name);
    engine_free(e);
    store_free(o.store);
    free(s);
    return s != NULL;
}

/* While Docker's update is in flight, the claim is on disk (in the journal): a crash then leaves
 * a scaled-out container with its deadline and true baseline. The action's end is a record too;
 * a save of the whole table (here at shutdown) then holds it all and cuts the journal. */
static void claim_is_on_disk_before_the_update(void **state)
{
    char dir[] = "/tmp/trip-engine-XXXXXX", path[64];
    struct engine_opts o = base_opts();
    (void)state;
    assert_non_null(mkdtemp(dir));
    o.store = store_new(dir, NULL);
    struct ts_fake_ct *c = ts_fake_add("user", 300, GIB, true);
    struct engine *e = ts_engine_start(&o);
    pthread_mutex_lock(&ts_fk.lock);
    c->gate = true; /* the update hangs until the gate opens */
    pthread_mutex_unlock(&ts_fk.lock);
    alert(e, "user", POLICY_SCALE_OUT, POLICY_CPU, "fp1");
    pthread_mutex_lock(&ts_fk.lock);
    while (ts_fk.blocked == 0)
        pthread_cond_wait(&ts_fk.cond, &ts_fk.lock);
    pthread_mutex_unlock(&ts_fk.lock);
    snprintf(path, sizeof(path), "%s/journal", dir);
    char *journal = ts_read_file(path, NULL);
    assert_non_null(journal);
    assert_non_null(strstr(journal, "\"scaled_out\":true"));
    free(journal);
    struct engine_err err = {0};
    json_t *j = state_on_disk(dir, "user", &err);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(json_object_get(j, "cpu"), "scaled_out")));
    assert_int_equal(ts_state_i64(j, "cpu", "baseline"), 300);
    assert_int_equal(ts_state_i64(j, "cpu", "applied"), 1024);
    assert_true(ts_state_i64(j, "cpu", "deadline_ms") > T0);
    json_decref(j);
    pthread_mutex_lock(&ts_fk.lock);
    c->gate = false;
    pthread_cond_broadcast(&ts_fk.cond);
    pthread_mutex_unlock(&ts_fk.lock);
    engine_wait_idle(e);
    assert_int_equal(ts_fake_shares("user"), 1024);
    journal = ts_read_file(path, NULL); /* the action's end is one more record */
    assert_non_null(strstr(journal, "\"result\":\"ok\""));
    free(journal);
    j = state_on_disk(dir, "user", &err);
    assert_true(json_is_true(json_object_get(json_object_get(j, "cpu"), "scaled_out")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "last_action"),
                                                          "result")),
                        "ok");
    json_decref(j);
    engine_free(e); /* saves the whole table, which cuts the journal */
    journal = ts_read_file(path, NULL);
    assert_string_equal(journal, "");
    free(journal);
    snprintf(path, sizeof(path), "%s/state.json", dir);
    char *file = ts_read_file(path, NULL);
    assert_non_null(strstr(file, "\"scaled_out\": true"));
    free(file);
    ts_state_dir_remove(dir, o.store);
}

static void put_text(const char *dir, const char *file, const char *text)
{
    char path[64];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#define CPU_OUT(gen, base)                                                                         \
    "{\"gen\":" #gen ",\"entry\":{\"name\":\"user\",\"id\":\"id-user\",\"kind\":\"container\","       \
    "\"cpu\":{\"scaled_out\":true,\"baseline\":" #base ",\"applied\":1024,\"deadline_ms\":"            \
    "1893456300000,\"since_ms\":1893456000000,\"firing\":[]}}}\n"

/* Records newer than the file's generation are loaded over it, older ones skipped (an entry's
 * state, or its removal); a journal alone (a crash before the first save) loads too; a record of the wrong shape is refused with
 * what to do; the next save's generation is above every one on disk. */
static void journal_records_newer_than_the_file_are_loaded(void **state)
{
    char dir[] = "/tmp/trip-engine-XXXXXX";
    struct engine_err err = {0};
    (void)state;
    assert_non_null(mkdtemp(dir));
    put_text(dir, "journal", CPU_OUT(6, 300));
    json_t *j = state_on_disk(dir, "user", &err); /* no state file */
    assert_non_null(j);
    assert_int_equal(ts_state_i64(j, "cpu", "baseline"), 300);
    json_decref(j);
    put_text(dir, "state.json",
             "{\"version\": 2, \"generation\": 5, \"containers\": [{\"name\": \"user\", "
             "\"id\": \"id-user\", \"kind\": \"container\", \"cpu\": {\"scaled_out\": false, "
             "\"baseline\": 222}}]}");
    put_text(dir, "journal", CPU_OUT(4, 111) CPU_OUT(6, 300));
    j = state_on_disk(dir, "user", &err);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(json_object_get(j, "cpu"), "scaled_out")));
    assert_int_equal(ts_state_i64(j, "cpu", "baseline"), 300);
    json_decref(j);
    /* a drop after the claim: the entry is gone; a drop older than the file is skipped */
    put_text(dir, "journal", CPU_OUT(6, 300) "{\"gen\":7,\"drop\":\"user\"}\n");
    assert_false(on_disk_has(dir, "user"));
    put_text(dir, "journal", "{\"gen\":5,\"drop\":\"user\"}\n");
    assert_true(on_disk_has(dir, "user"));
    put_text(dir, "journal", CPU_OUT(4, 111));
    j = state_on_disk(dir, "user", &err);
    assert_false(json_is_true(json_object_get(json_object_get(j, "cpu"), "scaled_out")));
    assert_int_equal(ts_state_i64(j, "cpu", "baseline"), 222);
    json_decref(j);

    /* a save after loading generation 9 from the journal is numbered above it: the file then
     * covers the journal, which it cuts */
    struct engine_opts o = base_opts();
    put_text(dir, "journal", CPU_OUT(9, 300));
    o.store = store_new(dir, NULL);
    ts_fake_add("user", 1024, GIB, true);
    struct engine *e = ts_engine_start(&o);
    engine_wait_idle(e);
    engine_free(e);
    char path[64];
    snprintf(path, sizeof(path), "%s/state.json", dir);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    assert_non_null(doc);
    assert_true(json_integer_value(json_object_get(doc, "generation")) > 9);
    json_decref(doc);
    snprintf(path, sizeof(path), "%s/journal", dir);
    char *text = ts_read_file(path, NULL);
    assert_string_equal(text, "");
    free(text);

    put_text(dir, "journal", "{\"gen\":12,\"entry\":{\"name\":\"user\"}}\n");
    memset(&err, 0, sizeof(err));
    assert_null(state_on_disk(dir, "user", &err));
    assert_non_null(strstr(err.msg, "journal: containers[0] has no container or service \"id\""));
    put_text(dir, "journal", "{\"gen\":12}\n");
    memset(&err, 0, sizeof(err));
    assert_null(state_on_disk(dir, "user", &err));
    assert_non_null(strstr(err.msg, "journal: line 1: not a record"));
    assert_non_null(strstr(err.msg, "move it aside"));
    ts_state_dir_remove(dir, o.store);
}

/* One record per action's claim and end: the journal would grow forever, so past its size the next
 * save writes the whole table, which cuts it. 300 scale-out + scale-in cycles (3 records, about
 * 1.5 KiB, each) stay under the bound, and the table on disk is right. */
static void journal_is_compacted_by_a_save_of_the_table(void **state)
{
    char dir[] = "/tmp/trip-engine-XXXXXX", path[64];
    struct engine_opts o = base_opts();
    size_t most = 0;
    (void)state;
    assert_non_null(mkdtemp(dir));
    o.store = store_new(dir, NULL);
    ts_fake_add("user", 512, GIB, true);
    struct engine *e = ts_engine_start(&o);
    snprintf(path, sizeof(path), "%s/state.json", dir);
    for (int i = 0; i < 300; i++) {
        struct ts_waiter w;
        ts_engine_manual(e, &w, POLICY_SCALE_OUT, POLICY_CPU, "user", "1h", false);
        ts_waiter_wait(&w);
        assert_int_equal(w.status, 200);
        ts_engine_manual(e, &w, POLICY_SCALE_IN, POLICY_CPU, "user", NULL, false);
        ts_waiter_wait(&w);
        assert_int_equal(w.status, 200);
        size_t n = store_journal_bytes(o.store);
        most = n > most ? n : most;
    }
    print_message("journal at most %zu bytes\n", most);
    assert_true(most > 200 * 1024);      /* it did grow that far */
    assert_true(most < 260 * 1024);      /* and no further: compacted */
    assert_int_equal(access(path, F_OK), 0); /* by a save of the table */
    struct engine_err err = {0};
    json_t *j = state_on_disk(dir, "user", &err);
    assert_non_null(j);
    assert_false(json_is_true(json_object_get(json_object_get(j, "cpu"), "scaled_out")));
    assert_int_equal(ts_state_i64(j, "cpu", "baseline"), 512);
    json_decref(j);
    engine_free(e);
    ts_state_dir_remove(dir, o.store);
}

/* Lookups scan a dense array of name hashes beside the table; the table's removals move its last
 * entry into the hole. A file of 3000 entries loads and each is found by name with its own state;
 * the start then drops the 2984 whose containers are gone (each removal a journal record, not a
 * save of the table), and each of the 16 left is still found with its own state, the others not. */
static void thousands_of_entries_load_and_shrink(void **state)
{
    char dir[] = "/tmp/trip-engine-XXXXXX", path[64], name[32];
    struct engine_opts o = base_opts();
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state.json", dir);
    json_t *arr = json_array();
    for (int i = 0; i < 3000; i++) {
        char id[40];
        snprintf(name, sizeof(name), "c%d", i);
        snprintf(id, sizeof(id), "id-%s", name);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:{s:b, s:i}}", "name", name, "id",
                                             id, "kind", "container", "cpu", "scaled_out", 0,
                                             "baseline", 100 + i));
    }
    json_t *doc = json_pack("{s:i, s:o}", "version", 2, "containers", arr);
    assert_int_equal(json_dump_file(doc, path, JSON_COMPACT), 0);
    json_decref(doc);
    o.store = store_new(dir, NULL);
    struct engine *e = NULL;
    assert_int_equal(engine_new(&o, &e, NULL), ENGINE_OK);
    assert_int_equal(engine_load(e, NULL), ENGINE_OK);
    for (int i = 0; i < 3000; i += 7) {
        snprintf(name, sizeof(name), "c%d", i);
        json_t *j = ts_engine_state(e, name);
        assert_int_equal(ts_state_i64(j, "cpu", "baseline"), 100 + i);
        json_decref(j);
    }
    engine_free(e);
    for (int i = 0; i < 3000; i += 200) { /* 16 of them still exist */
        snprintf(name, sizeof(name), "c%d", i);
        ts_fake_add(name, 100 + i, GIB, true);
    }
    e = ts_engine_start(&o);
    engine_wait_idle(e);
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        char *s = engine_state_json(e, name);
        if (i % 200 == 0) {
            json_t *j = ts_engine_state(e, name);
            assert_int_equal(ts_state_i64(j, "cpu", "baseline"), 100 + i);
            json_decref(j);
            assert_non_null(s);
        } else if (s) {
            fail_msg("%s: gone, still in the table: %s", name, s);
        }
        free(s);
    }
    engine_free(e);
    ts_state_dir_remove(dir, o.store);
}

int main(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(state_survives_restart_and_overdue_scales_in, ts_engine_setup),
        cmocka_unit_test_setup(multibyte_text_in_the_state_file_survives_a_reload, ts_engine_setup),
        cmocka_unit_test_setup(state_file_of_version_1_loads_and_is_rewritten, ts_engine_setup),
        cmocka_unit_test_setup(state_file_of_a_newer_version_is_refused, ts_engine_setup),
        cmocka_unit_test_setup(loaded_claim_on_a_container_that_no_longer_opts_in_is_dropped,
                               ts_engine_setup),
        cmocka_unit_test_setup(state_files_of_the_wrong_shape_are_refused, ts_engine_setup),
        cmocka_unit_test_setup(claim_is_on_disk_before_the_update, ts_engine_setup),
        cmocka_unit_test_setup(journal_records_newer_than_the_file_are_loaded, ts_engine_setup),
        cmocka_unit_test_setup(journal_is_compacted_by_a_save_of_the_table, ts_engine_setup),
        cmocka_unit_test_setup(thousands_of_entries_load_and_shrink, ts_engine_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
