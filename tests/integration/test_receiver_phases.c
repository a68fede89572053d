/* test_receiver_phases.c: the real trip-receiver against the real Docker daemon reports where an
 * action's time goes: after a scale-out through the manual API, GET /metrics has
 * trip_action_phase_seconds{phase} counted for the queue wait, the inspect, the write-ahead claim's
 * save, the Docker call and the final save, and their sums fit in the action's own duration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_common.h"
#include "ts_docker.h"
#include "ts_receiver.h"

static const char *const labels[] = {"trip.owner=test", NULL};
static struct ts_http_reply *rep;

static int group_setup(void **state)
{
    (void)state;
    rep = malloc(sizeof(*rep));
    return rep ? 0 : -1;
}

static int group_teardown(void **state)
{
    free(rep);
    return ts_docker_group_teardown(state);
}

/* The value after `series ` in the exposition text, -1 when absent. */
static double series_value(const char *text, const char *series)
{
    char needle[160];
    snprintf(needle, sizeof(needle), "\n%s ", series);
    const char *at = strstr(text, needle);
    return at ? strtod(at + strlen(needle), NULL) : -1;
}

static void scale_out_counts_every_phase(void **state)
{
    struct ts_receiver r = {0};
    const char *args[] = {"--manage-all", NULL};
    char name[128], id[80], path[300];
    static const char *const phases[] = {"queue", "inspect", "claim_save", "docker", "final_save"};

    (void)state;
    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "phases");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, labels, NULL), 0);
    assert_int_equal(ts_receiver_start(&r, args), 0);
    snprintf(path, sizeof(path), "/api/v1/containers/%s/scale", name);
    assert_int_equal(ts_http_json(&r, "POST", path, NULL, "{\"resource\":\"cpu\",\"duration\":\"1h\"}",
                                  rep), 0);
    assert_int_equal(rep->status, 200);
    assert_int_equal(ts_docker_inspect_i64(name, "{{.HostConfig.CpuShares}}"), 1024);
    assert_int_equal(ts_http(&r, "GET", "/metrics", NULL, NULL, 0, rep), 0);
    assert_int_equal(rep->status, 200);
    char *text = strdup(rep->body);
    assert_non_null(text);
    double total = series_value(text, "trip_action_duration_seconds_sum{kind=\"scale_out_cpu\"}");
    double sum = 0;
    printf("scale-out %.2f ms:", total * 1000);
    for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
        char s[128];
        snprintf(s, sizeof(s), "trip_action_phase_seconds_count{phase=\"%s\"}", phases[i]);
        double n = series_value(text, s);
        snprintf(s, sizeof(s), "trip_action_phase_seconds_sum{phase=\"%s\"}", phases[i]);
        double v = series_value(text, s);
        printf(" %s %.2f ms (n=%.0f)", phases[i], v * 1000, n);
        assert_true(n >= 1);
        assert_true(v >= 0);
        if (strcmp(phases[i], "queue") != 0)
            sum += v;
    }
    printf("\n");
    /* the phases after the queue are the action's own time, cut in pieces (1 ms of rounding: the
     * action's duration is taken in whole milliseconds) */
    assert_true(total > 0);
    assert_true(sum <= total + 0.001);
    free(text);
    assert_int_equal(ts_receiver_stop(&r, false), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scale_out_counts_every_phase),
    };
    return ts_exit_status(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
