/* test_docker_request.c: docker-client request building, error mapping and the MemorySwap rule
 * (pure functions, no daemon). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "docker_internal.h"

#define GiB (1024LL * 1024 * 1024)
#define MiB (1024LL * 1024)

static void endpoint_defaults_to_the_docker_socket(void **state)
{
    struct docker_endpoint ep;

    (void)state;
    assert_int_equal(docker_endpoint_parse(NULL, &ep, NULL), DOCKER_OK);
    assert_string_equal(ep.socket_path, "/var/run/docker.sock");
    assert_string_equal(ep.base_url, "http://localhost");
    assert_int_equal(docker_endpoint_parse("unix:///run/user/1/docker.sock", &ep, NULL), DOCKER_OK);
    assert_string_equal(ep.socket_path, "/run/user/1/docker.sock");
    assert_int_equal(docker_endpoint_parse("tcp://10.0.0.2:2375", &ep, NULL), DOCKER_OK);
    assert_string_equal(ep.socket_path, "");
    assert_string_equal(ep.base_url, "http://10.0.0.2:2375");
}

static void endpoint_refuses_other_schemes_with_a_message(void **state)
{
    const char *bad[] = {"http://x:1", "unix://relative.sock", "tcp://", "tcp://h:1/path",
                         "tcp://user@h:1", "ssh://h", "/var/run/docker.sock"};
    struct docker_endpoint ep;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct docker_err err = {0};

        assert_int_equal(docker_endpoint_parse(bad[i], &ep, &err), DOCKER_E_INVALID);
        assert_int_equal(err.code, DOCKER_E_INVALID);
        assert_non_null(strstr(err.msg, "docker host"));
    }
}

/* The ranges are the real ones: GET /version's MinAPIVersion..ApiVersion of each engine. */
static void api_version_is_the_lower_of_daemon_and_client(void **state)
{
    static const struct {
        const char *engine, *min, *max, *want;
    } rows[] = {
        {"Docker 20.10.24 (Debian 12)", "1.12", "1.41", "1.41"},
        {"Docker 29.8.1", "1.40", "1.56", "1.56"},
        {"Docker 29.8.1, DOCKER_MIN_API_VERSION=1.44", "1.44", "1.56", "1.56"},
        {"Docker 29.2.0", "1.44", "1.52", "1.52"},
        {"Podman 4.3.1 compat API", "1.24", "1.41", "1.41"},
        {"a future Docker", "1.44", "1.60", DOCKER_API_MAX},
        {"no MinAPIVersion (unknown)", "", "1.43", "1.43"},
    };
    char v[16];
    struct docker_err err = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        print_message("%s\n", rows[i].engine);
        assert_int_equal(docker_api_negotiate(rows[i].max, rows[i].min, v, sizeof(v), NULL),
                         DOCKER_OK);
        assert_string_equal(v, rows[i].want);
    }
    assert_int_equal(docker_api_negotiate("1.9", "", v, sizeof(v), &err), DOCKER_E_API_VERSION);
    assert_int_equal(docker_api_cmp("1.9", "1.41"), -1); /* numeric, not string, comparison */
    assert_int_equal(docker_api_cmp("2.0", "1.56"), 1);
    assert_int_equal(docker_api_cmp("1.56", "1.56"), 0);
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_api_negotiate("v1.41", "1.12", v, sizeof(v), &err), DOCKER_E_MALFORMED);
    assert_non_null(strstr(err.msg, "v1.41"));
    assert_int_equal(docker_api_negotiate("", "", v, sizeof(v), NULL), DOCKER_E_MALFORMED);
    assert_int_equal(docker_api_negotiate("1.", "", v, sizeof(v), NULL), DOCKER_E_MALFORMED);
    assert_int_equal(docker_api_negotiate("1.41x", "", v, sizeof(v), NULL), DOCKER_E_MALFORMED);
    assert_int_equal(docker_api_negotiate("1.41", "1.x", v, sizeof(v), NULL), DOCKER_E_MALFORMED);
    assert_false(docker_api_valid("1.41/../"));
}

static void ranges_that_do_not_meet_are_refused_naming_both(void **state)
{
    char v[16] = "unchanged";
    struct docker_err err = {0};

    (void)state;
    /* a daemon newer than anything this client has checked, with a floor above it */
    assert_int_equal(docker_api_negotiate("1.60", "1.57", v, sizeof(v), &err),
                     DOCKER_E_API_VERSION);
    assert_string_equal(err.msg, "negotiate API version: the daemon speaks 1.57..1.60, this client "
                                 "1.41.." DOCKER_API_MAX "; no version in common");
    assert_string_equal(v, "unchanged");
    /* a daemon older than the oldest version this client was checked against (Docker 19.03) */
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_api_negotiate("1.40", "1.12", v, sizeof(v), &err),
                     DOCKER_E_API_VERSION);
    assert_non_null(strstr(err.msg, "the daemon speaks 1.12..1.40, this client 1.41.."));
    assert_string_equal(docker_code_name(DOCKER_E_API_VERSION), "api_version");
}

/* The replies are Docker 29.8.1's (DOCKER_MIN_API_VERSION=1.44) and Docker 20.10's, as received. */
static void a_refused_version_is_an_api_version_error_with_the_daemons_message(void **state)
{
    static const char too_old[] =
        "{\"message\":\"client version 1.41 is too old. Minimum supported "
        "API version is 1.44, please upgrade your client to a newer "
        "version\"}\n";
    static const char too_new[] =
        "{\"message\":\"client version 1.99 is too new. Maximum supported "
        "API version is 1.41\"}\n";
    static const char other_400[] = "{\"message\":\"invalid filter 'foo'\"}\n";
    struct docker_err err = {0};

    (void)state;
    assert_int_equal(docker_reply_error(400, too_old, strlen(too_old), "version", &err),
                     DOCKER_E_API_VERSION);
    assert_string_equal(err.msg, "version: client version 1.41 is too old. Minimum supported API "
                                 "version is 1.44, please upgrade your client to a newer version");
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_reply_error(400, too_new, strlen(too_new), "list", &err),
                     DOCKER_E_API_VERSION);
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_reply_error(400, other_400, strlen(other_400), "list", &err),
                     DOCKER_E_BAD_REQUEST);
}

static void escape_encodes_everything_but_unreserved(void **state)
{
    char out[256];
    struct docker_err err = {0};

    (void)state;
    assert_int_equal(docker_escape("web_1.a-b~c", out, sizeof(out), NULL), DOCKER_OK);
    assert_string_equal(out, "web_1.a-b~c");
    assert_int_equal(docker_escape("x/../y z?a#b%&=\r\n", out, sizeof(out), NULL), DOCKER_OK);
    assert_string_equal(out, "x%2F..%2Fy%20z%3Fa%23b%25%26%3D%0D%0A");
    assert_int_equal(docker_escape("\xc3\xa9", out, sizeof(out), NULL), DOCKER_OK);
    assert_string_equal(out, "%C3%A9");
    assert_int_equal(docker_escape("abc/", out, 6, &err), DOCKER_E_TOOBIG); /* needs 7 */
    assert_int_equal(docker_escape("", out, sizeof(out), NULL), DOCKER_E_INVALID);
    assert_int_equal(docker_escape(NULL, out, sizeof(out), NULL), DOCKER_E_INVALID);
}

static void container_paths_pin_the_version_and_escape_the_id(void **state)
{
    char p[DOCKER_PATH_MAX];

    (void)state;
    assert_int_equal(docker_container_path("1.41", "web", "json", NULL, NULL, p, sizeof(p), NULL),
                     DOCKER_OK);
    assert_string_equal(p, "/v1.41/containers/web/json");
    assert_int_equal(docker_container_path("1.41", "a b?c#", "stop", "t=5", NULL, p, sizeof(p),
                                           NULL),
                     DOCKER_OK);
    assert_string_equal(p, "/v1.41/containers/a%20b%3Fc%23/stop?t=5");
    assert_int_equal(docker_container_path("1.40", "abc%2F..", "update", NULL, NULL, p, sizeof(p),
                                           NULL),
                     DOCKER_OK);
    assert_string_equal(p, "/v1.40/containers/abc%252F../update");
}

static void container_paths_refuse_slashes_and_dot_segments(void **state)
{
    const char *bad[] = {"x/../../containers/y", "/web", "web/", "..", ".", ""};
    char p[DOCKER_PATH_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct docker_err err = {0};

        assert_int_equal(docker_container_path("1.41", bad[i], "json", NULL, "inspect it", p,
                                               sizeof(p), &err),
                         DOCKER_E_INVALID);
        assert_string_equal(err.msg, "inspect it: invalid container name or id");
    }
    assert_int_equal(docker_container_path("1.41", NULL, "json", NULL, NULL, p, sizeof(p), NULL),
                     DOCKER_E_INVALID);
    assert_int_equal(docker_container_path("1.41", "web", "json", NULL, NULL, p, 20, NULL),
                     DOCKER_E_TOOBIG);
}

static void list_path_carries_label_filters_as_escaped_json(void **state)
{
    const char *labels[] = {"trip.scale=on", "team", NULL};
    const char *hostile[] = {"a\"],\"x\":[\"b", NULL};
    const char *empty[] = {"", NULL};
    const char *none[] = {NULL};
    char p[DOCKER_PATH_MAX];
    docker_code code;
    char *json;

    (void)state;
    json = docker_list_filters_json(labels, &code);
    assert_int_equal(code, DOCKER_OK);
    assert_string_equal(json, "{\"label\":[\"trip.scale=on\",\"team\"]}");
    free(json);
    assert_int_equal(docker_list_path("1.41", labels, true, p, sizeof(p), NULL), DOCKER_OK);
    assert_string_equal(p, "/v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22trip.scale"
                           "%3Don%22%2C%22team%22%5D%7D");
    assert_int_equal(docker_list_path("1.41", NULL, false, p, sizeof(p), NULL), DOCKER_OK);
    assert_string_equal(p, "/v1.41/containers/json?all=0");
    assert_int_equal(docker_list_path("1.41", none, false, p, sizeof(p), NULL), DOCKER_OK);
    assert_string_equal(p, "/v1.41/containers/json?all=0");
    /* a quote in a label stays inside its JSON string */
    json = docker_list_filters_json(hostile, &code);
    assert_string_equal(json, "{\"label\":[\"a\\\"],\\\"x\\\":[\\\"b\"]}");
    free(json);
    assert_int_equal(docker_list_path("1.41", empty, true, p, sizeof(p), NULL), DOCKER_E_INVALID);
}

static void events_path_filters_types_actions_labels_and_since(void **state)
{
    const char *types[] = {"container", NULL};
    const char *events[] = {"die", "start", NULL};
    const char *labels[] = {"trip.managed=true", NULL};
    struct docker_events_filter f = {.types = types, .events = events, .labels = labels,
                                     .since = 1700000000};
    char p[DOCKER_PATH_MAX];

    (void)state;
    assert_int_equal(docker_events_path("1.41", NULL, p, sizeof(p), NULL), DOCKER_OK);
    assert_string_equal(p, "/v1.41/events");
    assert_int_equal(docker_events_path("1.41", &f, p, sizeof(p), NULL), DOCKER_OK);
    /* {"event":["die","start"],"label":["trip.managed=true"],"type":["container"]} */
    assert_string_equal(p, "/v1.41/events?since=1700000000&filters=%7B%22event%22%3A%5B%22die%22"
                           "%2C%22start%22%5D%2C%22label%22%3A%5B%22trip.managed%3Dtrue%22%5D%2C"
                           "%22type%22%3A%5B%22container%22%5D%7D");
    f.since = 0;
    f.events = NULL;
    f.labels = NULL;
    assert_int_equal(docker_events_path("1.41", &f, p, sizeof(p), NULL), DOCKER_OK);
    assert_string_equal(p, "/v1.41/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D");
}

static void update_body_holds_only_the_fields_asked_for(void **state)
{
    struct docker_update u = {.has_cpu_shares = true, .cpu_shares = 1024};
    struct docker_err err = {0};
    char *body;

    (void)state;
    assert_int_equal(docker_update_body(&u, &body, NULL), DOCKER_OK);
    assert_string_equal(body, "{\"CpuShares\":1024}");
    free(body);
    u.has_memory = true;
    u.memory = 2 * GiB;
    u.has_memory_swap = true;
    u.memory_swap = -1;
    assert_int_equal(docker_update_body(&u, &body, NULL), DOCKER_OK);
    assert_string_equal(body, "{\"CpuShares\":1024,\"Memory\":2147483648,\"MemorySwap\":-1}");
    free(body);
    memset(&u, 0, sizeof(u));
    assert_int_equal(docker_update_body(&u, &body, &err), DOCKER_E_INVALID);
    assert_null(body);
    assert_string_equal(err.msg, "update: no field to change");
    u.has_memory_swap = true;
    u.memory_swap = -2;
    assert_int_equal(docker_update_body(&u, &body, NULL), DOCKER_E_INVALID);
    u.memory_swap = 0;
    u.has_cpu_shares = true;
    u.cpu_shares = -1;
    assert_int_equal(docker_update_body(&u, &body, NULL), DOCKER_E_INVALID);
}

static void statuses_map_to_codes(void **state)
{
    (void)state;
    assert_int_equal(docker_code_for_status(200), DOCKER_OK);
    assert_int_equal(docker_code_for_status(204), DOCKER_OK);
    assert_int_equal(docker_code_for_status(304), DOCKER_E_NOT_MODIFIED);
    assert_int_equal(docker_code_for_status(400), DOCKER_E_BAD_REQUEST);
    assert_int_equal(docker_code_for_status(404), DOCKER_E_NOT_FOUND);
    assert_int_equal(docker_code_for_status(409), DOCKER_E_CONFLICT);
    assert_int_equal(docker_code_for_status(500), DOCKER_E_SERVER);
    assert_int_equal(docker_code_for_status(301), DOCKER_E_SERVER);
    assert_int_equal(docker_code_for_status(0), DOCKER_E_SERVER);
    assert_string_equal(docker_code_name(DOCKER_E_NOT_FOUND), "not_found");
    assert_string_equal(docker_code_name(DOCKER_E_TIMEOUT), "timeout");
    assert_string_equal(docker_code_name((docker_code)99), "unknown");
}

static void reply_errors_carry_the_daemon_message(void **state)
{
    const char nf[] = "{\"message\":\"No such container: web\"}";
    const char html[] = "<html>bad gateway</html>\nmore";
    const char trunc[] = "{\"message\":\"No such";
    struct docker_err err = {0};

    (void)state;
    assert_int_equal(docker_reply_error(404, nf, strlen(nf), "inspect web", &err),
                     DOCKER_E_NOT_FOUND);
    assert_int_equal(err.http_status, 404);
    assert_string_equal(err.msg, "inspect web: No such container: web");
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_reply_error(502, html, strlen(html), "list", &err), DOCKER_E_SERVER);
    assert_string_equal(err.msg, "list: <html>bad gateway</html>");
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_reply_error(500, trunc, strlen(trunc), "x", &err), DOCKER_E_SERVER);
    assert_string_equal(err.msg, "x: {\"message\":\"No such");
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_reply_error(304, NULL, 0, "start web", &err), DOCKER_E_NOT_MODIFIED);
    assert_string_equal(err.msg, "start web: not modified (already in that state)");
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_reply_error(503, "", 0, "ping", &err), DOCKER_E_SERVER);
    assert_string_equal(err.msg, "ping: HTTP 503");
    assert_int_equal(docker_reply_error(404, nf, strlen(nf), "x", NULL), DOCKER_E_NOT_FOUND);
    /* Podman 4.3 when `rm -f` wins the race with a start (seen in engine-podman/test_receiver_heal);
     * another 500 that merely mentions it stays a server error */
    const char podman_gone[] = "{\"cause\":\"no such container\",\"message\":\"container 1b229db3"
                               " does not exist in database: no such container\",\"response\":500}";
    const char other[] = "{\"message\":\"no such container: web is being restarted\"}";
    assert_int_equal(docker_reply_error(500, podman_gone, strlen(podman_gone), "start", NULL),
                     DOCKER_E_NOT_FOUND);
    assert_int_equal(docker_reply_error(500, other, strlen(other), "start", NULL), DOCKER_E_SERVER);
}

/* A daemon message longer than the room for it used to be cut inside a multi-byte character; the
 * receiver puts messages in JSON (its state file), which refuses invalid UTF-8. */
static void error_messages_stay_valid_utf8_when_cut(void **state)
{
    char body[1024] = "{\"message\":\"";
    struct docker_err err = {0};
    const char latin1[] = "caf\xe9 \xff\n";
    size_t n;

    (void)state;
    for (int i = 0; i < 150; i++)
        strcat(body, "\xc3\xa9"); /* U+00E9, two bytes: the 200-byte cut falls inside one */
    strcat(body, "\"}");
    assert_int_equal(docker_reply_error(500, body, strlen(body), "update web", &err),
                     DOCKER_E_SERVER);
    n = strlen(err.msg);
    assert_true(n > 200);
    assert_memory_equal(err.msg, "update web: \xc3\xa9", 14);
    /* ends with a whole character or the replacement of a cut one */
    assert_true(err.msg[n - 1] == '?' || (err.msg[n - 2] == '\xc3' && err.msg[n - 1] == '\xa9'));
    assert_null(strstr(err.msg, "\xc3?"));
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_reply_error(502, latin1, strlen(latin1), "list", &err), DOCKER_E_SERVER);
    assert_string_equal(err.msg, "list: caf? ?");
    memset(&err, 0, sizeof(err));
    docker_err_set(&err, DOCKER_E_INVALID, 0, "name \"%s\"", "\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf");
    assert_string_equal(err.msg, "name \"?????????\"");
}

static void the_first_error_wins(void **state)
{
    struct docker_err err = {0};

    (void)state;
    assert_int_equal(docker_err_set(&err, DOCKER_E_TIMEOUT, 0, "first: %d", 1), DOCKER_E_TIMEOUT);
    assert_int_equal(docker_err_set(&err, DOCKER_E_SERVER, 500, "second"), DOCKER_E_SERVER);
    assert_int_equal(err.code, DOCKER_E_TIMEOUT);
    assert_string_equal(err.msg, "first: 1");
    assert_int_equal(docker_err_set(NULL, DOCKER_E_NOMEM, 0, "x"), DOCKER_E_NOMEM);
}

static void swap_keeps_the_ratio_it_had(void **state)
{
    (void)state;
    /* docker run --memory 1g: swap 2g */
    assert_int_equal(docker_memory_swap_for(1 * GiB, 2 * GiB, 2 * GiB), 4 * GiB);
    assert_int_equal(docker_memory_swap_for(2 * GiB, 4 * GiB, 1 * GiB), 2 * GiB);
    /* --memory 1g --memory-swap 1536m: ratio 1.5 */
    assert_int_equal(docker_memory_swap_for(1 * GiB, 1536 * MiB, 2 * GiB), 3 * GiB);
    assert_int_equal(docker_memory_swap_for(2 * GiB, 3 * GiB, 1 * GiB), 1536 * MiB);
    /* no swap (swap == memory) stays no swap */
    assert_int_equal(docker_memory_swap_for(1 * GiB, 1 * GiB, 2 * GiB), 2 * GiB);
    /* unlimited stays unlimited */
    assert_int_equal(docker_memory_swap_for(1 * GiB, -1, 2 * GiB), -1);
    /* no limit before: what docker run --memory would set */
    assert_int_equal(docker_memory_swap_for(0, 0, 2 * GiB), 4 * GiB);
    assert_int_equal(docker_memory_swap_for(0, -1, 2 * GiB), -1);
    /* nothing to send, and no overflow */
    assert_int_equal(docker_memory_swap_for(1 * GiB, 2 * GiB, 0), 0);
    assert_int_equal(docker_memory_swap_for(1 * GiB, 2 * GiB, -5), 0);
    assert_int_equal(docker_memory_swap_for(1, INT64_MAX, INT64_MAX / 2), INT64_MAX);
    assert_int_equal(docker_memory_swap_for(0, 0, INT64_MAX - 1), INT64_MAX);
}

/* The /readyz body for each engine state, from the engines' real identities. */
static void readyz_names_the_engine_and_says_why_not_ready(void **state)
{
    struct docker_engine d29 = {.name = "Docker Engine",
                                .version = "29.8.1",
                                .api_min = "1.40",
                                .api_max = "1.56",
                                .api = "1.56"};
    struct docker_engine floor = {.name = "Docker Engine",
                                  .version = "29.8.1",
                                  .api_min = "1.44",
                                  .api_max = "1.56",
                                  .api = "1.41",
                                  .pinned = true,
                                  .code = DOCKER_E_API_VERSION,
                                  .message = "list: client version 1.41 is too old. Minimum "
                                             "supported API version is 1.44, please upgrade your "
                                             "client to a newer version"};
    struct docker_engine podman = {.name = "Podman Engine",
                                   .version = "4.3.1",
                                   .api_min = "1.24",
                                   .api_max = "1.41",
                                   .api = "1.41",
                                   .podman = true};
    struct docker_engine gone = {.code = DOCKER_E_UNREACHABLE,
                                 .message = "version: daemon "
                                            "unreachable: x"};
    bool ready;
    char *t;

    (void)state;
    t = docker_engine_ready_json(&d29, true, &ready);
    assert_true(ready);
    assert_string_equal(t, "{\"status\":\"ready\",\"docker\":\"reachable\",\"engine\":\"Docker "
                           "Engine\",\"engine_version\":\"29.8.1\",\"api\":\"1.56\",\"api_range\":"
                           "\"1.40..1.56\"}");
    free(t);
    t = docker_engine_ready_json(&floor, false, &ready);
    assert_false(ready);
    assert_non_null(strstr(t, "\"status\":\"not ready\",\"docker\":\"refused\",\"error\":\"list: "
                              "client version 1.41 is too old. Minimum supported API version is "
                              "1.44"));
    assert_non_null(strstr(t, "\"api_range\":\"1.44..1.56\""));
    assert_non_null(strstr(t, "\"api_pinned\":true"));
    free(t);
    t = docker_engine_ready_json(&podman, true, &ready);
    assert_true(ready);
    assert_non_null(strstr(t, "\"engine\":\"Podman Engine\""));
    assert_non_null(strstr(t, "\"unsupported\":\"scaling container limits (its Docker API has no "
                              "container update"));
    free(t);
    t = docker_engine_ready_json(&gone, false, &ready);
    assert_false(ready);
    assert_string_equal(t, "{\"status\":\"not ready\",\"docker\":\"unreachable\",\"error\":"
                           "\"version: daemon unreachable: x\"}");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(endpoint_defaults_to_the_docker_socket),
        cmocka_unit_test(endpoint_refuses_other_schemes_with_a_message),
        cmocka_unit_test(api_version_is_the_lower_of_daemon_and_client),
        cmocka_unit_test(ranges_that_do_not_meet_are_refused_naming_both),
        cmocka_unit_test(a_refused_version_is_an_api_version_error_with_the_daemons_message),
        cmocka_unit_test(escape_encodes_everything_but_unreserved),
        cmocka_unit_test(container_paths_pin_the_version_and_escape_the_id),
        cmocka_unit_test(container_paths_refuse_slashes_and_dot_segments),
        cmocka_unit_test(list_path_carries_label_filters_as_escaped_json),
        cmocka_unit_test(events_path_filters_types_actions_labels_and_since),
        cmocka_unit_test(update_body_holds_only_the_fields_asked_for),
        cmocka_unit_test(readyz_names_the_engine_and_says_why_not_ready),
        cmocka_unit_test(statuses_map_to_codes),
        cmocka_unit_test(reply_errors_carry_the_daemon_message),
        cmocka_unit_test(error_messages_stay_valid_utf8_when_cut),
        cmocka_unit_test(the_first_error_wins),
        cmocka_unit_test(swap_keeps_the_ratio_it_had),
    };

    return cmocka_run_group_tests_name("docker_request", tests, NULL, NULL);
}
