/* test_receiver_memguard.c: the real trip-receiver binary against a real container whose workload
 * grew into its scaled-out memory: scale-in back to the 256 MiB baseline is postponed while the
 * workload holds 300 MiB (shrinking below the usage would OOM-kill it), and follows within a few
 * seconds once the memory is released. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ts_common.h"
#include "ts_docker.h"
#include "ts_receiver.h"

#define MIB 1048576LL

static const char *const managed[] = {"trip.enable=true", NULL};

static void post_memory_alert(const struct ts_receiver *r, const char *container,
                              const char *status)
{
    char body[1024];
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    assert_non_null(rep);
    snprintf(body, sizeof(body),
             "{\"version\":\"4\",\"status\":\"%s\",\"alerts\":[{\"status\":\"%s\",\"labels\":"
             "{\"alertname\":\"ContainerHighMemory\",\"name\":\"%s\",\"severity\":\"warning\"},"
             "\"startsAt\":\"2026-11-25T00:13:45Z\",\"endsAt\":\"0001-01-01T00:00:00Z\","
             "\"fingerprint\":\"g%s\"}]}",
             status, status, container, container);
    assert_int_equal(ts_http_json(r, "POST", "/webhook", NULL, body, rep), 0);
    assert_int_equal(rep->status, 200);
    free(rep);
}

static void scale_in_waits_until_the_workload_fits_the_baseline(void **state)
{
    char name[128], id[80], ip[64] = "", path[200];
    struct ts_receiver r;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    const char *args[] = {"--scale-duration", "1s", "--memory", "512m", NULL};
    (void)state;

    assert_non_null(rep);
    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "memguard");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, managed, "--memory", "256m",
                                             "--memory-swap", "256m", NULL),
                     0);
    assert_int_equal(ts_docker_inspect(name, "{{.NetworkSettings.IPAddress}}", ip, sizeof(ip)), 0);
    assert_true(ip[0] != '\0');
    assert_int_equal(ts_receiver_start(&r, args), 0);

    post_memory_alert(&r, name, "firing");
    assert_true(ts_docker_wait_i64(name, "{{.HostConfig.Memory}}", 512 * MIB, 5000) >= 0);
    assert_int_equal(ts_workload_get(ip, "/mem/hold?mb=300"), 200);
    post_memory_alert(&r, name, "resolved");

    /* Past the 1 s deadline: still 512 MiB, the workload still runs, the log and the API say why.
     */
    assert_true(ts_receiver_log_has(
        &r, "memory scale-in postponed: working set above the scale-in margin", 8000));
    sleep(2);
    assert_int_equal(ts_docker_inspect_i64(name, "{{.HostConfig.Memory}}"), 512 * MIB);
    assert_int_equal(ts_docker_inspect_i64(name, "{{if .State.Running}}1{{else}}0{{end}}"), 1);
    assert_int_equal(ts_docker_inspect_i64(name, "{{if .State.OOMKilled}}1{{else}}0{{end}}"), 0);
    snprintf(path, sizeof(path), "/api/v1/containers/%s", name);
    assert_int_equal(ts_http_json(&r, "GET", path, NULL, NULL, rep), 0);
    assert_int_equal(rep->status, 200);
    print_message("state: %s\n", rep->body);
    assert_non_null(strstr(rep->body, "\"postponed\""));

    /* Released: the next retry (every 5 s) scales in. */
    assert_int_equal(ts_workload_get(ip, "/mem/release"), 200);
    int64_t waited = ts_docker_wait_i64(name, "{{.HostConfig.Memory}}", 256 * MIB, 10000);
    print_message("scale-in %lld ms after the release\n", (long long)waited);
    assert_true(waited >= 0);
    assert_int_equal(ts_docker_inspect_i64(name, "{{if .State.Running}}1{{else}}0{{end}}"), 1);
    free(rep);
    assert_int_equal(ts_receiver_stop(&r, false), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scale_in_waits_until_the_workload_fits_the_baseline),
    };
    return ts_exit_status(cmocka_run_group_tests(tests, NULL, ts_docker_group_teardown));
}
