/* test_alerts.c: Alertmanager payload v4 -> alert records, on the real captures and broken
 * variants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "ts_common.h"

static void parse_text(const char *body, struct alerts_batch *b, alerts_code want)
{
    struct alerts_err err = {0};
    assert_int_equal(alerts_parse(body, strlen(body), NULL, b, &err), want);
}

static void real_firing_sample_gives_one_cpu_alert(void **state)
{
    size_t len;
    char *body = ts_read_file(ts_fixture("alertmanager-0.25-firing.json"), &len);
    struct alerts_batch b;
    (void)state;
    assert_non_null(body);
    assert_int_equal(alerts_parse(body, len, NULL, &b, NULL), ALERTS_OK);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.v[0].status, ALERTS_FIRING);
    assert_int_equal(b.v[0].action, ALERTS_SCALE_CPU);
    assert_string_equal(b.v[0].alertname, "ContainerHighCpu");
    assert_string_equal(b.v[0].container, "user");
    assert_string_equal(b.v[0].fingerprint, "9f3b670a7039a10e");
    assert_string_equal(b.v[0].problem, "");
    /* 2026-11-25T00:13:45.313Z */
    assert_int_equal(b.v[0].starts_at_ms, 1795565625313LL);
    assert_int_equal(b.v[0].ends_at_ms, 0);
    alerts_batch_free(&b);
    free(body);
}

static void real_resolved_sample_has_end_time(void **state)
{
    size_t len;
    char *body = ts_read_file(ts_fixture("alertmanager-0.25-resolved.json"), &len);
    struct alerts_batch b;
    (void)state;
    assert_non_null(body);
    assert_int_equal(alerts_parse(body, len, NULL, &b, NULL), ALERTS_OK);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.v[0].status, ALERTS_RESOLVED);
    assert_int_equal(b.v[0].action, ALERTS_SCALE_CPU);
    assert_int_equal(b.v[0].ends_at_ms, 1795565627000LL);
    alerts_batch_free(&b);
    free(body);
}

static void malformed_json_reports_position(void **state)
{
    struct alerts_batch b;
    struct alerts_err err = {0};
    const char *body = "{\"alerts\": [ }";
    (void)state;
    assert_int_equal(alerts_parse(body, strlen(body), NULL, &b, &err), ALERTS_E_JSON);
    assert_non_null(strstr(err.msg, "malformed JSON at line 1 column"));
    assert_null(b.v);
}

static void non_payloads_are_rejected_whole(void **state)
{
    struct alerts_batch b;
    struct alerts_err err = {0};
    (void)state;
    parse_text("[]", &b, ALERTS_E_PAYLOAD);
    parse_text("{\"status\":\"firing\"}", &b, ALERTS_E_PAYLOAD);
    parse_text("{\"alerts\":{}}", &b, ALERTS_E_PAYLOAD);
    const char *v3 = "{\"version\":\"3\",\"alerts\":[]}";
    assert_int_equal(alerts_parse(v3, strlen(v3), NULL, &b, &err), ALERTS_E_PAYLOAD);
    assert_string_equal(err.msg, "unsupported webhook payload version \"3\" (want \"4\")");
}

static void per_alert_problems_do_not_fail_the_batch(void **state)
{
    struct alerts_batch b;
    (void)state;
    parse_text("{\"version\":\"4\",\"alerts\":["
               "{\"status\":\"firing\",\"labels\":{\"alertname\":\"ContainerHighMemory\",\"name\":"
               "\"db\"}},"
               "{\"status\":\"firing\",\"labels\":{\"alertname\":\"ContainerHighCpu\"}},"
               "{\"status\":\"firing\",\"labels\":{\"alertname\":\"DiskFull\",\"name\":\"x\"}},"
               "{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\",\"name\":\"x\",\"action\":"
               "\"reboot\"}},"
               "{\"status\":\"weird\",\"labels\":{\"alertname\":\"ContainerDown\",\"name\":\"x\"}},"
               "{\"status\":\"firing\",\"labels\":{\"alertname\":\"ContainerDown\",\"name\":\"x\"},"
               "\"startsAt\":\"yesterday\"},"
               "42]}",
               &b, ALERTS_OK);
    assert_int_equal(b.n, 7);
    assert_string_equal(b.v[0].problem, "");
    assert_int_equal(b.v[0].action, ALERTS_SCALE_MEMORY);
    assert_string_equal(b.v[0].container, "db");
    assert_string_equal(b.v[1].problem, "no container label (tried name)");
    assert_string_equal(b.v[2].problem,
                        "no action label and alertname \"DiskFull\" maps to no action");
    assert_string_equal(b.v[3].problem, "unknown action label \"reboot\"");
    assert_string_equal(b.v[4].problem, "status must be firing or resolved");
    assert_string_equal(b.v[5].problem, "malformed startsAt \"yesterday\"");
    assert_string_equal(b.v[6].problem, "alert is not an object");
    alerts_batch_free(&b);
}

static void action_label_wins_over_alertname(void **state)
{
    struct alerts_batch b;
    (void)state;
    parse_text("{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"ContainerHighCpu\","
               "\"name\":\"/web\",\"action\":\"restart\",\"scale_duration\":\"20s\"}}]}",
               &b, ALERTS_OK);
    assert_int_equal(b.v[0].action, ALERTS_RESTART);
    assert_string_equal(b.v[0].container, "web"); /* leading '/' of Docker names dropped */
    assert_string_equal(b.v[0].duration, "20s");
    assert_int_equal(strlen(b.v[0].fingerprint), 16); /* derived when Alertmanager sent none */
    alerts_batch_free(&b);
}

static void container_label_list_is_tried_in_order(void **state)
{
    const char *names[] = {"container_label_com_docker_compose_service", "name"};
    struct alerts_opts o = {.container_labels = names, .n_container_labels = 2, .cpu_alert = "Hot"};
    struct alerts_batch b;
    const char *body =
        "{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"Hot\",\"name\":\"trip_"
        "user_1\","
        "\"container_label_com_docker_compose_service\":\"user\"}},"
        "{\"status\":\"firing\",\"labels\":{\"alertname\":\"Hot\",\"name\":\"only\"}}]}";
    (void)state;
    assert_int_equal(alerts_parse(body, strlen(body), &o, &b, NULL), ALERTS_OK);
    assert_string_equal(b.v[0].container, "user");
    assert_int_equal(b.v[0].action, ALERTS_SCALE_CPU);
    assert_string_equal(b.v[1].container, "only");
    alerts_batch_free(&b);
}

static void too_many_alerts_is_an_error(void **state)
{
    struct alerts_opts o = {.max_alerts = 1};
    struct alerts_batch b;
    struct alerts_err err = {0};
    const char *body = "{\"alerts\":[{},{}]}";
    (void)state;
    assert_int_equal(alerts_parse(body, strlen(body), &o, &b, &err), ALERTS_E_TOOMANY);
    assert_string_equal(err.msg, "2 alerts in one payload, at most 1");
}

static void times_parse_with_offsets_and_fractions(void **state)
{
    int64_t ms;
    (void)state;
    assert_int_equal(alerts_time_parse("1970-01-01T00:00:01Z", &ms), 0);
    assert_int_equal(ms, 1000);
    assert_int_equal(alerts_time_parse("1970-01-01T01:00:00.5+01:00", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(alerts_time_parse("0001-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(alerts_time_parse("2026-11-25 00:00:00", &ms), -1);
    assert_int_equal(alerts_time_parse("2026-11-25T00:00:00Zjunk", &ms), -1);
}

/* Found by fuzzing: labels cut in the middle of a character made the reply invalid JSON. Labels
 * that do not fit are now refused whole. */
static void long_labels_stay_valid_utf8_and_names_are_never_cut(void **state)
{
    char body[1200], alertname[200], name[300];
    struct alerts_batch b;
    (void)state;
    memset(alertname, 'a', 126);
    strcpy(alertname + 126, "\xc3\xa9"); /* 126 x a + "é": byte 127 of 128 splits it */
    memset(name, 'n', 254);
    strcpy(name + 254, "\xc3\xa9"); /* 256 bytes: longer than a container name can be */
    snprintf(
        body, sizeof(body),
        "{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"%s\",\"name\":\"web\","
        "\"action\":\"scale-cpu\"}},{\"status\":\"firing\",\"labels\":{\"alertname\":"
        "\"ContainerHighCpu\",\"name\":\"%s\"}}]}",
        alertname, name);
    parse_text(body, &b, ALERTS_OK);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.v[0].alertname, ""); /* refused whole, never cut */
    assert_string_equal(b.v[0].problem, "label alertname is longer than 127 bytes");
    assert_string_equal(b.v[1].container, "");
    assert_string_equal(b.v[1].problem, "container label longer than 255 bytes");
    alerts_batch_free(&b);
    /* a problem quoting a label with "%.60s" is cut on a character boundary too */
    snprintf(body, sizeof(body),
             "{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"x\",\"name\":\"w\","
             "\"action\":\"%.59s\xc3\xa9\"}}]}",
             alertname);
    parse_text(body, &b, ALERTS_OK);
    assert_non_null(strstr(b.v[0].problem, "unknown action label"));
    assert_null(strstr(b.v[0].problem, "\xc3"));
    alerts_batch_free(&b);
}

/* Found by fuzzing: a one-digit offset hour moved the parser past the end of the string. */
static void short_time_offsets_are_malformed(void **state)
{
    int64_t ms;
    (void)state;
    assert_int_equal(alerts_time_parse("2001-01-10T00:00:01-1:01", &ms), -1);
    assert_int_equal(alerts_time_parse("2001-01-10T00:00:01+01:1", &ms), -1);
    assert_int_equal(alerts_time_parse("2001-01-10T00:00:01+ 1:01", &ms), -1);
    assert_int_equal(alerts_time_parse("2001-01-10T00:00:01+01:00", &ms), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_firing_sample_gives_one_cpu_alert),
        cmocka_unit_test(real_resolved_sample_has_end_time),
        cmocka_unit_test(malformed_json_reports_position),
        cmocka_unit_test(non_payloads_are_rejected_whole),
        cmocka_unit_test(per_alert_problems_do_not_fail_the_batch),
        cmocka_unit_test(action_label_wins_over_alertname),
        cmocka_unit_test(container_label_list_is_tried_in_order),
        cmocka_unit_test(too_many_alerts_is_an_error),
        cmocka_unit_test(times_parse_with_offsets_and_fractions),
        cmocka_unit_test(long_labels_stay_valid_utf8_and_names_are_never_cut),
        cmocka_unit_test(short_time_offsets_are_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
