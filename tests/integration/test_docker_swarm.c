/* test_docker_swarm.c: the docker-client's service calls against a real single-node swarm on this
 * machine (tests/support/ts_swarm: initialised when inactive and left again at the end). Services
 * run the test image, are named trip-it-<pid>-svc-..., labelled trip.test=1, and removed at the
 * end. The tests run in order and share the service made by the first one that needs it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "docker_client.h"
#include "ts_common.h"
#include "ts_docker.h"
#include "ts_swarm.h"

#define MiB (1024LL * 1024)
#define CONVERGE_MS 90000

static struct docker_client *client;
static char web[128];    /* the replicated service, made by need_web() */
static char web_id[64];

static int group_setup(void **state)
{
    (void)state;
    ts_docker_prefix();
    return 0;
}

static int group_teardown(void **state)
{
    docker_client_free(client);
    client = NULL;
    ts_swarm_end();
    return ts_docker_group_teardown(state);
}

/* Skips (or fails under CI) without Docker and the test image; returns the shared client. */
static struct docker_client *need_client(void)
{
    struct docker_err err = {0};
    docker_code rc;

    ts_require_docker_image();
    if (!client) {
        rc = docker_client_new(NULL, &client, &err);
        if (rc != DOCKER_OK)
            fail_msg("docker_client_new: %s: %s", docker_code_name(rc), err.msg);
    }
    return client;
}

static struct docker_client *need_swarm(void)
{
    struct docker_client *c = need_client();

    if (ts_swarm_begin() != 0)
        fail_msg("cannot make this node a swarm manager (see stderr)");
    return c;
}

/* The replicated service the tests share: 1 replica, limits 0.5 CPU / 64 MiB, reservations
 * 0.25 CPU / 32 MiB, labels trip.test=1, trip.scale=on and this run's label. */
static const char *need_web(void)
{
    need_swarm();
    if (web[0])
        return web;
    ts_swarm_name(web, sizeof(web), "web");
    if (ts_swarm_service_create(web_id, sizeof(web_id), web, "--label", "trip.scale=on",
                                "--label", ts_docker_run_label(), "--replicas", "1",
                                "--limit-cpu", "0.5", "--limit-memory", "64m", "--reserve-cpu",
                                "0.25", "--reserve-memory", "32m", NULL) != 0)
        fail_msg("docker service create %s failed", web);
    return web;
}

static void inspect_web(struct docker_service *s)
{
    struct docker_err err = {0};
    docker_code rc = docker_service_inspect(client, need_web(), s, &err);

    if (rc != DOCKER_OK)
        fail_msg("inspect %s: %s: %s", web, docker_code_name(rc), err.msg);
}

static int64_t elapsed_ms(int64_t t0_ns)
{
    return (ts_now_ns() - t0_ns) / 1000000;
}

/* Polls docker_service_tasks until `want` tasks are desired and running: the ms waited, or -1. */
static int64_t wait_running(const char *id, int want)
{
    return ts_swarm_wait_running(client, id, want, CONVERGE_MS);
}

/* Must run first: when the swarm is not active yet, the service calls meet the daemon's 503. */
static void service_calls_without_a_swarm_are_no_swarm(void **state)
{
    struct docker_client *c = need_client();
    struct docker_service s;
    struct docker_service_list l;
    struct docker_service_tasks t;
    struct docker_err err = {0};

    (void)state;
    if (ts_swarm_active()) {
        ts_skip_on_this_machine("the swarm was already active on this machine; the 503 mapping is "
                                "covered by the unit test");
    }
    assert_int_equal(docker_service_inspect(c, "trip-no-such-svc", &s, &err), DOCKER_E_NO_SWARM);
    assert_int_equal(err.http_status, 503);
    assert_string_equal(err.msg, "inspect service trip-no-such-svc: This node is not a swarm "
                                 "manager. Use \"docker swarm init\" or \"docker swarm join\" to "
                                 "connect this node to swarm and try again.");
    assert_int_equal(docker_service_list(c, NULL, &l, NULL), DOCKER_E_NO_SWARM);
    assert_int_equal(docker_service_tasks(c, "trip-no-such-svc", &t, NULL), DOCKER_E_NO_SWARM);
    printf("without a swarm: 503 -> %s, \"%s\"\n", docker_code_name(err.code), err.msg);
}

static void inspect_by_name_and_id_reads_the_spec(void **state)
{
    struct docker_service by_name;
    struct docker_service by_id;
    struct docker_err err = {0};

    (void)state;
    inspect_web(&by_name);
    assert_string_equal(by_name.id, web_id);
    assert_string_equal(by_name.name, web);
    assert_string_equal(by_name.image, ts_test_image());
    assert_false(by_name.global);
    assert_int_equal(by_name.replicas, 1);
    assert_int_equal(by_name.res.limit_nano_cpus, 500000000);
    assert_int_equal(by_name.res.limit_memory, 64 * MiB);
    assert_int_equal(by_name.res.reserve_nano_cpus, 250000000);
    assert_int_equal(by_name.res.reserve_memory, 32 * MiB);
    assert_string_equal(docker_labels_get(&by_name.labels, "trip.scale"), "on");
    assert_string_equal(docker_labels_get(&by_name.labels, "trip.test"), "1");
    assert_int_equal(by_name.version, ts_docker_inspect_i64(web, "{{.Version.Index}}"));
    assert_int_equal(docker_service_inspect(client, web_id, &by_id, &err), DOCKER_OK);
    assert_string_equal(by_id.name, web);
    assert_int_equal(by_id.version, by_name.version);
    assert_string_equal(by_id.spec, by_name.spec);
    docker_service_free(&by_name);
    docker_service_free(&by_id);
}

static void list_with_a_label_filter_finds_only_this_runs_services(void **state)
{
    const char *const filter[] = {ts_docker_run_label(), NULL};
    struct docker_service_list l;
    struct docker_err err = {0};

    (void)state;
    need_web();
    assert_int_equal(docker_service_list(client, filter, &l, &err), DOCKER_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].name, web);
    assert_string_equal(l.v[0].id, web_id);
    assert_non_null(l.v[0].spec);
    docker_service_list_free(&l);
}

static void update_replicas_1_to_2_runs_two_tasks(void **state)
{
    struct docker_service s;
    struct docker_service_change chg = {.has_replicas = true, .replicas = 2};
    struct docker_err err = {0};
    int64_t t0;
    int64_t waited;

    (void)state;
    inspect_web(&s);
    assert_int_equal(wait_running(web_id, 1) >= 0, 1);
    t0 = ts_now_ns();
    assert_int_equal(docker_service_update(client, &s, &chg, &err), DOCKER_OK);
    assert_int_equal(ts_docker_inspect_i64(web, "{{.Spec.Mode.Replicated.Replicas}}"), 2);
    assert_true(ts_docker_inspect_i64(web, "{{.Version.Index}}") > (int64_t)s.version);
    waited = wait_running(web_id, 2);
    assert_true(waited >= 0);
    printf("replicas 1 -> 2: 2 tasks running %lld ms after the update call\n",
           (long long)elapsed_ms(t0));
    /* the rest of the spec went back as read */
    assert_int_equal(ts_docker_inspect_i64(web, "{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}"),
                     64 * MiB);
    docker_service_free(&s);
}

/* Ids of the service's running task containers, newline-separated, into out; how many. */
static int task_containers(char *out, size_t len)
{
    char filter[128];
    int n = 0;

    snprintf(filter, sizeof(filter), "label=com.docker.swarm.service.id=%s", web_id);
    assert_int_equal(ts_docker(out, len, "ps", "-q", "--filter", filter, NULL), 0);
    for (char *p = out; *p; p++)
        n += *p == '\n';
    return out[0] ? n + 1 : 0;
}

/* True when exactly `want` task containers run and every one has the NanoCpus and Memory asked. */
static bool tasks_have(int want, int64_t nano_cpus, int64_t memory)
{
    char ids[2048];
    char *save = NULL;

    if (task_containers(ids, sizeof(ids)) != want)
        return false;
    for (char *id = strtok_r(ids, "\n", &save); id; id = strtok_r(NULL, "\n", &save)) {
        char out[64];

        if (ts_docker_inspect(id, "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}", out,
                              sizeof(out)) != 0)
            return false;
        if (strtoll(out, NULL, 10) != nano_cpus ||
            strtoll(strchr(out, ' ') ? strchr(out, ' ') + 1 : "0", NULL, 10) != memory)
            return false;
    }
    return true;
}

static void update_resources_rolls_them_onto_the_task_containers(void **state)
{
    struct docker_service s;
    struct docker_service_change chg = {
        .has_resources = true,
        .res = {.limit_nano_cpus = 750000000, .limit_memory = 96 * MiB,
                .reserve_nano_cpus = 100000000, .reserve_memory = 16 * MiB}};
    struct docker_err err = {0};
    int64_t t0;

    (void)state;
    inspect_web(&s);
    assert_int_equal(s.replicas, 2);
    t0 = ts_now_ns();
    assert_int_equal(docker_service_update(client, &s, &chg, &err), DOCKER_OK);
    assert_int_equal(ts_docker_inspect_i64(web, "{{.Spec.TaskTemplate.Resources.Limits.NanoCPUs}}"),
                     750000000);
    assert_int_equal(
        ts_docker_inspect_i64(web, "{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}"),
        96 * MiB);
    assert_int_equal(
        ts_docker_inspect_i64(web, "{{.Spec.TaskTemplate.Resources.Reservations.NanoCPUs}}"),
        100000000);
    assert_int_equal(
        ts_docker_inspect_i64(web, "{{.Spec.TaskTemplate.Resources.Reservations.MemoryBytes}}"),
        16 * MiB);
    assert_int_equal(ts_docker_inspect_i64(web, "{{.Spec.Mode.Replicated.Replicas}}"), 2);
    while (!tasks_have(2, 750000000, 96 * MiB)) {
        if (elapsed_ms(t0) > CONVERGE_MS)
            fail_msg("the task containers of %s did not get NanoCpus 750000000 and Memory 96 MiB "
                     "within %d ms",
                     web, CONVERGE_MS);
        usleep(200 * 1000);
    }
    printf("resources rolling update (2 tasks, stop-first, parallelism 1): both task containers "
           "have the new HostConfig %lld ms after the update call\n",
           (long long)elapsed_ms(t0));
    assert_true(wait_running(web_id, 2) >= 0);
    docker_service_free(&s);
}

static void a_stale_version_is_a_conflict_and_changes_nothing(void **state)
{
    struct docker_service stale;
    struct docker_service now;
    struct docker_service_change chg = {.has_replicas = true, .replicas = 3};
    struct docker_err err = {0};
    char expect[256];

    (void)state;
    inspect_web(&stale);
    /* someone else changes the service after we read it */
    assert_int_equal(ts_docker(NULL, 0, "service", "update", "-d", "--no-resolve-image",
                               "--label-add", "trip.bumped=1", web, NULL),
                     0);
    assert_int_equal(docker_service_update(client, &stale, &chg, &err), DOCKER_E_CONFLICT);
    assert_int_equal(err.http_status, 500);
    snprintf(expect, sizeof(expect),
             "update service %s: rpc error: code = Unknown desc = update out of sequence", web);
    assert_string_equal(err.msg, expect);
    printf("stale version: HTTP %d -> %s, \"%s\"\n", err.http_status, docker_code_name(err.code),
           err.msg);
    inspect_web(&now);
    assert_int_equal(now.replicas, 2);
    assert_string_equal(docker_labels_get(&now.labels, "trip.bumped"), "1");
    assert_true(now.version > stale.version);
    /* re-read and decide again: accepted */
    memset(&err, 0, sizeof(err));
    chg.replicas = 2;
    assert_int_equal(docker_service_update(client, &now, &chg, &err), DOCKER_OK);
    docker_service_free(&stale);
    docker_service_free(&now);
}

static void an_unknown_service_is_not_found(void **state)
{
    struct docker_client *c = need_swarm();
    struct docker_service s;
    struct docker_service ghost;
    struct docker_service_change chg = {.has_replicas = true, .replicas = 1};
    struct docker_err err = {0};
    char name[64];
    char expect[256];

    (void)state;
    ts_swarm_name(name, sizeof(name), "ghost");
    assert_int_equal(docker_service_inspect(c, name, &s, &err), DOCKER_E_NOT_FOUND);
    assert_int_equal(err.http_status, 404);
    snprintf(expect, sizeof(expect), "inspect service %s: service %s not found", name, name);
    assert_string_equal(err.msg, expect);
    /* a service read earlier and removed since */
    inspect_web(&ghost);
    snprintf(ghost.id, sizeof(ghost.id), "%s", "nosuchserviceid0000000000");
    snprintf(ghost.name, sizeof(ghost.name), "%s", name);
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_service_update(c, &ghost, &chg, &err), DOCKER_E_NOT_FOUND);
    docker_service_free(&ghost);
}

static void a_global_service_refuses_replicas(void **state)
{
    struct docker_client *c = need_swarm();
    struct docker_service s;
    struct docker_service_change chg = {.has_replicas = true, .replicas = 2};
    struct docker_err err = {0};
    char name[64];
    char id[64];
    char expect[256];

    (void)state;
    ts_swarm_name(name, sizeof(name), "global");
    assert_int_equal(ts_swarm_service_create(id, sizeof(id), name, "--mode", "global", NULL), 0);
    assert_int_equal(docker_service_inspect(c, name, &s, &err), DOCKER_OK);
    assert_true(s.global);
    assert_int_equal(s.replicas, 0);
    assert_int_equal(docker_service_update(c, &s, &chg, &err), DOCKER_E_INVALID);
    snprintf(expect, sizeof(expect), "update service %s: a global service has no replica count",
             name);
    assert_string_equal(err.msg, expect);
    assert_int_equal(ts_docker_inspect_i64(name, "{{.Version.Index}}"), (int64_t)s.version);
    docker_service_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(service_calls_without_a_swarm_are_no_swarm),
        cmocka_unit_test(inspect_by_name_and_id_reads_the_spec),
        cmocka_unit_test(list_with_a_label_filter_finds_only_this_runs_services),
        cmocka_unit_test(update_replicas_1_to_2_runs_two_tasks),
        cmocka_unit_test(update_resources_rolls_them_onto_the_task_containers),
        cmocka_unit_test(a_stale_version_is_a_conflict_and_changes_nothing),
        cmocka_unit_test(an_unknown_service_is_not_found),
        cmocka_unit_test(a_global_service_refuses_replicas),
    };

    return ts_exit_status(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
