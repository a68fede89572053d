/* test_receiver_scaling.c: the real trip-receiver binary against real containers: Alertmanager's
 * firing/resolved payloads scale CPU and memory out and back to the inspected baseline, repeated
 * webhooks apply once, --dry-run changes nothing. */
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
#include <time.h>
#include <unistd.h>

#include "ts_common.h"
#include "ts_docker.h"
#include "ts_receiver.h"

#define GIB 1073741824LL

static const char *const managed[] = {"trip.enable=true", NULL};


/* The kernel's values follow inspect by a few ms (the daemon saves its config, then runc writes
 * the cgroup): poll them too. */
static int64_t cgroup_cpu(const char *id)
{
    int64_t v = -1;
    bool weight = false;
    assert_int_equal(ts_cgroup_cpu(id, &v, &weight), 0);
    return v;
}

static int64_t cgroup_mem(const char *id)
{
    int64_t v = -1;
    assert_int_equal(ts_cgroup_memory_limit(id, &v), 0);
    return v;
}

static int64_t wait_cgroup(int64_t (*read)(const char *), const char *id, int64_t want,
                           int timeout_ms)
{
    int64_t t0 = ts_now_ms(), v = -1;
    while (ts_now_ms() - t0 <= timeout_ms) {
        v = read(id);
        if (v == want)
            return v;
        usleep(20000);
    }
    return v;
}

static int64_t cpu_want(int64_t shares)
{
    return ts_cgroup_version() == 2 ? ts_cgroup_weight_from_shares(shares) : shares;
}

static void post_fixture(const struct ts_receiver *r, const char *fixture, const char *container)
{
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    char *body = ts_fixture_for(fixture, container);
    assert_non_null(body);
    assert_int_equal(ts_http_json(r, "POST", "/webhook", NULL, body, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"result\":\"accepted\""));
    free(body);
    free(rep);
}

static void post_memory_alert(const struct ts_receiver *r, const char *container,
                              const char *status)
{
    char body[1024];
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    snprintf(body, sizeof(body),
             "{\"version\":\"4\",\"status\":\"%s\",\"alerts\":[{\"status\":\"%s\",\"labels\":"
             "{\"alertname\":\"ContainerHighMemory\",\"name\":\"%s\",\"severity\":\"warning\"},"
             "\"startsAt\":\"2026-11-25T00:13:45Z\",\"endsAt\":\"0001-01-01T00:00:00Z\","
             "\"fingerprint\":\"m%s\"}]}",
             status, status, container, container);
    assert_int_equal(ts_http_json(r, "POST", "/webhook", NULL, body, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"result\":\"accepted\""));
    free(rep);
}

/* Firing -> 1024 in inspect and in the kernel; resolved -> the inspected baseline after 2 s. */
static void cpu_round_trip(int baseline)
{
    char name[128], id[80], shares[16];
    struct ts_receiver r;
    const char *args[] = {"--scale-duration", "2s", NULL};

    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "cpu");
    snprintf(shares, sizeof(shares), "%d", baseline);
    assert_int_equal(
        ts_docker_run_container(id, sizeof(id), name, managed, "--cpu-shares", shares, NULL), 0);
    assert_int_equal(ts_receiver_start(&r, args), 0);
    int64_t fired = ts_now_ms();
    post_fixture(&r, "alertmanager-0.25-firing.json", name);
    /* Ordering and the eventual outcome, with deadlines a loaded 2-core machine meets (30 s);
     * how soon is a latency, measured in bench/. */
    assert_true(ts_docker_wait_i64(name, "{{.HostConfig.CpuShares}}", 1024, 30000) >= 0);
    assert_int_equal(wait_cgroup(cgroup_cpu, id, cpu_want(1024), 30000), cpu_want(1024));
    post_fixture(&r, "alertmanager-0.25-resolved.json", name);
    assert_true(ts_docker_wait_i64(name, "{{.HostConfig.CpuShares}}", baseline, 30000) >= 0);
    int64_t took = ts_now_ms() - fired;
    assert_true(took >= 1900); /* not before the scale duration */
    print_message("back to %d shares %lld ms after the firing webhook\n", baseline,
                  (long long)took);
    assert_int_equal(wait_cgroup(cgroup_cpu, id, cpu_want(baseline), 30000), cpu_want(baseline));
    /* logged once the update returned, which may be after inspect already shows it */
    assert_true(ts_receiver_log_has(&r, "msg=\"scaled in\"", 10000));
    assert_int_equal(ts_receiver_stop(&r, false), 0);
}

static void cpu_512_goes_to_1024_and_back(void **state)
{
    (void)state;
    cpu_round_trip(512);
}

static void cpu_300_returns_to_300_not_512(void **state)
{
    (void)state;
    cpu_round_trip(300);
}

static void memory_1g_to_2g_and_back_keeps_swap_consistent(void **state)
{
    char name[128], id[80];
    struct ts_receiver r;
    const char *args[] = {"--scale-duration", "2s", NULL};
    (void)state;

    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "mem");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, managed, "--memory", "1g", NULL),
                     0);
    assert_int_equal(ts_docker_inspect_i64(name, "{{.HostConfig.MemorySwap}}"), 2 * GIB);
    assert_int_equal(ts_receiver_start(&r, args), 0);
    post_memory_alert(&r, name, "firing");
    assert_true(ts_docker_wait_i64(name, "{{.HostConfig.Memory}}", 2 * GIB, 30000) >= 0);
    assert_int_equal(ts_docker_inspect_i64(name, "{{.HostConfig.MemorySwap}}"), 4 * GIB);
    assert_int_equal(wait_cgroup(cgroup_mem, id, 2 * GIB, 30000), 2 * GIB);
    post_memory_alert(&r, name, "resolved");
    assert_true(ts_docker_wait_i64(name, "{{.HostConfig.Memory}}", GIB, 30000) >= 0);
    assert_int_equal(ts_docker_inspect_i64(name, "{{.HostConfig.MemorySwap}}"), 2 * GIB);
    assert_int_equal(wait_cgroup(cgroup_mem, id, GIB, 30000), GIB);
    assert_int_equal(ts_receiver_stop(&r, false), 0);
}

struct poster {
    const struct ts_receiver *r;
    const char *body;
    long status;
};

static void *post_thread(void *arg)
{
    struct poster *p = arg;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    if (rep && ts_http_json(p->r, "POST", "/webhook", NULL, p->body, rep) == 0)
        p->status = rep->status;
    free(rep);
    return NULL;
}

static void hundred_identical_webhooks_make_one_update(void **state)
{
    char name[128], id[80], events[8192];
    struct ts_receiver r;
    const char *args[] = {"--scale-duration", "1h", NULL};
    pthread_t th[100];
    struct poster p[100];
    (void)state;

    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "burst");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, managed, NULL), 0);
    assert_int_equal(ts_receiver_start(&r, args), 0);
    char *body = ts_fixture_for("alertmanager-0.25-firing.json", name);
    int64_t t0 = ts_now_ns();
    for (int i = 0; i < 100; i++) {
        p[i] = (struct poster){&r, body, 0};
        assert_int_equal(pthread_create(&th[i], NULL, post_thread, &p[i]), 0);
    }
    for (int i = 0; i < 100; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(p[i].status, 200);
    }
    assert_true(ts_docker_wait_i64(name, "{{.HostConfig.CpuShares}}", 1024, 30000) >= 0);
    /* every event from the first webhook until 2 s after the update was seen */
    int window_ms = (int)((ts_now_ns() - t0) / 1000000) + 2000;
    assert_int_equal(ts_docker_events(name, t0, window_ms, events, sizeof(events)), 0);
    int updates = 0;
    for (const char *s = strstr(events, " update"); s; s = strstr(s + 1, " update"))
        updates++;
    print_message("events:\n%s\n", events);
    assert_int_equal(updates, 1);
    free(body);
    assert_int_equal(ts_receiver_stop(&r, false), 0);
}

/* A webhook naming 1 000 alerts (the most one may name) travels to the privileged process and
 * back in batches (one write out, replies written together, the workers held meanwhile): every
 * alert still gets its own decision, in order. Three real managed containers sit among 997
 * names of no container; they are accepted and scaled, the rest ignored as unknown. */
static void thousand_alert_webhook_answers_each_alert(void **state)
{
    char names[3][128], id[80];
    const size_t at[3] = {0, 500, 999};
    struct ts_receiver r;
    const char *args[] = {"--scale-duration", "1h", NULL};
    (void)state;

    ts_require_docker_image();
    for (size_t k = 0; k < 3; k++) {
        ts_docker_name(names[k], sizeof(names[k]), "thousand");
        assert_int_equal(ts_docker_run_container(id, sizeof(id), names[k], managed, NULL), 0);
    }
    assert_int_equal(ts_receiver_start(&r, args), 0);
    json_t *alerts = json_array();
    for (size_t i = 0; i < 1000; i++) {
        char name[160], fp[17];
        snprintf(name, sizeof(name), "trip-no-such-%zu", i);
        for (size_t k = 0; k < 3; k++)
            if (at[k] == i)
                snprintf(name, sizeof(name), "%s", names[k]);
        snprintf(fp, sizeof(fp), "%016zx", i + 1);
        json_array_append_new(alerts, json_pack("{s:s, s:{s:s, s:s}, s:s}", "status", "firing",
                                                "labels", "alertname", "ContainerHighCpu", "name",
                                                name, "fingerprint", fp));
    }
    json_t *doc =
        json_pack("{s:s, s:s, s:o}", "version", "4", "status", "firing", "alerts", alerts);
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_non_null(body);
    /* until the refresh has listed the three containers (the webhook answers from the cache) */
    json_t *reply = NULL;
    for (int tries = 0; tries < 50; tries++) {
        long status = 0;
        char *text = ts_http_alloc(&r, "POST", "/webhook", body, &status);
        assert_non_null(text);
        assert_int_equal(status, 200);
        json_decref(reply);
        reply = json_loads(text, 0, NULL);
        free(text);
        assert_non_null(reply);
        if (json_integer_value(json_object_get(reply, "accepted")) == 3)
            break;
        ts_sleep_ms(100);
    }
    assert_int_equal(json_integer_value(json_object_get(reply, "accepted")), 3);
    assert_int_equal(json_integer_value(json_object_get(reply, "ignored")), 997);
    json_t *each = json_object_get(reply, "alerts");
    assert_int_equal(json_array_size(each), 1000);
    for (size_t i = 0; i < 1000; i++) {
        json_t *a = json_array_get(each, i);
        const char *c = json_string_value(json_object_get(a, "container"));
        const char *result = json_string_value(json_object_get(a, "result"));
        const char *reason = json_string_value(json_object_get(a, "reason"));
        bool real = false;
        for (size_t k = 0; k < 3; k++)
            real = real || at[k] == i;
        assert_non_null(c);
        assert_non_null(result);
        assert_non_null(reason);
        if (real) {
            assert_string_equal(result, "accepted");
            assert_string_equal(reason, "scale-out");
        } else {
            char want[64];
            snprintf(want, sizeof(want), "trip-no-such-%zu", i);
            assert_string_equal(c, want);
            assert_string_equal(result, "ignored");
            assert_non_null(strstr(reason, "no such container"));
        }
    }
    json_decref(reply);
    free(body);
    for (size_t k = 0; k < 3; k++)
        assert_true(ts_docker_wait_i64(names[k], "{{.HostConfig.CpuShares}}", 1024, 30000) >= 0);
    assert_int_equal(ts_receiver_stop(&r, false), 0);
}

static void dry_run_changes_nothing(void **state)
{
    char name[128], id[80], events[4096], path[200];
    struct ts_receiver r;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    const char *args[] = {"--scale-duration", "1s", "--dry-run", NULL};
    (void)state;

    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "dry");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, managed, NULL), 0);
    assert_int_equal(ts_receiver_start(&r, args), 0);
    int64_t t0 = ts_now_ns();
    post_fixture(&r, "alertmanager-0.25-firing.json", name);
    assert_true(ts_receiver_log_has(&r, "would scale out (dry run)", 30000));
    snprintf(path, sizeof(path), "/api/v1/containers/%s", name);
    assert_int_equal(ts_http_json(&r, "GET", path, NULL, NULL, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"dry_run\": true"));
    assert_non_null(strstr(rep->body, "\"scaled_out\": true")); /* what it would do */
    post_fixture(&r, "alertmanager-0.25-resolved.json", name);
    assert_true(ts_receiver_log_has(&r, "would scale in (dry run)", 30000));
    assert_int_equal(ts_docker_inspect_i64(name, "{{.HostConfig.CpuShares}}"), 512);
    /* every event from the firing webhook until 1 s after the would-be scale-in */
    int window_ms = (int)((ts_now_ns() - t0) / 1000000) + 1000;
    assert_int_equal(ts_docker_events(name, t0, window_ms, events, sizeof(events)), 0);
    assert_null(strstr(events, "update"));
    free(rep);
    assert_int_equal(ts_receiver_stop(&r, false), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cpu_512_goes_to_1024_and_back),
        cmocka_unit_test(cpu_300_returns_to_300_not_512),
        cmocka_unit_test(memory_1g_to_2g_and_back_keeps_swap_consistent),
        cmocka_unit_test(hundred_identical_webhooks_make_one_update),
        cmocka_unit_test(thousand_alert_webhook_answers_each_alert),
        cmocka_unit_test(dry_run_changes_nothing),
    };
    return ts_exit_status(cmocka_run_group_tests(tests, NULL, ts_docker_group_teardown));
}
