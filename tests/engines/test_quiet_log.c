/* test_quiet_log.c: a trip-receiver busy for a minute on a host that is no swarm manager causes no
 * error line in dockerd's own log. Run against the test engine docker29 (tests/engines/engine), whose
 * log is this test's to read (TRIP_TEST_DOCKERD_LOG); the host's daemon may log to journald or
 * nowhere the test can see.
 *
 * The minute: full list every second (--refresh-interval 1s), a managed container scaled out by a
 * webhook, stopped and healed, and the API asked for a container that does not exist (the names a
 * receiver once tried as Swarm services). Every call a receiver makes against a non-manager for
 * services is a `level=error msg="Handler for GET /services returned error" ... module=api` line in
 * dockerd's log; a calibration call (`docker service ls`) first shows that the test sees such a line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ts_common.h"
#include "ts_docker.h"
#include "ts_receiver.h"
#include "ts_swarm.h"

static const char *dockerd_log(void)
{
    const char *p = getenv("TRIP_TEST_DOCKERD_LOG");

    if (!p || !*p)
        ts_skip("TRIP_TEST_DOCKERD_LOG is not set (run as engine-docker29/test_quiet_log)");
    return p;
}

static long log_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The lines of path from byte off on that a client's request caused: dockerd logs a request it
 * failed as `level=error msg="Handler for GET /services returned error" ... module=api` (printed),
 * and how many lines in all were written there (*all). The container's own lifecycle logs
 * warnings of its own when it stops ("cleaning up after shim disconnected"): those are printed
 * but not counted, a `docker stop` causes them with or without a receiver. */
static int bad_lines_since(const char *path, long off, int *all)
{
    size_t len = 0;
    char *text = ts_read_file(path, &len);
    int bad = 0;

    *all = 0;
    assert_non_null(text);
    assert_true((size_t)off <= len);
    for (char *line = text + off; *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        (*all)++;
        if (strstr(line, "module=api") || strstr(line, "Handler for ")) {
            printf("dockerd (a request's): %s\n", line);
            bad++;
        } else if (strstr(line, "level=error") || strstr(line, "level=warning")) {
            printf("dockerd (the container's lifecycle): %s\n", line);
        }
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(text);
    return bad;
}

static void calibration_call_is_logged(void **state)
{
    const char *log = dockerd_log();
    char out[512];
    int all;

    (void)state;
    ts_require_docker();
    assert_false(ts_swarm_active()); /* a fresh test engine, never in a swarm */
    long off = log_size(log);
    assert_true(off >= 0);
    assert_int_not_equal(ts_docker(out, sizeof(out), "service", "ls", NULL), 0);
    ts_sleep_ms(200);
    assert_true(bad_lines_since(log, off, &all) >= 1);
}

static void busy_receiver_leaves_no_line(void **state)
{
    const char *log = dockerd_log();
    struct ts_receiver r = {0};
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    const char *labels[] = {"trip.enable=true", NULL};
    char name[128], missing[128], path[300], id[80];
    int all;

    (void)state;
    assert_non_null(rep);
    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "quiet");
    ts_docker_name(missing, sizeof(missing), "nosuch");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, labels, NULL), 0);
    long off = log_size(log);
    assert_true(off >= 0);
    const char *args[] = {"--refresh-interval", "1s", "--heal-stable", "1s", NULL};
    assert_int_equal(ts_receiver_start(&r, args), 0);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(ts_http(&r, "GET", "/readyz", NULL, NULL, 0, rep), 0);
        if (rep->status == 200)
            break;
        ts_sleep_ms(100);
    }
    assert_int_equal(rep->status, 200);

    int64_t t0 = ts_now_ms();
    assert_int_equal(ts_receiver_post_fixture(&r, "alertmanager-0.25-firing.json", name), 200);
    assert_int_not_equal(ts_docker_wait_i64(name, "{{.HostConfig.CpuShares}}", 1024, 10000), -1);
    assert_int_equal(ts_receiver_post_fixture(&r, "alertmanager-0.25-firing.json", missing), 200);
    snprintf(path, sizeof(path), "/api/v1/containers/%s/scale", missing);
    assert_int_equal(ts_http_json(&r, "POST", path, NULL, "{\"resource\":\"cpu\"}", rep), 0);
    assert_int_equal(rep->status, 404);
    assert_int_equal(ts_docker(NULL, 0, "stop", "-t", "1", name, NULL), 0);
    assert_int_not_equal(
        ts_docker_wait_i64(name, "{{if .State.Running}}1{{else}}0{{end}}", 1, 10000), -1);
    while (ts_now_ms() - t0 < 60000) {
        assert_int_equal(ts_http(&r, "GET", "/api/v1/containers", NULL, NULL, 0, rep), 0);
        assert_int_equal(rep->status, 200);
        assert_int_equal(ts_http(&r, "GET", "/metrics", NULL, NULL, 0, rep), 0);
        ts_sleep_ms(5000);
    }
    assert_int_equal(ts_receiver_stop(&r, false), 0);
    int bad = bad_lines_since(log, off, &all);
    printf("a minute of trip-receiver (full list every 1 s, a scale-out, a heal, a missing name): "
           "%d lines in dockerd's log, %d of them a request's error\n",
           all, bad);
    free(rep);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calibration_call_is_logged),
        cmocka_unit_test(busy_receiver_leaves_no_line),
    };
    return ts_exit_status(cmocka_run_group_tests(tests, NULL, ts_docker_group_teardown));
}
