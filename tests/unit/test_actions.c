/* test_actions.c: the action history: newest first, bounded, queried by sequence number or time,
 * written to <state dir>/actions.json and read back after a restart, a damaged file set aside. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions.h"

#define T0 1795953600000LL /* 2026-11-29T12:00:00Z */

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/trip-actions-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    static const char *const files[] = {"actions.json", "actions.json.corrupt",
                                        ".actions.json.tmp"};
    char p[128];
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        unlink(p);
    }
    return rmdir(dir);
}

static void add(struct actions *a, const char *container, const char *action, int64_t at_ms)
{
    struct actions_record r = {.at_ms = at_ms, .took_ms = 42};
    snprintf(r.container, sizeof(r.container), "%s", container);
    snprintf(r.action, sizeof(r.action), "%s", action);
    snprintf(r.kind, sizeof(r.kind), "container");
    snprintf(r.trigger, sizeof(r.trigger), "alert");
    snprintf(r.alertname, sizeof(r.alertname), "ContainerHighCpu");
    snprintf(r.fingerprint, sizeof(r.fingerprint), "9f3b670a7039a10e");
    snprintf(r.caller, sizeof(r.caller), "127.0.0.1");
    snprintf(r.result, sizeof(r.result), "ok");
    actions_add(a, &r);
}

/* The query's answer, parsed. */
static json_t *query(struct actions *a, const char *since, const char *limit)
{
    struct actions_query q;
    struct actions_err err = {0};

    assert_int_equal(actions_query_parse(since, limit, &q, &err), ACTIONS_OK);
    char *text = actions_query_json(a, &q);
    assert_non_null(text);
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(doc);
    return doc;
}

static int64_t seq_at(const json_t *doc, size_t i)
{
    return json_integer_value(
        json_object_get(json_array_get(json_object_get(doc, "actions"), i), "seq"));
}

static void newest_first_with_every_field(void **state)
{
    struct actions_err err = {0};
    struct actions *a = actions_new(dir, &err);
    (void)state;

    assert_int_equal(err.code, ACTIONS_OK);
    add(a, "user", "scale_out_cpu", T0);
    add(a, "place", "restart", T0 + 1000);
    json_t *doc = query(a, NULL, NULL);
    json_t *arr = json_object_get(doc, "actions");
    assert_int_equal(json_array_size(arr), 2);
    json_t *first = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(first, "container")), "place");
    assert_int_equal(json_integer_value(json_object_get(first, "seq")), 2);
    assert_string_equal(json_string_value(json_object_get(first, "at")),
                        "2026-11-29T12:00:01.000Z");
    assert_string_equal(json_string_value(json_object_get(first, "alertname")), "ContainerHighCpu");
    assert_string_equal(json_string_value(json_object_get(first, "fingerprint")),
                        "9f3b670a7039a10e");
    assert_string_equal(json_string_value(json_object_get(first, "result")), "ok");
    assert_int_equal(json_integer_value(json_object_get(first, "took_ms")), 42);
    assert_int_equal(json_integer_value(json_object_get(doc, "last_seq")), 2);
    assert_int_equal(json_integer_value(json_object_get(doc, "capacity")), ACTIONS_CAPACITY);
    json_decref(doc);
    actions_free(a);
}

static void since_and_limit_select(void **state)
{
    struct actions *a = actions_new(dir, NULL);
    (void)state;

    for (int i = 0; i < 10; i++)
        add(a, "user", "scale_out_cpu", T0 + i * 60000);
    json_t *doc = query(a, "7", NULL); /* after seq 7 */
    assert_int_equal(json_array_size(json_object_get(doc, "actions")), 3);
    assert_int_equal(seq_at(doc, 0), 10);
    assert_int_equal(seq_at(doc, 2), 8);
    json_decref(doc);
    doc = query(a, NULL, "4");
    assert_int_equal(json_array_size(json_object_get(doc, "actions")), 4);
    assert_int_equal(seq_at(doc, 3), 7);
    json_decref(doc);
    doc = query(a, "2026-11-29T12:08:00Z", NULL); /* the last two minutes: seq 9 and 10 */
    assert_int_equal(json_array_size(json_object_get(doc, "actions")), 2);
    json_decref(doc);
    doc = query(a, "2026-11-29T12:07:59.500Z", "1");
    assert_int_equal(json_array_size(json_object_get(doc, "actions")), 1);
    assert_int_equal(seq_at(doc, 0), 10);
    json_decref(doc);
    actions_free(a);
}

static void bad_query_values_are_refused_with_a_reason(void **state)
{
    static const char *const bad[][2] = {{NULL, "0"},          {NULL, "1001"},
                                         {NULL, "ten"},        {NULL, "5x"},
                                         {"-1", NULL},         {"yesterday", NULL},
                                         {"2026-11-29", NULL}, {"2026-11-29T12:00:00+02:00", NULL}};
    struct actions_query q;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct actions_err err = {0};
        assert_int_equal(actions_query_parse(bad[i][0], bad[i][1], &q, &err), ACTIONS_E_INVALID);
        assert_non_null(strstr(err.msg, bad[i][0] ? "since must be" : "limit must be"));
    }
}

static void ring_keeps_the_newest_and_numbers_on(void **state)
{
    struct actions *a = actions_new(dir, NULL);
    (void)state;

    for (int i = 0; i < ACTIONS_CAPACITY + 5; i++)
        add(a, "user", "restart", T0 + i);
    json_t *doc = query(a, NULL, "1000");
    assert_int_equal(json_array_size(json_object_get(doc, "actions")), ACTIONS_CAPACITY);
    assert_int_equal(seq_at(doc, 0), ACTIONS_CAPACITY + 5);
    assert_int_equal(seq_at(doc, ACTIONS_CAPACITY - 1), 6); /* 1..5 dropped */
    json_decref(doc);
    actions_free(a);
}

static void history_survives_a_restart(void **state)
{
    struct actions_err err = {0};
    struct actions *a = actions_new(dir, &err);
    (void)state;

    add(a, "user", "scale_out_cpu", T0);
    add(a, "user", "scale_in_cpu", T0 + 300000);
    assert_int_equal(actions_flush(a, &err), ACTIONS_OK);
    actions_free(a);
    a = actions_new(dir, &err);
    assert_int_equal(err.code, ACTIONS_OK);
    add(a, "place", "restart", T0 + 400000);
    json_t *doc = query(a, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(doc, "actions")), 3);
    assert_int_equal(seq_at(doc, 0), 3); /* numbering goes on */
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(doc, "actions"), 1), "action")),
                        "scale_in_cpu");
    json_decref(doc);
    /* a flush with nothing new writes nothing: the file keeps its time */
    assert_int_equal(actions_flush(a, &err), ACTIONS_OK);
    actions_free(a);
}

static void damaged_file_is_set_aside_not_lost(void **state)
{
    char path[128], aside[160];
    struct actions_err err = {0};
    (void)state;

    snprintf(path, sizeof(path), "%s/actions.json", dir);
    snprintf(aside, sizeof(aside), "%s/actions.json.corrupt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"version\":1,\"next_seq\":3,\"actions\":[{\"seq\":5,", f);
    fclose(f);
    struct actions *a = actions_new(dir, &err);
    assert_non_null(a);
    assert_int_equal(err.code, ACTIONS_E_CORRUPT);
    assert_non_null(strstr(err.msg, "moved to"));
    assert_int_equal(access(aside, F_OK), 0);
    add(a, "user", "restart", T0);
    json_t *doc = query(a, NULL, NULL);
    assert_int_equal(seq_at(doc, 0), 1);
    json_decref(doc);
    actions_free(a);
}

static void parse_refuses_what_we_never_write(void **state)
{
    static const char *const bad[] = {
        "[]",
        "{\"version\":2,\"next_seq\":1,\"actions\":[]}",
        "{\"version\":1,\"next_seq\":0,\"actions\":[]}",
        /* seq not below next_seq */
        "{\"version\":1,\"next_seq\":2,\"actions\":[{\"seq\":2,\"at_ms\":1,\"container\":\"a\","
        "\"action\":\"restart\"}]}",
        /* seq not increasing */
        "{\"version\":1,\"next_seq\":9,\"actions\":[{\"seq\":3,\"at_ms\":1,\"container\":\"a\","
        "\"action\":\"restart\"},{\"seq\":3,\"at_ms\":1,\"container\":\"a\",\"action\":\"restart\"}"
        "]}",
        /* a field of the wrong type */
        "{\"version\":1,\"next_seq\":9,\"actions\":[{\"seq\":3,\"at_ms\":1,\"container\":7,"
        "\"action\":\"restart\"}]}",
    };
    struct actions_record *out = calloc(4, sizeof(*out));
    size_t n;
    uint64_t next;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct actions_err err = {0};
        assert_int_equal(actions_parse(bad[i], strlen(bad[i]), out, 4, &n, &next, &err),
                         ACTIONS_E_CORRUPT);
        assert_int_equal(n, 0);
    }
    const char *good = "{\"version\":1,\"next_seq\":9,\"actions\":[{\"seq\":3,\"at_ms\":1,"
                       "\"container\":\"a\",\"action\":\"restart\",\"error\":\"x\"}]}";
    assert_int_equal(actions_parse(good, strlen(good), out, 4, &n, &next, NULL), ACTIONS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(next, 9);
    assert_string_equal(out[0].error, "x");
    free(out);
}

static struct actions *shared;

static void *adder(void *arg)
{
    for (int i = 0; i < 500; i++)
        add(shared, (const char *)arg, "restart", T0 + i);
    return NULL;
}

/* Workers add while main flushes and queries, as in the daemon (run under TSan by tests/run-all).
 */
static void adds_from_many_threads_while_flushing(void **state)
{
    static const char *const names[] = {"a", "b", "c", "d"};
    pthread_t t[4];
    struct actions_err err = {0};
    (void)state;

    shared = actions_new(dir, NULL);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, adder, (void *)(uintptr_t)names[i]), 0);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(actions_flush(shared, &err), ACTIONS_OK);
        json_decref(query(shared, NULL, "10"));
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(actions_flush(shared, &err), ACTIONS_OK);
    actions_free(shared);
    shared = actions_new(dir, &err);
    assert_int_equal(err.code, ACTIONS_OK);
    json_t *doc = query(shared, NULL, "1000");
    assert_int_equal(json_integer_value(json_object_get(doc, "last_seq")), 2000);
    assert_int_equal(json_array_size(json_object_get(doc, "actions")), ACTIONS_CAPACITY);
    json_decref(doc);
    actions_free(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(newest_first_with_every_field, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(since_and_limit_select, make_dir, remove_dir),
        cmocka_unit_test(bad_query_values_are_refused_with_a_reason),
        cmocka_unit_test_setup_teardown(ring_keeps_the_newest_and_numbers_on, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(history_survives_a_restart, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(damaged_file_is_set_aside_not_lost, make_dir, remove_dir),
        cmocka_unit_test(parse_refuses_what_we_never_write),
        cmocka_unit_test_setup_teardown(adds_from_many_threads_while_flushing, make_dir,
                                        remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
