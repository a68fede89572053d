/* test_receiver_cache.c: the real trip-receiver's container list against the real Docker daemon,
 * counted at a Unix-socket proxy in front of it: on a node that is not a swarm manager the receiver
 * never asks for services (each such call is an error line in dockerd's log), also for names that
 * are no container; and between two full lists its cache follows Docker's event stream, so a
 * container created, renamed or removed shows in GET /api/v1/containers at once, with no list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ts_common.h"
#include "ts_docker.h"
#include "ts_proxy.h"
#include "ts_receiver.h"
#include "ts_swarm.h"

/* Labels without trip.enable=true: another trip-receiver on this machine (manage-all off, the
 * default) leaves them alone; the receivers here run with --manage-all. */
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

static long get_status(const struct ts_receiver *r, const char *path)
{
    if (ts_http(r, "GET", path, NULL, NULL, 0, rep) != 0)
        return 0;
    return rep->status;
}

/* ms until GET path answers want, -1 after timeout_ms. */
static int64_t wait_status(const struct ts_receiver *r, const char *path, long want,
                           int timeout_ms)
{
    int64_t t0 = ts_now_ms();
    do {
        if (get_status(r, path) == want)
            return ts_now_ms() - t0;
        ts_sleep_ms(10);
    } while (ts_now_ms() - t0 <= timeout_ms);
    return -1;
}

static void container_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "/api/v1/containers/%s", name);
}

/* A receiver behind proxy p (--manage-all, the given --refresh-interval), ready. */
static void start_behind(struct ts_receiver *r, struct ts_proxy *p, const char *refresh)
{
    const char *args[] = {"--manage-all", "--docker-host", ts_proxy_url(p), "--refresh-interval",
                          refresh, NULL};
    assert_int_equal(ts_receiver_start(r, args), 0);
    assert_int_not_equal(wait_status(r, "/readyz", 200, 10000), -1);
}

/* Not a swarm manager: the full list every second for 5 s, a manual scale and a webhook for a name
 * that is no container (before, each tried the service of that name): no request for services at
 * all, while the lists and GET /info did happen. */
static void no_service_calls_on_a_non_manager(void **state)
{
    struct ts_receiver r = {0};
    struct ts_proxy *p;
    char missing[128], path[300];

    (void)state;
    ts_require_docker_image();
    if (ts_swarm_active())
        ts_skip_on_this_machine("this Docker host is in a swarm now: the non-manager case needs "
                                "a host that is not");
    assert_non_null(p = ts_proxy_new(ts_docker_socket()));
    ts_proxy_count(p, "/services");
    ts_proxy_count(p, "/containers/json");
    ts_proxy_count(p, "/info ");
    start_behind(&r, p, "1s");
    ts_docker_name(missing, sizeof(missing), "nosuch");
    snprintf(path, sizeof(path), "/api/v1/containers/%s/scale", missing);
    assert_int_equal(ts_http_json(&r, "POST", path, NULL, "{\"resource\":\"cpu\"}", rep), 0);
    assert_int_equal(rep->status, 404);
    assert_non_null(strstr(rep->body, "no such container"));
    assert_int_equal(ts_receiver_post_fixture(&r, "alertmanager-0.25-firing.json", missing), 200);
    ts_sleep_ms(5000);
    long services = ts_proxy_count(p, "/services");
    long lists = ts_proxy_count(p, "/containers/json");
    long infos = ts_proxy_count(p, "/info ");
    printf("5 s on a non-manager, full list every 1 s: %ld container lists, %ld GET /info, "
           "%ld service requests\n",
           lists, infos, services);
    assert_int_equal(ts_receiver_stop(&r, false), 0);
    ts_proxy_free(p);
    assert_int_equal(services, 0);
    assert_true(lists >= 4); /* the lists ran (the events watcher's own adds one) */
    assert_true(infos >= 1);
}

/* --refresh-interval 1h: after start-up no full list happens; a container created, renamed and
 * removed shows in the receiver's GET at once all the same, from the event stream. */
static void cache_follows_events_without_listing(void **state)
{
    struct ts_receiver r = {0};
    struct ts_proxy *p;
    char name[128], renamed[160], path[300], id[80];

    (void)state;
    ts_require_docker_image();
    assert_non_null(p = ts_proxy_new(ts_docker_socket()));
    ts_proxy_count(p, "/containers/json");
    start_behind(&r, p, "1h");
    ts_sleep_ms(500); /* the events watcher's reconnect list, if any, is done */
    long lists0 = ts_proxy_count(p, "/containers/json");

    ts_docker_name(name, sizeof(name), "cache");
    container_path(path, sizeof(path), name);
    assert_int_equal(get_status(&r, path), 404);
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, labels, NULL), 0);
    int64_t created = wait_status(&r, path, 200, 3000);

    snprintf(renamed, sizeof(renamed), "%s-renamed", name);
    assert_int_equal(ts_docker(NULL, 0, "rename", name, renamed, NULL), 0);
    char rpath[300];
    container_path(rpath, sizeof(rpath), renamed);
    int64_t shown = wait_status(&r, rpath, 200, 3000);
    int64_t old_gone = wait_status(&r, path, 404, 3000);

    assert_int_equal(ts_docker(NULL, 0, "rm", "-f", renamed, NULL), 0);
    int64_t removed = wait_status(&r, rpath, 404, 3000);
    long lists = ts_proxy_count(p, "/containers/json") - lists0;
    printf("after docker run: in GET after %lld ms; after docker rename: new name %lld ms, old name "
           "gone %lld ms; after docker rm: gone %lld ms; full lists meanwhile: %ld\n",
           (long long)created, (long long)shown, (long long)old_gone, (long long)removed, lists);
    assert_int_equal(ts_receiver_stop(&r, false), 0);
    ts_proxy_free(p);
    /* within a second of Docker's answer on a quiet machine; 3 s is the bound on a loaded one */
    assert_int_not_equal(created, -1);
    assert_int_not_equal(shown, -1);
    assert_int_not_equal(old_gone, -1);
    assert_int_not_equal(removed, -1);
    assert_int_equal(lists, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_service_calls_on_a_non_manager),
        cmocka_unit_test(cache_follows_events_without_listing),
    };
    return ts_exit_status(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
