/* test_metrics.c: exposition text as Prometheus parses it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static void counters_are_labelled_and_counted(void **state)
{
    struct metrics *m = metrics_new();
    struct metrics_gauges g = {
        .managed = 3, .scaled_out = {{"cpu", 1}, {"memory", 2}}, .n_scaled_out = 2, .ready = 1};
    (void)state;
    metrics_request(m, "webhook", 200);
    metrics_request(m, "webhook", 200);
    metrics_request(m, "webhook", 400);
    metrics_action(m, "scale_out_cpu", "ok", 0.03);
    metrics_action(m, "scale_out_cpu", "error", 2.0);
    metrics_docker_error(m, "not_found");
    metrics_alert(m, "accepted");
    char *text = metrics_render(m, &g, "0.1.0");
    assert_non_null(text);
    assert_non_null(strstr(text, "trip_http_requests_total{route=\"webhook\",code=\"200\"} 2\n"));
    assert_non_null(strstr(text, "trip_http_requests_total{route=\"webhook\",code=\"400\"} 1\n"));
    assert_non_null(strstr(text, "trip_actions_total{kind=\"scale_out_cpu\",result=\"ok\"} 1\n"));
    assert_non_null(strstr(text, "trip_docker_errors_total{code=\"not_found\"} 1\n"));
    assert_non_null(strstr(text, "trip_webhook_alerts_total{result=\"accepted\"} 1\n"));
    assert_non_null(strstr(text, "trip_build_info{version=\"0.1.0\"} 1\n"));
    assert_non_null(strstr(text, "trip_managed_containers 3\n"));
    assert_non_null(strstr(text, "trip_scaled_out_containers{resource=\"memory\"} 2\n"));
    assert_non_null(strstr(text, "trip_docker_up 1\n"));
    /* 0.03 s falls in le=0.05 and above, 2 s only from le=2.5 */
    assert_non_null(strstr(
        text, "trip_action_duration_seconds_bucket{kind=\"scale_out_cpu\",le=\"0.025\"} 0\n"));
    assert_non_null(strstr(
        text, "trip_action_duration_seconds_bucket{kind=\"scale_out_cpu\",le=\"0.05\"} 1\n"));
    assert_non_null(
        strstr(text, "trip_action_duration_seconds_bucket{kind=\"scale_out_cpu\",le=\"2.5\"} 2\n"));
    assert_non_null(strstr(
        text, "trip_action_duration_seconds_bucket{kind=\"scale_out_cpu\",le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(text, "trip_action_duration_seconds_count{kind=\"scale_out_cpu\"} 2\n"));
    assert_non_null(strstr(text, "# TYPE trip_action_duration_seconds histogram\n"));
    free(text);
    metrics_free(m);
}

static void series_beyond_the_bound_count_as_other(void **state)
{
    struct metrics *m = metrics_new();
    char route[16];
    (void)state;
    for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
        snprintf(route, sizeof(route), "r%d", i);
        metrics_request(m, route, 200);
    }
    char *text = metrics_render(m, NULL, "x");
    assert_non_null(strstr(text, "trip_http_requests_total{route=\"other\",code=\"other\"} 11\n"));
    free(text);
    metrics_free(m);
}

static void null_metrics_is_a_no_op(void **state)
{
    (void)state;
    metrics_request(NULL, "x", 200);
    metrics_action(NULL, "x", "ok", 1);
    metrics_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counters_are_labelled_and_counted),
        cmocka_unit_test(series_beyond_the_bound_count_as_other),
        cmocka_unit_test(null_metrics_is_a_no_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
