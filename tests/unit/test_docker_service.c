/* test_docker_service.c: the Swarm service parts of docker-client that do no I/O: paths and
 * escaping, parsing real replies of Docker 20.10 (tests/fixtures/docker-20.10-service-*.json),
 * applying a change to the Spec, and mapping the daemon's refusals to codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker_internal.h"
#include "ts_common.h"

/* GET /v1.41/services/{id} of a global service, as Docker 20.10.24 answered it. */
static const char global_json[] =
    "{\"ID\":\"2axj4r30z599bxc7wg1hzr8yd\",\"Version\":{\"Index\":25},"
    "\"CreatedAt\":\"2026-11-25T15:24:17.607046985Z\",\"UpdatedAt\":\"2026-11-25T15:24:17.607Z\","
    "\"Spec\":{\"Name\":\"svc-g\",\"Labels\":{\"trip.test\":\"1\"},\"TaskTemplate\":{"
    "\"ContainerSpec\":{\"Image\":\"trip-workload:test@sha256:"
    "09735364f784d10cdf36d74b18547237417373f101fa0869ec492cbd7f818e6f\",\"Isolation\":\"default\"},"
    "\"ForceUpdate\":0,\"Runtime\":\"container\"},\"Mode\":{\"Global\":{}}},"
    "\"Endpoint\":{\"Spec\":{}}}";

/* A Spec with members this client does not know, which must survive an update untouched. */
static const char rich_spec[] =
    "{\"Name\":\"web\",\"Labels\":{\"trip.test\":\"1\"},\"TaskTemplate\":{\"ContainerSpec\":"
    "{\"Image\":\"trip-workload:test\",\"Env\":[\"A=1\"]},\"Resources\":{\"Limits\":{\"NanoCPUs\":"
    "500000000,\"MemoryBytes\":67108864,\"Pids\":100},\"Reservations\":{\"NanoCPUs\":250000000,"
    "\"MemoryBytes\":33554432,\"GenericResources\":[{\"DiscreteResourceSpec\":{\"Kind\":\"gpu\","
    "\"Value\":1}}]}},\"ForceUpdate\":3},\"Mode\":{\"Replicated\":{\"Replicas\":1}},"
    "\"UpdateConfig\":{\"Parallelism\":1,\"MaxFailureRatio\":0.25,\"Order\":\"start-first\"},"
    "\"X-Future\":{\"a\":[1,2.5,null,true]}}";

static char *fixture(const char *name, size_t *len)
{
    char *body = ts_read_file(ts_fixture(name), len);

    assert_non_null(body);
    return body;
}

/* Parses a fixture service and replaces its spec with spec (when not NULL). */
static void service_with_spec(struct docker_service *s, const char *spec)
{
    size_t len;
    char *body = fixture("docker-20.10-service-inspect.json", &len);

    assert_int_equal(docker_parse_service(body, len, s, NULL), DOCKER_OK);
    free(body);
    if (spec) {
        free(s->spec);
        s->spec = strdup(spec);
        assert_non_null(s->spec);
    }
}

/* The JSON at a slash-separated path of members ("TaskTemplate/Resources/Limits"). Borrowed. */
static json_t *at(json_t *root, const char *path)
{
    char buf[256];
    char *save = NULL;

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, "/", &save); k && root; k = strtok_r(NULL, "/", &save))
        root = json_object_get(root, k);
    return root;
}

static void service_paths_pin_the_version_and_escape_the_id(void **state)
{
    char out[DOCKER_PATH_MAX];

    (void)state;
    assert_int_equal(docker_service_path("1.41", "web", NULL, NULL, NULL, out, sizeof(out), NULL),
                     DOCKER_OK);
    assert_string_equal(out, "/v1.41/services/web");
    assert_int_equal(docker_service_path("1.41", "my svc?#%", "update", "version=42", NULL, out,
                                         sizeof(out), NULL),
                     DOCKER_OK);
    assert_string_equal(out, "/v1.41/services/my%20svc%3F%23%25/update?version=42");
}

static void service_paths_refuse_slashes_and_dot_segments(void **state)
{
    const char *bad[] = {"", ".", "..", "a/b", "/", NULL};
    char out[DOCKER_PATH_MAX];

    (void)state;
    for (size_t i = 0; bad[i]; i++) {
        struct docker_err err = {0};

        assert_int_equal(docker_service_path("1.41", bad[i], NULL, NULL, "inspect service x", out,
                                             sizeof(out), &err),
                         DOCKER_E_INVALID);
        assert_string_equal(err.msg, "inspect service x: invalid service name or id");
    }
    assert_int_equal(docker_service_path("1.41", "web", NULL, NULL, NULL, out, 19, NULL),
                     DOCKER_E_TOOBIG);
}

static void list_path_carries_label_filters_as_escaped_json(void **state)
{
    const char *const labels[] = {"trip.test=1", "trip.scale", NULL};
    const char *const empty[] = {"", NULL};
    char out[DOCKER_PATH_MAX];
    struct docker_err err = {0};

    (void)state;
    assert_int_equal(docker_service_list_path("1.41", NULL, out, sizeof(out), NULL), DOCKER_OK);
    assert_string_equal(out, "/v1.41/services");
    assert_int_equal(docker_service_list_path("1.41", labels, out, sizeof(out), NULL), DOCKER_OK);
    /* {"label":["trip.test=1","trip.scale"]} */
    assert_string_equal(out, "/v1.41/services?filters=%7B%22label%22%3A%5B%22trip.test%3D1%22%2C"
                             "%22trip.scale%22%5D%7D");
    assert_int_equal(docker_service_list_path("1.41", empty, out, sizeof(out), &err),
                     DOCKER_E_INVALID);
    assert_string_equal(err.msg, "list services: empty or invalid label filter");
}

static void tasks_path_filters_service_and_desired_running(void **state)
{
    char out[DOCKER_PATH_MAX];
    struct docker_err err = {0};

    (void)state;
    assert_int_equal(docker_tasks_path("1.41", "web x", out, sizeof(out), NULL), DOCKER_OK);
    /* {"desired-state":["running"],"service":["web x"]} */
    assert_string_equal(out, "/v1.41/tasks?filters=%7B%22desired-state%22%3A%5B%22running%22%5D%2C"
                             "%22service%22%3A%5B%22web%20x%22%5D%7D");
    assert_int_equal(docker_tasks_path("1.41", "", out, sizeof(out), &err), DOCKER_E_INVALID);
    assert_string_equal(err.msg, "tasks: empty service name or id");
}

static void inspect_of_a_real_reply_fills_every_field(void **state)
{
    struct docker_service s;
    json_t *spec;

    (void)state;
    service_with_spec(&s, NULL);
    assert_string_equal(s.id, "r281vwd3w5injot4o2uzwx6z1");
    assert_string_equal(s.name, "svcprobe-cli");
    assert_string_equal(s.image, "trip-workload:test");
    assert_int_equal(s.version, 32);
    assert_false(s.global);
    assert_int_equal(s.replicas, 1);
    assert_int_equal(s.res.limit_nano_cpus, 500000000);
    assert_int_equal(s.res.limit_memory, 64 << 20);
    assert_int_equal(s.res.reserve_nano_cpus, 250000000);
    assert_int_equal(s.res.reserve_memory, 32 << 20);
    assert_int_equal(s.labels.n, 1);
    assert_string_equal(docker_labels_get(&s.labels, "trip.test"), "1");
    /* the Spec is kept whole (the container labels included), not the service's other members */
    spec = json_loads(s.spec, 0, NULL);
    assert_non_null(spec);
    assert_string_equal(json_string_value(at(spec, "TaskTemplate/ContainerSpec/Labels/trip.test")),
                        "1");
    assert_string_equal(json_string_value(at(spec, "EndpointSpec/Mode")), "vip");
    assert_null(json_object_get(spec, "Version"));
    json_decref(spec);
    docker_service_free(&s);
    docker_service_free(&s); /* idempotent */
    docker_service_free(NULL);
}

static void inspect_of_a_global_service_keeps_the_image_digest(void **state)
{
    struct docker_service s;

    (void)state;
    assert_int_equal(docker_parse_service(global_json, strlen(global_json), &s, NULL), DOCKER_OK);
    assert_true(s.global);
    assert_int_equal(s.replicas, 0);
    assert_int_equal(s.version, 25);
    assert_string_equal(s.image, "trip-workload:test@sha256:"
                                 "09735364f784d10cdf36d74b18547237417373f101fa0869ec492cbd7f818e6f");
    assert_int_equal(s.res.limit_memory, 0);
    docker_service_free(&s);
}

static void inspect_of_every_truncation_is_malformed(void **state)
{
    size_t len;
    char *body = fixture("docker-20.10-service-inspect.json", &len);

    (void)state;
    while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == ' '))
        len--;
    for (size_t n = 0; n < len; n++) {
        struct docker_service s;
        struct docker_err err = {0};

        assert_int_equal(docker_parse_service(body, n, &s, &err), DOCKER_E_MALFORMED);
        assert_int_equal(err.code, DOCKER_E_MALFORMED);
        assert_null(s.spec);
        assert_null(s.labels.v);
    }
    free(body);
}

static void inspect_without_id_version_or_name_is_malformed(void **state)
{
    const char *bad[] = {
        "{\"Version\":{\"Index\":1},\"Spec\":{\"Name\":\"a\"}}",
        "{\"ID\":\"x\",\"Spec\":{\"Name\":\"a\"}}",
        "{\"ID\":\"x\",\"Version\":{\"Index\":\"1\"},\"Spec\":{\"Name\":\"a\"}}",
        "{\"ID\":\"x\",\"Version\":{\"Index\":-1},\"Spec\":{\"Name\":\"a\"}}",
        "{\"ID\":\"x\",\"Version\":{\"Index\":1}}",
        "{\"ID\":\"x\",\"Version\":{\"Index\":1},\"Spec\":{\"Name\":\"a\",\"Labels\":[]}}",
        "[]",
        NULL,
    };

    (void)state;
    for (size_t i = 0; bad[i]; i++) {
        struct docker_service s;
        struct docker_err err = {0};

        assert_int_equal(docker_parse_service(bad[i], strlen(bad[i]), &s, &err),
                         DOCKER_E_MALFORMED);
        assert_null(s.spec);
        assert_true(strncmp(err.msg, "inspect service: ", 17) == 0);
    }
}

static void list_parses_every_entry_and_refuses_a_bad_one(void **state)
{
    struct docker_service_list l;
    struct docker_err err = {0};
    size_t len;
    char *one = fixture("docker-20.10-service-inspect.json", &len);
    char buf[4096];

    (void)state;
    snprintf(buf, sizeof(buf), "[%.*s,%s]", (int)len, one, global_json);
    assert_int_equal(docker_parse_service_list(buf, strlen(buf), &l, NULL), DOCKER_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].name, "svcprobe-cli");
    assert_true(l.v[1].global);
    docker_service_list_free(&l);
    assert_int_equal(docker_parse_service_list("[]", 2, &l, NULL), DOCKER_OK);
    assert_int_equal(l.n, 0);
    snprintf(buf, sizeof(buf), "[%.*s,{\"ID\":\"x\"}]", (int)len, one);
    assert_int_equal(docker_parse_service_list(buf, strlen(buf), &l, &err), DOCKER_E_MALFORMED);
    assert_null(l.v);
    assert_string_equal(err.msg, "list services: entry lacks ID, Version.Index or Spec.Name");
    free(one);
}

static void tasks_count_desired_and_running(void **state)
{
    static const char mixed[] = "[{\"ID\":\"a\",\"Status\":{\"State\":\"running\"}},"
                                "{\"ID\":\"b\",\"Status\":{\"State\":\"preparing\"}},"
                                "{\"ID\":\"c\",\"Status\":{\"State\":\"starting\"}}]";
    struct docker_service_tasks t;
    struct docker_err err = {0};
    size_t len;
    char *body = fixture("docker-20.10-service-tasks.json", &len);

    (void)state;
    assert_int_equal(docker_parse_tasks(body, len, &t, NULL), DOCKER_OK);
    assert_int_equal(t.desired, 2);
    assert_int_equal(t.running, 2);
    assert_int_equal(docker_parse_tasks(mixed, strlen(mixed), &t, NULL), DOCKER_OK);
    assert_int_equal(t.desired, 3);
    assert_int_equal(t.running, 1);
    assert_int_equal(docker_parse_tasks("[]", 2, &t, NULL), DOCKER_OK);
    assert_int_equal(t.desired, 0);
    assert_int_equal(docker_parse_tasks("[{\"ID\":\"a\"}]", 12, &t, &err), DOCKER_E_MALFORMED);
    assert_int_equal(t.desired, 0);
    assert_string_equal(err.msg, "tasks: entry lacks Status.State");
    assert_int_equal(docker_parse_tasks(body, len / 2, &t, NULL), DOCKER_E_MALFORMED);
    free(body);
}

/* Applies chg to rich_spec and checks that the result equals rich_spec with edit applied. */
static void assert_spec_change(const struct docker_service_change *chg,
                               void (*edit)(json_t *expected))
{
    struct docker_service s;
    json_t *expected = json_loads(rich_spec, 0, NULL);
    json_t *got;
    char *body = NULL;

    service_with_spec(&s, rich_spec);
    assert_int_equal(docker_service_spec_apply(&s, chg, &body, NULL), DOCKER_OK);
    got = json_loads(body, 0, NULL);
    assert_non_null(got);
    edit(expected);
    if (!json_equal(got, expected)) {
        char *want = json_dumps(expected, JSON_COMPACT | JSON_SORT_KEYS);
        char *have = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);

        fail_msg("spec\n got  %s\n want %s", have, want);
    }
    json_decref(got);
    json_decref(expected);
    free(body);
    docker_service_free(&s);
}

static void set_replicas_3(json_t *spec)
{
    json_object_set_new(at(spec, "Mode/Replicated"), "Replicas", json_integer(3));
}

static void change_of_replicas_touches_only_the_replica_count(void **state)
{
    struct docker_service_change chg = {.has_replicas = true, .replicas = 3};

    (void)state;
    assert_spec_change(&chg, set_replicas_3);
}

static void set_new_resources(json_t *spec)
{
    json_t *lim = at(spec, "TaskTemplate/Resources/Limits");
    json_t *res = at(spec, "TaskTemplate/Resources/Reservations");

    json_object_set_new(lim, "NanoCPUs", json_integer(1500000000));
    json_object_del(lim, "MemoryBytes");
    json_object_del(res, "NanoCPUs");
    json_object_set_new(res, "MemoryBytes", json_integer(1 << 30));
}

static void change_of_resources_replaces_four_keys_and_unsets_zeros(void **state)
{
    struct docker_service_change chg = {
        .has_resources = true,
        .res = {.limit_nano_cpus = 1500000000, .limit_memory = 0, .reserve_nano_cpus = 0,
                .reserve_memory = 1 << 30}};

    (void)state;
    /* Limits.Pids, Reservations.GenericResources and everything else stay as read */
    assert_spec_change(&chg, set_new_resources);
}

static void change_creates_resources_and_drops_emptied_objects(void **state)
{
    struct docker_service s;
    struct docker_service_change set = {
        .has_resources = true, .res = {.limit_memory = 128 << 20, .reserve_nano_cpus = 100}};
    struct docker_service_change unset = {.has_resources = true};
    char *body = NULL;

    (void)state;
    service_with_spec(&s, "{\"Name\":\"a\",\"Mode\":{\"Replicated\":{\"Replicas\":1}}}");
    assert_int_equal(docker_service_spec_apply(&s, &set, &body, NULL), DOCKER_OK);
    assert_string_equal(body, "{\"Name\":\"a\",\"Mode\":{\"Replicated\":{\"Replicas\":1}},"
                              "\"TaskTemplate\":{\"Resources\":{\"Limits\":{\"MemoryBytes\":"
                              "134217728},\"Reservations\":{\"NanoCPUs\":100}}}}");
    free(s.spec);
    s.spec = body;
    assert_int_equal(docker_service_spec_apply(&s, &unset, &body, NULL), DOCKER_OK);
    assert_string_equal(body, "{\"Name\":\"a\",\"Mode\":{\"Replicated\":{\"Replicas\":1}},"
                              "\"TaskTemplate\":{\"Resources\":{}}}");
    free(body);
    docker_service_free(&s);
}

static void scaling_a_global_service_is_refused_before_any_request(void **state)
{
    struct docker_service s;
    struct docker_service_change chg = {.has_replicas = true, .replicas = 2};
    struct docker_err err = {0};
    char *body = (char *)"untouched";

    (void)state;
    assert_int_equal(docker_parse_service(global_json, strlen(global_json), &s, NULL), DOCKER_OK);
    assert_int_equal(docker_service_spec_apply(&s, &chg, &body, &err), DOCKER_E_INVALID);
    assert_null(body);
    assert_string_equal(err.msg, "update service svc-g: a global service has no replica count");
    /* and through the public call, with no client at all: nothing is sent */
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_service_update(NULL, &s, &chg, &err), DOCKER_E_INVALID);
    assert_string_equal(err.msg, "update service svc-g: a global service has no replica count");
    /* its resources may still change */
    chg = (struct docker_service_change){.has_resources = true, .res = {.limit_memory = 1 << 20}};
    assert_int_equal(docker_service_spec_apply(&s, &chg, &body, NULL), DOCKER_OK);
    free(body);
    docker_service_free(&s);
}

static void unusable_changes_are_refused(void **state)
{
    struct {
        const char *spec;
        struct docker_service_change chg;
        docker_code code;
        const char *msg;
    } cases[] = {
        {NULL, {0}, DOCKER_E_INVALID, "update service svcprobe-cli: no field to change"},
        {NULL, {.has_replicas = true, .replicas = -1}, DOCKER_E_INVALID,
         "update service svcprobe-cli: negative value"},
        {NULL, {.has_resources = true, .res = {.reserve_memory = -5}}, DOCKER_E_INVALID,
         "update service svcprobe-cli: negative value"},
        {"{\"Mode\":{\"ReplicatedJob\":{}}}", {.has_replicas = true, .replicas = 1},
         DOCKER_E_INVALID, "update service svcprobe-cli: not a replicated service"},
        {"[1]", {.has_replicas = true}, DOCKER_E_MALFORMED,
         "update service svcprobe-cli: invalid spec"},
        {"{\"TaskTemplate\":{\"Resources\":{\"Limits\":7}}}",
         {.has_resources = true, .res = {.limit_memory = 1}}, DOCKER_E_MALFORMED,
         "update service svcprobe-cli: spec has no usable TaskTemplate.Resources"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct docker_service s;
        struct docker_err err = {0};
        char *body = NULL;

        service_with_spec(&s, cases[i].spec);
        assert_int_equal(docker_service_spec_apply(&s, &cases[i].chg, &body, &err), cases[i].code);
        assert_null(body);
        assert_string_equal(err.msg, cases[i].msg);
        docker_service_free(&s);
    }
}

static void stale_version_is_a_conflict_and_503_is_no_swarm(void **state)
{
    /* both bodies as Docker 20.10.24 sent them (docs/docker-engine.md) */
    static const char stale[] = "{\"message\":\"rpc error: code = Unknown desc = update out of "
                                "sequence\"}\n";
    static const char no_swarm[] =
        "{\"message\":\"This node is not a swarm manager. Use \\\"docker swarm init\\\" or "
        "\\\"docker swarm join\\\" to connect this node to swarm and try again.\"}\n";
    static const char other[] = "{\"message\":\"rpc error: code = Unknown desc = boom\"}";
    struct docker_err err = {0};

    (void)state;
    assert_int_equal(docker_service_reply_error(500, stale, strlen(stale), "update service web",
                                                &err),
                     DOCKER_E_CONFLICT);
    assert_int_equal(err.code, DOCKER_E_CONFLICT);
    assert_int_equal(err.http_status, 500);
    assert_string_equal(err.msg,
                        "update service web: rpc error: code = Unknown desc = update out of sequence");
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_service_reply_error(503, no_swarm, strlen(no_swarm),
                                                "inspect service web", &err),
                     DOCKER_E_NO_SWARM);
    assert_int_equal(err.http_status, 503);
    assert_string_equal(err.msg, "inspect service web: This node is not a swarm manager. Use "
                                 "\"docker swarm init\" or \"docker swarm join\" to connect this "
                                 "node to swarm and try again.");
    assert_int_equal(docker_service_reply_error(500, other, strlen(other), "x", NULL),
                     DOCKER_E_SERVER);
    assert_int_equal(docker_service_reply_error(404, "", 0, "x", NULL), DOCKER_E_NOT_FOUND);
    assert_int_equal(docker_service_reply_error(400, "", 0, "x", NULL), DOCKER_E_BAD_REQUEST);
    /* a container call's 503 stays a server error */
    assert_int_equal(docker_reply_error(503, "", 0, "x", NULL), DOCKER_E_SERVER);
    assert_string_equal(docker_code_name(DOCKER_E_NO_SWARM), "no_swarm");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(service_paths_pin_the_version_and_escape_the_id),
        cmocka_unit_test(service_paths_refuse_slashes_and_dot_segments),
        cmocka_unit_test(list_path_carries_label_filters_as_escaped_json),
        cmocka_unit_test(tasks_path_filters_service_and_desired_running),
        cmocka_unit_test(inspect_of_a_real_reply_fills_every_field),
        cmocka_unit_test(inspect_of_a_global_service_keeps_the_image_digest),
        cmocka_unit_test(inspect_of_every_truncation_is_malformed),
        cmocka_unit_test(inspect_without_id_version_or_name_is_malformed),
        cmocka_unit_test(list_parses_every_entry_and_refuses_a_bad_one),
        cmocka_unit_test(tasks_count_desired_and_running),
        cmocka_unit_test(change_of_replicas_touches_only_the_replica_count),
        cmocka_unit_test(change_of_resources_replaces_four_keys_and_unsets_zeros),
        cmocka_unit_test(change_creates_resources_and_drops_emptied_objects),
        cmocka_unit_test(scaling_a_global_service_is_refused_before_any_request),
        cmocka_unit_test(unusable_changes_are_refused),
        cmocka_unit_test(stale_version_is_a_conflict_and_503_is_no_swarm),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
