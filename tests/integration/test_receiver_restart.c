/* test_receiver_restart.c: the state table survives kill -9 of the real daemon: a restarted
 * receiver scales the container in on time, or at once when the deadline passed while it was down;
 * a container removed meanwhile is dropped. */
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

static const char *const managed[] = {"trip.enable=true", NULL};

static int64_t shares(const char *name)
{
    return ts_docker_inspect_i64(name, "{{.HostConfig.CpuShares}}");
}

/* The moment (ms) the container's CpuShares reached want, or -1 after timeout_ms. */
static int64_t wait_shares(const char *name, int64_t want, int timeout_ms)
{
    int64_t waited = ts_docker_wait_i64(name, "{{.HostConfig.CpuShares}}", want, timeout_ms);
    return waited < 0 ? -1 : ts_now_ms();
}

static void post(const struct ts_receiver *r, const char *fixture, const char *name)
{
    assert_int_equal(ts_receiver_post_fixture(r, fixture, name), 200);
}

/* Scaled out with a 3 s duration, resolved, then kill -9 and restart at once: the restarted
 * daemon still scales in, and not before the deadline it persisted. How soon after the deadline
 * is a latency (bench/ measures it): here only eventually, within a generous 30 s. */
static void kill9_then_restart_still_scales_in_at_the_deadline(void **state)
{
    char name[128], id[80];
    struct ts_receiver r;
    const char *args[] = {"--scale-duration", "3s", NULL};
    (void)state;
    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "k9");
    assert_int_equal(
        ts_docker_run_container(id, sizeof(id), name, managed, "--cpu-shares", "300", NULL), 0);
    assert_int_equal(ts_receiver_start(&r, args), 0);
    int64_t t0 = ts_now_ms();
    post(&r, "alertmanager-0.25-firing.json", name);
    assert_true(wait_shares(name, 1024, 5000) > 0);
    post(&r, "alertmanager-0.25-resolved.json", name);
    usleep(200000);
    ts_receiver_kill9(&r);
    assert_int_equal(shares(name), 1024); /* nobody scaled it in before the kill */
    assert_int_equal(ts_receiver_restart(&r), 0);
    int64_t done = wait_shares(name, 300, 30000);
    assert_true(done > 0);
    print_message("scale-in %lld ms after the scale-out\n", (long long)(done - t0));
    assert_true(done - t0 >= 2900); /* t0 precedes the scale-out, so its deadline: t0 + 3 s */
    assert_int_equal(ts_receiver_stop(&r, false), 0);
}

/* The deadline passes while the receiver is down: once it is back it scales in (within a generous
 * 30 s; how soon is a latency, measured in bench/). */
static void overdue_deadline_scales_in_at_restart(void **state)
{
    char name[128], id[80];
    struct ts_receiver r;
    const char *args[] = {"--scale-duration", "1s", NULL};
    (void)state;
    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "overdue");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, managed, NULL), 0);
    assert_int_equal(ts_receiver_start(&r, args), 0);
    post(&r, "alertmanager-0.25-firing.json", name);
    assert_true(wait_shares(name, 1024, 5000) > 0);
    post(&r, "alertmanager-0.25-resolved.json", name);
    ts_receiver_kill9(&r); /* possibly before the resolve was even handled */
    sleep(2);
    assert_int_equal(ts_receiver_restart(&r), 0);
    int64_t back = ts_now_ms();
    if (shares(name) != 512) {
        /* the resolve never reached the engine: Alertmanager re-sends it, as it retries */
        post(&r, "alertmanager-0.25-resolved.json", name);
    }
    int64_t done = wait_shares(name, 512, 30000);
    assert_true(done > 0);
    print_message("scale-in %lld ms after the restart\n", (long long)(done - back));
    assert_true(ts_receiver_log_has(&r, "msg=\"state loaded\"", 0));
    assert_int_equal(ts_receiver_stop(&r, false), 0);
}

/* A container removed while the receiver was down is dropped from the table. */
static void vanished_container_is_dropped(void **state)
{
    char name[128], id[80], path[200];
    struct ts_receiver r;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    const char *args[] = {"--scale-duration", "1h", NULL};
    (void)state;
    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "gone");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, managed, NULL), 0);
    assert_int_equal(ts_receiver_start(&r, args), 0);
    post(&r, "alertmanager-0.25-firing.json", name);
    assert_true(wait_shares(name, 1024, 5000) > 0);
    ts_receiver_kill9(&r);
    assert_int_equal(ts_docker(NULL, 0, "rm", "-f", name, NULL), 0);
    assert_int_equal(ts_receiver_restart(&r), 0);
    /* Dropped by the reconcile of the loaded state ("vanished"), or first by the events watcher,
     * whose stream starts a second before its first list and so replays the `destroy` of a
     * container removed just before the restart ("removed"): either way once, and logged. */
    bool dropped = false;
    for (int waited = 0; !dropped && waited <= 3000; waited += 100) {
        dropped = ts_receiver_log_has(&r, "container vanished; dropping its state", 0) ||
                  ts_receiver_log_has(&r, "container removed; state dropped", 0);
        if (!dropped)
            usleep(100 * 1000);
    }
    assert_true(dropped);
    snprintf(path, sizeof(path), "/api/v1/containers/%s", name);
    assert_int_equal(ts_http_json(&r, "GET", path, NULL, NULL, rep), 0);
    assert_int_equal(rep->status, 404);
    free(rep);
    assert_int_equal(ts_receiver_stop(&r, false), 0);
}

/* SIGTERM right after a webhook was accepted: the queued scale-out still happens, is saved, and a
 * restarted receiver knows it is scaled out. */
static void sigterm_finishes_accepted_work_and_persists(void **state)
{
    char name[128], id[80], path[200];
    struct ts_receiver r;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    const char *args[] = {"--scale-duration", "1h", NULL};
    (void)state;
    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "term");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, managed, NULL), 0);
    assert_int_equal(ts_receiver_start(&r, args), 0);
    post(&r, "alertmanager-0.25-firing.json", name);
    assert_int_equal(ts_receiver_term(&r, 10000), 0);
    assert_int_equal(shares(name), 1024);
    assert_int_equal(ts_receiver_restart(&r), 0);
    snprintf(path, sizeof(path), "/api/v1/containers/%s", name);
    assert_int_equal(ts_http_json(&r, "GET", path, NULL, NULL, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"scaled_out\": true"));
    assert_non_null(strstr(rep->body, "\"baseline\": 512"));
    free(rep);
    assert_int_equal(ts_receiver_stop(&r, false), 0);
}

/* A corrupt state.json stops the start-up (rather than forgetting scaled-out containers), leaves
 * the file as it was, and the log says what to check and what moving it aside costs. */
static void corrupt_state_file_stops_startup_and_says_what_to_do(void **state)
{
    struct ts_receiver r;
    char path[160], needle[512];
    const char *garbage = "{\"containers\": [{\"name\": \"web\", \"cpu\": ";
    (void)state;
    ts_require_docker_image();
    assert_int_equal(ts_receiver_start(&r, NULL), 0);
    assert_int_equal(ts_receiver_term(&r, 10000), 0);
    snprintf(path, sizeof(path), "%s/state.json", r.state_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(garbage, f);
    fclose(f);
    assert_int_equal(ts_receiver_restart(&r), -1); /* exited without serving */
    assert_true(ts_receiver_log_has(&r, "msg=\"cannot load state; not starting", 0));
    snprintf(needle, sizeof(needle), "error=\"%s: line 1:", path); /* a quoted logfmt value */
    assert_true(ts_receiver_log_has(&r, needle, 0));
    assert_true(ts_receiver_log_has(&r, "check=\"the file named in the error", 0));
    snprintf(needle, sizeof(needle), "move_aside=\"mv %s %s.bad lets it start", path, path);
    assert_true(ts_receiver_log_has(&r, needle, 0));
    char *kept = ts_read_file(path, NULL);
    assert_non_null(kept);
    assert_string_equal(kept, garbage); /* nothing overwritten */
    free(kept);
    ts_receiver_stop(&r, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill9_then_restart_still_scales_in_at_the_deadline),
        cmocka_unit_test(overdue_deadline_scales_in_at_restart),
        cmocka_unit_test(vanished_container_is_dropped),
        cmocka_unit_test(sigterm_finishes_accepted_work_and_persists),
        cmocka_unit_test(corrupt_state_file_stops_startup_and_says_what_to_do),
    };
    return ts_exit_status(cmocka_run_group_tests(tests, NULL, ts_docker_group_teardown));
}
