/* test_prom.c: deciding "still firing" from Prometheus' /api/v1/alerts reply. The reply below was
 * captured from Prometheus 2.42 (Debian) with one firing and one pending rule. The HTTP path runs
 * against a real Prometheus in tests/integration/test_receiver_prometheus.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "prom.h"

static const char captured[] = "{\"status\":\"success\",\"data\":{\"alerts\":["
                               "{\"labels\":{\"action\":\"scale-cpu\",\"alertname\":"
                               "\"ContainerHighCpu\",\"name\":\"user\",\"severity\":\"warning\"},"
                               "\"annotations\":{},\"state\":\"firing\",\"activeAt\":\"2026-11-"
                               "25T13:01:00.255482517Z\",\"value\":\"1e+00\"},"
                               "{\"labels\":{\"action\":\"scale-memory\",\"alertname\":"
                               "\"ContainerHighMemory\",\"name\":\"user\"},"
                               "\"annotations\":{},\"state\":\"pending\",\"activeAt\":\"2026-11-"
                               "25T13:01:00.255482517Z\",\"value\":\"1e+00\"}]}}";

static const char *const names[] = {"name"};

static bool firing_for(const char *container, const char *alertname, const char *action)
{
    struct prom_match m = {names, 1, container, alertname, action};
    bool firing = true;
    assert_int_equal(prom_alerts_firing(captured, strlen(captured), &m, &firing, NULL), PROM_OK);
    return firing;
}

static void firing_alert_for_the_container_holds(void **state)
{
    (void)state;
    assert_true(firing_for("user", "ContainerHighCpu", "scale-cpu"));
}

static void pending_alert_does_not_hold(void **state)
{
    (void)state;
    assert_false(firing_for("user", "ContainerHighMemory", "scale-memory"));
}

static void other_container_or_action_does_not_hold(void **state)
{
    (void)state;
    assert_false(firing_for("place", "ContainerHighCpu", "scale-cpu"));
    /* the action label wins over the alertname when present */
    assert_false(firing_for("user", "ContainerHighCpu", "restart"));
}

static void alertname_counts_when_no_action_label(void **state)
{
    const char *body =
        "{\"status\":\"success\",\"data\":{\"alerts\":[{\"labels\":{\"alertname\":\"Hot\","
        "\"container\":\"db\"},\"state\":\"firing\"}]}}";
    const char *const labels[] = {"name", "container"};
    struct prom_match m = {labels, 2, "db", "Hot", "scale-cpu"};
    bool firing = false;
    (void)state;
    assert_int_equal(prom_alerts_firing(body, strlen(body), &m, &firing, NULL), PROM_OK);
    assert_true(firing);
}

static void malformed_replies_are_errors(void **state)
{
    struct prom_match m = {names, 1, "user", "ContainerHighCpu", "scale-cpu"};
    struct prom_err err = {0};
    bool firing;
    (void)state;
    assert_int_equal(prom_alerts_firing("<html>", 6, &m, &firing, &err), PROM_E_MALFORMED);
    assert_non_null(strstr(err.msg, "prometheus alerts reply"));
    const char *e = "{\"status\":\"error\",\"errorType\":\"bad_data\"}";
    assert_int_equal(prom_alerts_firing(e, strlen(e), &m, &firing, NULL), PROM_E_MALFORMED);
    memset(&err, 0, sizeof(err));
    assert_int_equal(prom_query_firing("http://127.0.0.1:1", 500, &m, &firing, &err),
                     PROM_E_TRANSPORT);
    assert_non_null(strstr(err.msg, "GET http://127.0.0.1:1/api/v1/alerts"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(firing_alert_for_the_container_holds),
        cmocka_unit_test(pending_alert_does_not_hold),
        cmocka_unit_test(other_container_or_action_does_not_hold),
        cmocka_unit_test(alertname_counts_when_no_action_label),
        cmocka_unit_test(malformed_replies_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
