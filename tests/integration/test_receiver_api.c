/* test_receiver_api.c: every endpoint of the real daemon as an operator's curl would call it:
 * manual scale and restart, state, auth, status codes for bad requests, healing on ContainerDown,
 * metrics, and SIGTERM. */
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

#define TOKEN "t0ken-for-tests"

/* Managed through --manage-all rather than trip.enable=true: another trip-receiver running on
 * this machine (manage-all off, the default) heals stopped trip.enable=true containers from
 * Docker events and would start the stopped container before these tests' requests do. */
static const char *const managed[] = {"trip.owner=test", NULL};
static const char *const unmanaged[] = {"trip.enable=false", NULL};
static struct ts_receiver rx;
static char mname[128], uname[128];
static struct ts_http_reply *rep;

static int group_setup(void **state)
{
    char id[80];
    const char *args[] = {
        "--token", TOKEN, "--scale-duration", "1h", "--max-duration", "2h", "--max-body", "4k",
        /* these tests exercise the manual and ContainerDown paths on a stopped container; the
         * event healer (test_receiver_heal) would start it first */
        "--heal-events=false", "--manage-all", NULL};
    (void)state;
    rep = malloc(sizeof(*rep));
    if (!ts_docker_available())
        return 0; /* each test skips (or fails under CI) in ts_require_docker_image() */
    ts_docker_name(mname, sizeof(mname), "api");
    ts_docker_name(uname, sizeof(uname), "unmanaged");
    if (ts_docker_run_container(id, sizeof(id), mname, managed, NULL) != 0 ||
        ts_docker_run_container(id, sizeof(id), uname, unmanaged, NULL) != 0)
        return -1;
    return ts_receiver_start(&rx, args);
}

static int group_teardown(void **state)
{
    if (rx.pid > 0 && ts_receiver_stop(&rx, false) != 0)
        ts_fail_outside_tests("the shared trip-receiver did not exit cleanly (its log is above)");
    free(rep);
    return ts_docker_group_teardown(state);
}

static long call(const char *method, const char *path, const char *token, const char *body)
{
    assert_int_equal(ts_http_json(&rx, method, path, token, body, rep), 0);
    return rep->status;
}

static char *path_of(const char *name, const char *verb)
{
    static char p[256];
    snprintf(p, sizeof(p), "/api/v1/containers/%s%s", name, verb);
    return p;
}

static void inspect(const char *name, const char *fmt, char *out, size_t len)
{
    assert_int_equal(ts_docker_inspect(name, fmt, out, len), 0);
}

static void manual_scale_out_show_list_and_in(void **state)
{
    char v[64];
    (void)state;
    ts_require_docker_image();
    assert_int_equal(call("POST", path_of(mname, "/scale"), TOKEN,
                          "{\"resource\":\"cpu\",\"direction\":\"out\",\"duration\":\"5m\"}"),
                     200);
    assert_non_null(strstr(rep->body, "\"result\":\"ok\""));
    inspect(mname, "{{.HostConfig.CpuShares}}", v, sizeof(v));
    assert_string_equal(v, "1024");
    assert_int_equal(call("GET", path_of(mname, ""), TOKEN, NULL), 200);
    assert_non_null(strstr(rep->body, "\"scaled_out\": true"));
    assert_non_null(strstr(rep->body, "\"baseline\": 512"));
    assert_non_null(strstr(rep->body, "\"current\": 1024"));
    assert_non_null(strstr(rep->body, "\"deadline\": \"20"));
    assert_non_null(strstr(rep->body, "\"action\": \"scale_out_cpu\""));
    assert_int_equal(call("GET", "/api/v1/containers", TOKEN, NULL), 200);
    assert_non_null(strstr(rep->body, mname));
    assert_int_equal(call("POST", path_of(mname, "/scale"), TOKEN,
                          "{\"resource\":\"cpu\",\"direction\":\"in\"}"),
                     200);
    assert_non_null(strstr(rep->body, "\"result\":\"ok\""));
    inspect(mname, "{{.HostConfig.CpuShares}}", v, sizeof(v));
    assert_string_equal(v, "512");
    assert_true(ts_receiver_log_has(&rx, "action=scale_in_cpu from=1024 to=512", 1000));
    assert_true(ts_receiver_log_has(&rx, "remote=127.0.0.1", 0));
}

static void restart_leaves_running_alone_unless_forced(void **state)
{
    char before[64], after[64];
    (void)state;
    ts_require_docker_image();
    inspect(mname, "{{.State.StartedAt}}", before, sizeof(before));
    assert_int_equal(call("POST", path_of(mname, "/restart"), TOKEN, NULL), 200);
    assert_non_null(strstr(rep->body, "\"result\":\"unchanged\""));
    inspect(mname, "{{.State.StartedAt}}", after, sizeof(after));
    assert_string_equal(before, after);
    assert_int_equal(call("POST", path_of(mname, "/restart"), TOKEN, "{\"force\":true}"), 200);
    assert_non_null(strstr(rep->body, "\"result\":\"ok\""));
    inspect(mname, "{{.State.StartedAt}}", after, sizeof(after));
    assert_string_not_equal(before, after);
    assert_int_equal(ts_docker(NULL, 0, "stop", "-t", "1", mname, NULL), 0);
    assert_int_equal(call("POST", path_of(mname, "/restart"), TOKEN, NULL), 200);
    assert_non_null(strstr(rep->body, "\"reason\":\"started\""));
    inspect(mname, "{{.State.Running}}", after, sizeof(after));
    assert_string_equal(after, "true");
}

static void container_down_alert_starts_stopped_container(void **state)
{
    char v[64], body[1024];
    (void)state;
    ts_require_docker_image();
    assert_int_equal(ts_docker(NULL, 0, "stop", "-t", "1", mname, NULL), 0);
    snprintf(
        body, sizeof(body),
        "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\",\"labels\":"
        "{\"alertname\":\"ContainerDown\",\"name\":\"%s\"},\"fingerprint\":\"down1\"}]}",
        mname);
    assert_int_equal(call("POST", "/webhook", TOKEN, body), 200);
    assert_non_null(strstr(rep->body, "\"result\":\"accepted\""));
    for (int i = 0; i < 60; i++) {
        inspect(mname, "{{.State.Running}}", v, sizeof(v));
        if (strcmp(v, "true") == 0)
            break;
        usleep(50000);
    }
    assert_string_equal(v, "true");
}

static void auth_is_required_on_mutating_endpoints(void **state)
{
    (void)state;
    ts_require_docker_image();
    assert_int_equal(call("POST", "/webhook", NULL, "{\"alerts\":[]}"), 401);
    assert_non_null(strstr(rep->headers, "WWW-Authenticate: Bearer realm=\"trip-receiver\""));
    assert_int_equal(call("POST", "/webhook", "wrong", "{\"alerts\":[]}"), 401);
    assert_int_equal(call("POST", path_of(mname, "/scale"), NULL, "{\"resource\":\"cpu\"}"), 401);
    assert_int_equal(call("POST", path_of(mname, "/restart"), NULL, NULL), 401);
    assert_int_equal(call("GET", "/api/v1/containers", NULL, NULL), 401);
    assert_int_equal(call("POST", "/webhook", TOKEN, "{\"alerts\":[]}"), 200);
    /* health and metrics stay open for probes and Prometheus */
    assert_int_equal(call("GET", "/healthz", NULL, NULL), 200);
    assert_int_equal(call("GET", "/readyz", NULL, NULL), 200);
    assert_int_equal(call("GET", "/metrics", NULL, NULL), 200);
}

static void unmanaged_is_403_manually_and_ignored_by_webhook(void **state)
{
    char v[64], body[1024];
    (void)state;
    ts_require_docker_image();
    assert_int_equal(call("POST", path_of(uname, "/scale"), TOKEN,
                          "{\"resource\":\"cpu\",\"direction\":\"out\"}"),
                     403);
    assert_non_null(strstr(rep->body, "not managed (label trip.enable=false)"));
    assert_int_equal(call("POST", path_of(uname, "/restart"), TOKEN, "{\"force\":true}"), 403);
    usleep(500000); /* let the 200 ms refresh see the container */
    snprintf(body, sizeof(body),
             "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":"
             "{\"alertname\":\"ContainerHighCpu\",\"name\":\"%s\"},\"fingerprint\":\"u1\"}]}",
             uname);
    assert_int_equal(call("POST", "/webhook", TOKEN, body), 200);
    assert_non_null(strstr(rep->body, "\"result\":\"ignored\""));
    assert_non_null(strstr(rep->body, "not managed"));
    usleep(300000);
    inspect(uname, "{{.HostConfig.CpuShares}}", v, sizeof(v));
    assert_string_equal(v, "512");
}

static void bad_requests_get_precise_codes(void **state)
{
    char big[8192];
    const char *xml[] = {"Content-Type: application/xml", "Authorization: Bearer " TOKEN, NULL};
    const char *chunked[] = {"Content-Type: application/json", "Transfer-Encoding: chunked",
                             "Authorization: Bearer " TOKEN, NULL};
    (void)state;
    ts_require_docker_image();
    assert_int_equal(call("POST", "/api/v1/containers/trip-no-such-container-xyz/scale", TOKEN,
                          "{\"resource\":\"cpu\",\"direction\":\"out\"}"),
                     404);
    assert_int_equal(
        call("POST", path_of(mname, "/scale"), TOKEN, "{\"resource\":\"cpu\",\"duration\":\"3h\"}"),
        422);
    assert_non_null(strstr(rep->body, "duration \\\"3h\\\" is outside"));
    assert_int_equal(call("POST", path_of(mname, "/scale"), TOKEN, "{\"resource\":\"disk\"}"), 400);
    assert_int_equal(call("POST", "/webhook", TOKEN, "{\"alerts\": [}"), 400);
    assert_non_null(strstr(rep->body, "malformed JSON at line 1"));
    assert_int_equal(ts_http(&rx, "POST", "/webhook", xml, "<a/>", 4, rep), 0);
    assert_int_equal(rep->status, 415);
    memset(big, ' ', sizeof(big) - 1);
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(call("POST", "/webhook", TOKEN, big), 413);
    assert_int_equal(ts_http(&rx, "POST", "/webhook", chunked, big, strlen(big), rep), 0);
    assert_int_equal(rep->status, 413);
    assert_int_equal(call("GET", "/webhook", TOKEN, NULL), 405);
    assert_int_equal(call("GET", "/nope", TOKEN, NULL), 404);
    assert_int_equal(call("GET", "/api/v1/containers/bad%20name", TOKEN, NULL), 400);
    /* the daemon still serves after all of that */
    assert_int_equal(call("GET", "/healthz", NULL, NULL), 200);
}

static void metrics_count_requests_and_actions(void **state)
{
    (void)state;
    ts_require_docker_image();
    assert_int_equal(call("GET", "/metrics", NULL, NULL), 200);
    assert_non_null(strstr(rep->headers, "text/plain; version=0.0.4"));
    assert_non_null(strstr(rep->body, "trip_http_requests_total{route=\"webhook\",code=\"401\"}"));
    assert_non_null(strstr(rep->body, "trip_http_requests_total{route=\"scale\",code=\"200\"}"));
    assert_non_null(
        strstr(rep->body, "trip_actions_total{kind=\"scale_out_cpu\",result=\"ok\"} 1"));
    assert_non_null(
        strstr(rep->body, "trip_action_duration_seconds_count{kind=\"scale_out_cpu\"} 1"));
    assert_non_null(strstr(rep->body, "trip_docker_errors_total{code=\"not_found\"}"));
    assert_non_null(strstr(rep->body, "trip_managed_containers "));
    assert_non_null(strstr(rep->body, "trip_build_info{version=\""));
}

static void basic_auth_works_and_sigterm_exits_zero(void **state)
{
    struct ts_receiver b;
    const char *args[] = {"--basic-auth-user", "am", "--basic-auth-password", "pw", NULL};
    const char *good[] = {"Content-Type: application/json",
                          "Authorization: Basic YW06cHc=", NULL}; /* am:pw */
    const char *bad[] = {"Content-Type: application/json",
                         "Authorization: Basic YW06eHg=", NULL}; /* am:xx */
    (void)state;
    ts_require_docker_image();
    assert_int_equal(ts_receiver_start(&b, args), 0);
    assert_int_equal(ts_http(&b, "POST", "/webhook", bad, "{\"alerts\":[]}", 13, rep), 0);
    assert_int_equal(rep->status, 401);
    assert_non_null(strstr(rep->headers, "WWW-Authenticate: Basic realm=\"trip-receiver\""));
    assert_int_equal(ts_http(&b, "POST", "/webhook", good, "{\"alerts\":[]}", 13, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_int_equal(ts_receiver_term(&b, 5000), 0);
    assert_true(ts_receiver_log_has(&b, "msg=stopped", 0));
    ts_receiver_stop(&b, false);
}

/* Runs last: the shared daemon stops on SIGTERM with exit status 0, which under ASan/TSan also
 * means no leak and no sanitizer report at shutdown. (A failed cmocka group teardown exits 0, so
 * the status is checked here and again, through ts_fail_outside_tests, in the teardown.) */
static void shared_daemon_exits_cleanly_at_sigterm(void **state)
{
    (void)state;
    ts_require_docker_image();
    assert_true(rx.pid > 0);
    assert_int_equal(ts_receiver_stop(&rx, false), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manual_scale_out_show_list_and_in),
        cmocka_unit_test(restart_leaves_running_alone_unless_forced),
        cmocka_unit_test(container_down_alert_starts_stopped_container),
        cmocka_unit_test(auth_is_required_on_mutating_endpoints),
        cmocka_unit_test(unmanaged_is_403_manually_and_ignored_by_webhook),
        cmocka_unit_test(bad_requests_get_precise_codes),
        cmocka_unit_test(metrics_count_requests_and_actions),
        cmocka_unit_test(basic_auth_works_and_sigterm_exits_zero),
        cmocka_unit_test(shared_daemon_exits_cleanly_at_sigterm),
    };
    return ts_exit_status(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
