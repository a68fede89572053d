/* test_receiver_cpus.c: the CPU quota (HostConfig.NanoCpus, label trip.cpus), the resource added
 * as one row of the resource table, scaled out and back on a real container by the real daemon
 * through the manual API. About 3 s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "ts_common.h"
#include "ts_docker.h"
#include "ts_receiver.h"

static const char *const labels[] = {"trip.enable=true", "trip.cpus=1", NULL};

static void cpu_quota_scales_out_to_trip_cpus_and_back(void **state)
{
    char name[128], id[80], path[300];
    struct ts_receiver r;
    struct ts_http_reply *rep = test_malloc(sizeof(*rep));
    const char *args[] = {"--scale-duration", "1h", "--heal-events=false", NULL};
    (void)state;

    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "cpus");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, labels, "--cpus", "0.5", NULL),
                     0);
    assert_int_equal(ts_docker_inspect_i64(name, "{{.HostConfig.NanoCpus}}"), 500000000);
    assert_int_equal(ts_receiver_start(&r, args), 0);
    snprintf(path, sizeof(path), "/api/v1/containers/%s/scale", name);

    assert_int_equal(ts_http_json(&r, "POST", path, NULL, "{\"resource\":\"cpus\"}", rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"result\":\"ok\""));
    assert_true(ts_docker_wait_i64(name, "{{.HostConfig.NanoCpus}}", 1000000000, 5000) >= 0);
    assert_int_equal(ts_docker_inspect_i64(name, "{{.HostConfig.CpuShares}}"), 512); /* untouched */

    snprintf(path, sizeof(path), "/api/v1/containers/%s", name);
    assert_int_equal(ts_http_json(&r, "GET", path, NULL, NULL, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"cpus\""));
    assert_non_null(strstr(rep->body, "\"baseline\": 500000000"));

    snprintf(path, sizeof(path), "/api/v1/containers/%s/scale", name);
    assert_int_equal(
        ts_http_json(&r, "POST", path, NULL, "{\"resource\":\"cpus\",\"direction\":\"in\"}", rep),
        0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"result\":\"ok\""));
    assert_true(ts_docker_wait_i64(name, "{{.HostConfig.NanoCpus}}", 500000000, 5000) >= 0);
    assert_true(ts_receiver_log_has(&r, "action=scale_in_cpus", 2000));
    assert_int_equal(ts_receiver_stop(&r, false), 0);
    test_free(rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cpu_quota_scales_out_to_trip_cpus_and_back),
    };
    return cmocka_run_group_tests(tests, NULL, ts_docker_group_teardown);
}
