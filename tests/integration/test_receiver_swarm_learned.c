/* test_receiver_swarm_learned.c: a trip-receiver started on a host that is no swarm manager asks
 * for no service (counted at a Unix-socket proxy in front of the real daemon); when the host
 * becomes a single-node swarm manager while it runs, it learns so from the event stream (the new
 * manager's node events) and GET /info, and a service created then shows in its
 * GET /api/v1/containers without a full list. Runs only when no swarm is active (it makes one and
 * leaves it again, ts_swarm); the ctest resource lock "swarm" keeps other swarm tests apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ts_common.h"
#include "ts_docker.h"
#include "ts_proxy.h"
#include "ts_receiver.h"
#include "ts_swarm.h"

static struct ts_http_reply *rep;

static int group_setup(void **state)
{
    (void)state;
    rep = malloc(sizeof(*rep));
    return rep ? 0 : -1;
}

static int group_teardown(void **state)
{
    ts_swarm_cleanup();
    ts_swarm_end();
    free(rep);
    return ts_docker_group_teardown(state);
}

static void swarm_made_while_running_is_learned(void **state)
{
    struct ts_receiver r = {0};
    struct ts_proxy *p;
    char svc[128], id[80], path[300];

    (void)state;
    ts_require_docker_image();
    if (ts_swarm_active())
        ts_skip_on_this_machine("this Docker host is in a swarm already: the test makes one");
    assert_non_null(p = ts_proxy_new(ts_docker_socket()));
    ts_proxy_count(p, "/services");
    const char *args[] = {"--manage-all", "--docker-host", ts_proxy_url(p), "--refresh-interval",
                          "1h", NULL};
    assert_int_equal(ts_receiver_start(&r, args), 0);
    ts_sleep_ms(1000);
    long before = ts_proxy_count(p, "/services");
    assert_int_equal(ts_swarm_begin(), 0);
    assert_true(ts_swarm_initialised_here());
    ts_swarm_name(svc, sizeof(svc), "learned");
    assert_int_equal(ts_swarm_service_create(id, sizeof(id), svc, NULL), 0);
    snprintf(path, sizeof(path), "/api/v1/containers/%s", svc);
    int64_t t0 = ts_now_ms();
    long st = 0;
    while (ts_now_ms() - t0 < 20000) {
        st = ts_http(&r, "GET", path, NULL, NULL, 0, rep) == 0 ? rep->status : 0;
        if (st == 200)
            break;
        ts_sleep_ms(50);
    }
    long after = ts_proxy_count(p, "/services");
    printf("before the swarm: %ld service requests; the service created after `swarm init` in "
           "GET after %lld ms (status %ld), %ld service requests since\n",
           before, (long long)(ts_now_ms() - t0), st, after - before);
    ts_swarm_cleanup();
    ts_swarm_end();
    assert_int_equal(ts_receiver_stop(&r, false), 0);
    ts_proxy_free(p);
    assert_int_equal(before, 0);
    assert_int_equal(st, 200);
    assert_true(after > before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(swarm_made_while_running_is_learned),
    };
    return ts_exit_status(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
