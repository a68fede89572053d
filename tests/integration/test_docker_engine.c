/* test_docker_engine.c: the engine the receiver runs on, as a user sees it: /readyz and the
 * start-up log name the engine, its version and the API in use; a version the engine refuses gives
 * a not-ready /readyz with the engine's own message, never "unreachable". Runs against the host's
 * engine (label integration) and against each test engine (tests/engines, labels engine-*). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docker_client.h"
#include "ts_docker.h"
#include "ts_receiver.h"

/* What a docker-client sees of the engine now (the tests' reference). */
static void engine_now(struct docker_engine *e)
{
    struct docker_client *c = NULL;
    struct docker_version v;

    assert_int_equal(docker_client_new(NULL, &c, NULL), DOCKER_OK);
    assert_int_equal(docker_version(c, &v, NULL), DOCKER_OK);
    docker_client_engine(c, e);
    docker_client_free(c);
}

static void start_with(struct ts_receiver *r, const char *api_version)
{
    const char *pinned[] = {"--docker-api-version", api_version, NULL};

    assert_int_equal(ts_receiver_start(r, api_version ? pinned : NULL), 0);
}

static void readyz_names_the_engine_its_version_and_the_api_in_use(void **state)
{
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    struct ts_receiver r;
    struct docker_engine e;
    char want[512];

    (void)state;
    ts_require_docker();
    engine_now(&e);
    start_with(&r, NULL);
    snprintf(want, sizeof(want),
             "msg=\"docker engine\" engine=\"%s\" engine_version=%s api=%s api_range=%s..%s "
             "pinned=false",
             e.name, e.version, e.api, e.api_min, e.api_max);
    if (!strchr(e.name, ' ')) /* a one-word name is logged bare */
        snprintf(want, sizeof(want), "msg=\"docker engine\" engine=%s engine_version=%s api=%s",
                 e.name, e.version, e.api);
    assert_true(ts_receiver_log_has(&r, want, 5000));
    for (int i = 0; i < 50; i++) { /* ready after the first list (--refresh-interval 200ms) */
        assert_int_equal(ts_http_json(&r, "GET", "/readyz", NULL, NULL, rep), 0);
        if (rep->status == 200)
            break;
        usleep(100000);
    }
    printf("/readyz %ld %s\n", rep->status, rep->body);
    assert_int_equal(rep->status, 200);
    snprintf(want, sizeof(want),
             "{\"status\":\"ready\",\"docker\":\"reachable\",\"engine\":\"%s\",\"engine_version\":"
             "\"%s\",\"api\":\"%s\",\"api_range\":\"%s..%s\"",
             e.name, e.version, e.api, e.api_min, e.api_max);
    assert_non_null(strstr(rep->body, want));
    assert_int_equal(ts_receiver_stop(&r, false), 0);
    free(rep);
}

/* Pins a version the engine refuses and checks the user is told the engine's own words. 1.99 is
 * above every Docker's newest; 1.41 is below the 1.44 floor (DOCKER_MIN_API_VERSION=1.44). */
static void refused(const char *pin, const char *words)
{
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    struct ts_receiver r;
    char want[300];

    start_with(&r, pin);
    assert_true(ts_receiver_log_has(&r,
                                    "level=error msg=\"docker engine refuses this client's API "
                                    "version; not ready until it accepts\"",
                                    5000));
    assert_true(ts_receiver_log_has(&r, words, 0));
    snprintf(want, sizeof(want), "\"status\":\"not ready\",\"docker\":\"refused\",\"error\":");
    for (int i = 0; i < 50; i++) {
        assert_int_equal(ts_http_json(&r, "GET", "/readyz", NULL, NULL, rep), 0);
        if (strstr(rep->body, want))
            break;
        usleep(100000);
    }
    printf("pinned %s: /readyz %ld %s\n", pin, rep->status, rep->body);
    assert_int_equal(rep->status, 503);
    assert_non_null(strstr(rep->body, want));
    assert_non_null(strstr(rep->body, words));
    assert_null(strstr(rep->body, "unreachable"));
    assert_int_equal(ts_receiver_stop(&r, false), 0);
    free(rep);
}

static void a_version_the_engine_refuses_is_not_ready_with_its_own_message(void **state)
{
    struct docker_engine e;

    (void)state;
    ts_require_docker();
    engine_now(&e);
    if (e.podman) { /* measured: Podman 4.3.1 answers any /v<version>/ path; nothing to refuse */
        struct ts_http_reply *rep = malloc(sizeof(*rep));
        struct ts_receiver r;

        start_with(&r, "1.99");
        for (int i = 0; i < 50; i++) {
            assert_int_equal(ts_http_json(&r, "GET", "/readyz", NULL, NULL, rep), 0);
            if (rep->status == 200)
                break;
            usleep(100000);
        }
        assert_int_equal(rep->status, 200);
        assert_non_null(strstr(rep->body, "\"api\":\"1.99\""));
        assert_int_equal(ts_receiver_stop(&r, false), 0);
        free(rep);
        return;
    }
    refused("1.99", "client version 1.99 is too new. Maximum supported API version is ");
    int major = 0, minor = 0;
    assert_int_equal(sscanf(e.api_min, "%d.%d", &major, &minor), 2);
    if (major == 1 && minor > 41) /* the 1.44 floor: Docker's message for an old client */
        refused("1.41", "client version 1.41 is too old. Minimum supported API version is 1.44");
}

/* A firing CPU alert for a managed container: Docker scales it out (cgroup cpu shares 1024); on
 * Podman the receiver refuses, says why, and the container keeps its limits. */
static void scale_out_is_done_or_refused_with_the_reason(void **state)
{
    static const char *const managed[] = {"trip.enable=true", NULL};
    const char *args[] = {"--scale-duration", "1h", NULL};
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    struct ts_receiver r;
    struct docker_engine e;
    char name[128], id[80];
    int64_t shares = 0;
    bool weight = false;
    char *body;

    (void)state;
    ts_require_docker_image();
    engine_now(&e);
    ts_docker_name(name, sizeof(name), "scale");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, managed, NULL), 0);
    assert_int_equal(ts_receiver_start(&r, args), 0);
    body = ts_fixture_for("alertmanager-0.25-firing.json", name);
    assert_non_null(body);
    for (int i = 0; i < 50; i++) { /* the receiver knows the container from its first list */
        assert_int_equal(ts_http_json(&r, "POST", "/webhook", NULL, body, rep), 0);
        if (ts_receiver_log_has(&r, "msg=\"scaled out\"", 200) ||
            ts_receiver_log_has(&r, "msg=\"docker call failed\"", 0))
            break;
    }
    free(body);
    assert_int_equal(ts_cgroup_cpu(id, &shares, &weight), 0);
    if (e.podman) {
        assert_true(ts_receiver_log_has(&r, "msg=\"docker call failed\"", 0));
        assert_true(ts_receiver_log_has(&r,
                                        "Podman Engine 4.3.1 cannot change a container's "
                                        "limits in a way this receiver can verify or undo",
                                        0));
        assert_int_equal(shares, weight ? ts_cgroup_weight_from_shares(512) : 512);
    } else {
        assert_int_equal(shares, weight ? ts_cgroup_weight_from_shares(1024) : 1024);
    }
    assert_int_equal(ts_receiver_stop(&r, false), 0);
    free(rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readyz_names_the_engine_its_version_and_the_api_in_use),
        cmocka_unit_test(a_version_the_engine_refuses_is_not_ready_with_its_own_message),
        cmocka_unit_test(scale_out_is_done_or_refused_with_the_reason),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
