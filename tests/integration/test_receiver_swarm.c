/* test_receiver_swarm.c: the real trip-receiver against a real single-node swarm on this machine
 * (tests/support/ts_swarm: initialised when inactive and left again at the end). A service of the
 * test image scales out to 2 replicas on a scale-replicas alert and back to 1 once resolved after
 * the scale duration; its CPU and memory limits (with reservations) scale out and back in, and the
 * running tasks follow; an out-of-band `docker service update` that lands between the receiver's
 * read and its write is detected as a version conflict and kept, not overwritten. Every check
 * reads what a user would: `docker service inspect`, the running tasks' `docker inspect`, the
 * receiver's API and log. */
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
#include "ts_proxy.h"
#include "ts_receiver.h"
#include "ts_swarm.h"

#define MIB (1024LL * 1024)
#define CPU 1000000000LL
#define CONVERGE_MS 90000

static struct docker_client *client;
static struct ts_receiver live; /* the test's receiver: its log is printed if the test fails */

static struct ts_receiver *fresh_receiver(void)
{
    memset(&live, 0, sizeof(live));
    return &live;
}

/* After a failed assertion the test never reached its own stop: show the receiver's log. */
static int print_log_if_left(void **state)
{
    (void)state;
    if (live.state_dir[0])
        ts_receiver_stop(&live, true);
    return 0;
}

static int group_teardown(void **state)
{
    docker_client_free(client);
    client = NULL;
    ts_swarm_end();
    return ts_docker_group_teardown(state);
}

static void need_swarm(void)
{
    struct docker_err err = {0};

    ts_require_docker_image();
    if (!client && docker_client_new(NULL, &client, &err) != DOCKER_OK)
        fail_msg("docker_client_new: %s", err.msg);
    if (ts_swarm_begin() != 0)
        fail_msg("cannot make this node a swarm manager (see stderr)");
}

/* A managed service of the test image: 1 replica, limits 0.5 CPU / 64 MiB, reservations
 * 0.25 CPU / 32 MiB, labels trip.enable=true, trip.max-replicas=3, trip.memory=128m. */
static void make_service(char *name, size_t len, char *id, size_t idlen, const char *what)
{
    ts_swarm_name(name, len, what);
    if (ts_swarm_service_create(id, idlen, name, "--label", "trip.enable=true", "--label",
                                "trip.max-replicas=3", "--label", "trip.memory=128m", "--replicas",
                                "1", "--limit-cpu", "0.5", "--limit-memory", "64m", "--reserve-cpu",
                                "0.25", "--reserve-memory", "32m", "--stop-grace-period", "1s",
                                "--update-delay", "0s", NULL) != 0)
        fail_msg("docker service create %s failed", name);
}

static int64_t elapsed_ms(int64_t t0_ns)
{
    return (ts_now_ns() - t0_ns) / 1000000;
}

/* Waits until `want` tasks are desired and running. Returns the ms waited, or fails. */
static int64_t wait_running(const char *id, int want)
{
    int64_t ms = ts_swarm_wait_running(client, id, want, CONVERGE_MS);
    if (ms < 0)
        fail_msg("tasks of %s never became %d running", id, want);
    return ms;
}

/* The HostConfig value `format` (e.g. "{{.HostConfig.NanoCpus}}") of the service's running task
 * containers, once every one of them reports want. Returns the ms waited, or fails. */
static int64_t wait_tasks_have(const char *service, const char *format, int64_t want)
{
    char filter[300], ids[4096] = "";
    int64_t t0 = ts_now_ns();

    snprintf(filter, sizeof(filter), "label=com.docker.swarm.service.name=%s", service);
    while (elapsed_ms(t0) < CONVERGE_MS) {
        ids[0] = '\0';
        bool all = false;
        if (ts_docker(ids, sizeof(ids), "ps", "-q", "--filter", filter, "--filter",
                      "status=running", NULL) == 0 &&
            ids[0]) {
            all = true;
            for (char *save = NULL, *id = strtok_r(ids, "\n", &save); id;
                 id = strtok_r(NULL, "\n", &save)) {
                if (ts_docker_inspect_i64(id, format) != want)
                    all = false;
            }
        }
        if (all)
            return elapsed_ms(t0);
        usleep(200 * 1000);
    }
    fail_msg("tasks of %s: %s never became %lld", service, format, (long long)want);
    return -1;
}

static char *alert_payload(const char *service, const char *status, const char *fingerprint)
{
    char *body = malloc(2048);
    assert_non_null(body);
    int n = snprintf(body, 2048,
                     "{\"receiver\":\"trip\",\"status\":\"%s\",\"version\":\"4\","
                     "\"groupKey\":\"{}:{service=\\\"%s\\\"}\",\"truncatedAlerts\":0,"
                     "\"alerts\":[{\"status\":\"%s\",\"labels\":{\"alertname\":\"ServiceHighCpu\","
                     "\"service\":\"%s\",\"action\":\"scale-replicas\",\"severity\":\"warning\"},"
                     "\"annotations\":{},\"startsAt\":\"2026-11-25T00:13:45Z\",\"endsAt\":"
                     "\"0001-01-01T00:00:00Z\",\"generatorURL\":\"\",\"fingerprint\":\"%s\"}]}",
                     status, service, status, service, fingerprint);
    assert_true(n > 0 && n < 2048);
    return body;
}

static void post_alert(const struct ts_receiver *r, const char *service, const char *status)
{
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    char *body = alert_payload(service, status, "5e41ce0000000001");

    assert_int_equal(ts_http_json(r, "POST", "/webhook", NULL, body, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"result\":\"accepted\""));
    free(body);
    free(rep);
}

static long api_scale(const struct ts_receiver *r, const char *service, const char *body,
                      struct ts_http_reply *rep)
{
    char path[300];
    snprintf(path, sizeof(path), "/api/v1/containers/%s/scale", service);
    assert_int_equal(ts_http_json(r, "POST", path, NULL, body, rep), 0);
    return rep->status;
}

static void start_receiver(struct ts_receiver *r, const char *docker_host)
{
    const char *args[] = {"--scale-duration", "3s", "--docker-host", docker_host, NULL};
    if (!docker_host)
        args[2] = NULL;
    assert_int_equal(ts_receiver_start(r, args), 0);
}

static void replicas_scale_out_on_alert_and_back_after_resolve(void **state)
{
    char name[128], id[64], path[300];
    struct ts_receiver *r = fresh_receiver();
    struct ts_http_reply *rep = malloc(sizeof(*rep));

    (void)state;
    need_swarm();
    make_service(name, sizeof(name), id, sizeof(id), "rep");
    wait_running(id, 1);
    start_receiver(r, NULL);

    int64_t t0 = ts_now_ns();
    post_alert(r, name, "firing");
    assert_true(ts_docker_wait_i64(name, "{{.Spec.Mode.Replicated.Replicas}}", 2, 10000) >= 0);
    int64_t spec_ms = elapsed_ms(t0);
    int64_t run_ms = wait_running(id, 2) + spec_ms;
    snprintf(path, sizeof(path), "/api/v1/containers/%s", name);
    assert_int_equal(ts_http_json(r, "GET", path, NULL, NULL, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"kind\": \"service\""));
    assert_true(ts_receiver_log_has(r, "msg=\"scaled out\"", 2000));

    /* Repeated while firing: one step only (the scale duration has not passed since it). */
    post_alert(r, name, "firing");
    usleep(500 * 1000);
    assert_int_equal(ts_docker_inspect_i64(name, "{{.Spec.Mode.Replicated.Replicas}}"), 2);

    int64_t t1 = ts_now_ns();
    post_alert(r, name, "resolved");
    assert_true(ts_docker_wait_i64(name, "{{.Spec.Mode.Replicated.Replicas}}", 1, 15000) >= 0);
    int64_t back_ms = elapsed_ms(t1);
    assert_true(back_ms >= 2000); /* not before the 3 s scale duration that began at the step */
    wait_running(id, 1);
    printf("replicas: alert -> spec 2 in %lld ms, 2 running in %lld ms; resolved -> 1 in %lld ms "
           "(scale duration 3 s from the step)\n",
           (long long)spec_ms, (long long)run_ms, (long long)back_ms);
    assert_int_equal(ts_receiver_stop(r, false), 0);
    free(rep);
}

static void limits_and_reservations_scale_out_and_back_and_tasks_follow(void **state)
{
    char name[128], id[64];
    struct ts_receiver *r = fresh_receiver();
    struct ts_http_reply *rep = malloc(sizeof(*rep));

    (void)state;
    need_swarm();
    make_service(name, sizeof(name), id, sizeof(id), "vert");
    wait_running(id, 1);
    start_receiver(r, NULL);

    int64_t t0 = ts_now_ns();
    assert_int_equal(api_scale(r, name, "{\"resource\":\"cpu\",\"duration\":\"1h\"}", rep), 200);
    assert_non_null(strstr(rep->body, "\"result\":\"ok\""));
    assert_int_equal(api_scale(r, name, "{\"resource\":\"memory\",\"duration\":\"1h\"}", rep), 200);
    const char *res = "{{.Spec.TaskTemplate.Resources";
    char f[4][96];
    snprintf(f[0], sizeof(f[0]), "%s.Limits.NanoCPUs}}", res);
    snprintf(f[1], sizeof(f[1]), "%s.Reservations.NanoCPUs}}", res);
    snprintf(f[2], sizeof(f[2]), "%s.Limits.MemoryBytes}}", res);
    snprintf(f[3], sizeof(f[3]), "%s.Reservations.MemoryBytes}}", res);
    assert_int_equal(ts_docker_inspect_i64(name, f[0]), CPU); /* no trip.cpus: twice 0.5 */
    assert_int_equal(ts_docker_inspect_i64(name, f[1]), CPU / 2);
    assert_int_equal(ts_docker_inspect_i64(name, f[2]), 128 * MIB); /* trip.memory */
    assert_int_equal(ts_docker_inspect_i64(name, f[3]), 64 * MIB);
    int64_t cpu_ms = wait_tasks_have(name, "{{.HostConfig.NanoCpus}}", CPU);
    wait_tasks_have(name, "{{.HostConfig.Memory}}", 128 * MIB);
    int64_t out_ms = elapsed_ms(t0);
    printf("vertical: the running task had the new CPU limit %lld ms after the CPU wait began\n",
           (long long)cpu_ms);

    t0 = ts_now_ns();
    assert_int_equal(api_scale(r, name, "{\"resource\":\"cpu\",\"direction\":\"in\"}", rep), 200);
    assert_non_null(strstr(rep->body, "\"result\":\"ok\""));
    assert_int_equal(api_scale(r, name, "{\"resource\":\"memory\",\"direction\":\"in\"}", rep),
                     200);
    assert_int_equal(ts_docker_inspect_i64(name, f[0]), CPU / 2);
    assert_int_equal(ts_docker_inspect_i64(name, f[1]), CPU / 4);
    assert_int_equal(ts_docker_inspect_i64(name, f[2]), 64 * MIB);
    assert_int_equal(ts_docker_inspect_i64(name, f[3]), 32 * MIB);
    wait_tasks_have(name, "{{.HostConfig.NanoCpus}}", CPU / 2);
    wait_tasks_have(name, "{{.HostConfig.Memory}}", 64 * MIB);
    printf("vertical: limits out and task replaced in %lld ms, back in %lld ms\n",
           (long long)out_ms, (long long)elapsed_ms(t0));

    /* Restart is Swarm's job; replicas of a container are refused. */
    char path[300];
    snprintf(path, sizeof(path), "/api/v1/containers/%s/restart", name);
    assert_int_equal(ts_http_json(r, "POST", path, NULL, "{}", rep), 0);
    assert_int_equal(rep->status, 422);
    assert_non_null(strstr(rep->body, "restart policy"));
    assert_int_equal(ts_receiver_stop(r, false), 0);
    free(rep);
}

struct oob {
    const char *service;
    int rc;
};

/* Runs at the proxy while the receiver's update request is held: someone else's update. */
static void out_of_band_update(void *ud)
{
    struct oob *o = ud;
    o->rc = ts_docker(NULL, 0, "service", "update", "-d", "--env-add", "TRIP_OOB=kept", o->service,
                      NULL);
}

static void version_conflict_is_detected_and_the_other_change_kept(void **state)
{
    char name[128], id[64];
    struct ts_receiver *r = fresh_receiver();
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    struct ts_proxy *px;
    struct oob o = {.rc = -1};
    char api[16], prefix[64];

    (void)state;
    need_swarm();
    make_service(name, sizeof(name), id, sizeof(id), "race");
    wait_running(id, 1);
    px = ts_proxy_new(ts_docker_socket());
    assert_non_null(px);
    o.service = name;
    assert_int_equal(ts_docker_api_in_use(api, sizeof(api)), 0); /* what the receiver will use */
    snprintf(prefix, sizeof(prefix), "POST /v%s/services/", api);
    ts_proxy_on_request(px, prefix, out_of_band_update, &o);
    start_receiver(r, ts_proxy_url(px));

    int64_t v0 = ts_docker_inspect_i64(name, "{{.Version.Index}}");
    assert_int_equal(api_scale(r, name, "{\"resource\":\"replicas\",\"duration\":\"1h\"}", rep),
                     200);
    assert_non_null(strstr(rep->body, "\"result\":\"ok\""));
    assert_int_equal(o.rc, 0); /* the out-of-band update did land in between */
    assert_true(ts_receiver_log_has(r, "version conflict", 2000));
    /* Both changes are there: the receiver's replicas and the other update's environment. */
    assert_int_equal(ts_docker_inspect_i64(name, "{{.Spec.Mode.Replicated.Replicas}}"), 2);
    char env[512] = "";
    assert_int_equal(
        ts_docker_inspect(name, "{{json .Spec.TaskTemplate.ContainerSpec.Env}}", env, sizeof(env)),
        0);
    assert_non_null(strstr(env, "TRIP_OOB=kept"));
    assert_true(ts_docker_inspect_i64(name, "{{.Version.Index}}") > v0 + 1);
    /* The state records the version it finally acted on, not the stale one. */
    char path[300];
    snprintf(path, sizeof(path), "/api/v1/containers/%s", name);
    assert_int_equal(ts_http_json(r, "GET", path, NULL, NULL, rep), 0);
    char want[64];
    snprintf(want, sizeof(want), "\"version\": %lld", (long long)v0);
    assert_null(strstr(rep->body, want));
    printf("version conflict: read at %lld, someone else updated, re-read and applied: %s\n",
           (long long)v0, strstr(rep->body, "\"version\"") ? "yes" : "no");
    assert_int_equal(ts_receiver_stop(r, false), 0);
    ts_proxy_free(px);
    free(rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(replicas_scale_out_on_alert_and_back_after_resolve,
                                  print_log_if_left),
        cmocka_unit_test_teardown(limits_and_reservations_scale_out_and_back_and_tasks_follow,
                                  print_log_if_left),
        cmocka_unit_test_teardown(version_conflict_is_detected_and_the_other_change_kept,
                                  print_log_if_left),
    };
    return ts_exit_status(cmocka_run_group_tests(tests, NULL, group_teardown));
}
