/* test_hardening_faults.c: Docker faults against the running trip-receiver. The daemon is given
 * --docker-host unix://<tmp>/docker.sock and the test decides what that path is: missing, a
 * symlink to the real Docker socket, or a symlink to a fake daemon that accepts and never answers
 * (tests/support/ts_hangsock: the one thing the real daemon cannot be made to do, hence a fake).
 * Checked: start without a socket (/readyz 503, then ready once the socket appears); a hanging
 * daemon (clear timeout errors within the bound, /healthz and webhooks answered at once); Docker
 * hanging then gone mid-run (clear errors, the scale-out stays in state.json, scale-in happens
 * once Docker is back); a container removed between its scale-out and the scale-in (404, state
 * dropped, other containers unaffected). A table of cases and results is printed and written to
 * $TRIP_BINARY_DIR/hardening-faults.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ts_common.h"
#include "ts_docker.h"
#include "ts_hangsock.h"
#include "ts_receiver.h"

#define TOKEN "faults-t0ken"
#define MAX_ROWS 32

struct row {
    char what[96];
    char want[96];
    char got[400];
    bool pass;
};

static struct row rows[MAX_ROWS];
static size_t n_rows;
static char dir[128], sock[160], hang_path[160], url[180], real_sock[160];
static char cname[128], cid[80];
static const char *const managed[] = {"trip.enable=true", NULL};

static struct row *add_row(const char *what, const char *want)
{
    assert_true(n_rows < MAX_ROWS);
    struct row *r = &rows[n_rows++];
    snprintf(r->what, sizeof(r->what), "%s", what);
    snprintf(r->want, sizeof(r->want), "%s", want);
    return r;
}

/* Points `sock` at target (a socket path), or removes it when target is NULL. */
static void point_socket(const char *target)
{
    unlink(sock);
    if (target)
        assert_int_equal(symlink(target, sock), 0);
}

static void real_docker_socket(char *out, size_t len)
{
    const char *h = getenv("DOCKER_HOST");
    if (h && strncmp(h, "unix://", 7) == 0)
        snprintf(out, len, "%s", h + 7);
    else
        snprintf(out, len, "/var/run/docker.sock");
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/trip-hf-%d-XXXXXX", (int)getpid());
    if (!mkdtemp(dir))
        return -1;
    snprintf(sock, sizeof(sock), "%s/docker.sock", dir);
    snprintf(hang_path, sizeof(hang_path), "%s/hang.sock", dir);
    snprintf(url, sizeof(url), "unix://%s", sock);
    real_docker_socket(real_sock, sizeof(real_sock));
    if (!ts_docker_available())
        return 0;
    ts_docker_name(cname, sizeof(cname), "hfault");
    return ts_docker_run_container(cid, sizeof(cid), cname, managed, NULL) == 0 ? 0 : -1;
}

static void print_table(FILE *f)
{
    size_t pass = 0;
    fprintf(f, "| # | fault | expected | observed | result |\n| --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < n_rows; i++) {
        fprintf(f, "| %zu | %s | %s | %s | %s |\n", i + 1, rows[i].what, rows[i].want, rows[i].got,
                rows[i].pass ? "pass" : "FAIL");
        pass += rows[i].pass;
    }
    fprintf(f, "\n%zu of %zu cases passed.\n", pass, n_rows);
}

static int group_teardown(void **state)
{
    if (n_rows) {
        char path[512];
        const char *bin = getenv("TRIP_BINARY_DIR");
        printf("\nDocker fault table (real Docker; a fake only for the hanging daemon):\n\n");
        print_table(stdout);
        snprintf(path, sizeof(path), "%s/hardening-faults.md", bin ? bin : ".");
        FILE *f = fopen(path, "w");
        if (f) {
            print_table(f);
            fclose(f);
        }
    }
    unlink(sock);
    unlink(hang_path);
    rmdir(dir);
    ts_docker_group_teardown(state);
    return 0;
}

static long get(const struct ts_receiver *rx, const char *path, struct ts_http_reply *rep)
{
    assert_int_equal(ts_http(rx, "GET", path, NULL, NULL, 0, rep), 0);
    return rep->status;
}

/* Polls GET path until it answers want; returns the ms waited or -1 after timeout_ms. */
static int64_t wait_status(const struct ts_receiver *rx, const char *path, long want,
                           int timeout_ms, struct ts_http_reply *rep)
{
    int64_t t0 = ts_now_ms();
    while (ts_now_ms() - t0 <= timeout_ms) {
        if (get(rx, path, rep) == want)
            return ts_now_ms() - t0;
        ts_sleep_ms(50);
    }
    return -1;
}

static int64_t inspect_cpu(void)
{
    char out[64] = "";
    assert_int_equal(ts_docker_inspect(cname, "{{.HostConfig.CpuShares}}", out, sizeof(out)), 0);
    return strtoll(out, NULL, 10);
}

static long scale(const struct ts_receiver *rx, const char *name, const char *body,
                  struct ts_http_reply *rep)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/containers/%s/scale", name);
    assert_int_equal(ts_http_json(rx, "POST", path, TOKEN, body, rep), 0);
    return rep->status;
}

/* ---- socket missing at start ---- */

static void missing_socket_at_start_then_ready_when_it_appears(void **state)
{
    struct ts_receiver rx;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    /* The default --docker-timeout (10 s): a missing socket fails at connect, at once, so a short
     * bound tests nothing here, while the real daemon's container update (cgroup write, config
     * saved to disk) was measured at over 1 s under I/O load: with a 1 s bound the scale-out or
     * scale-in could time out and answer 502. */
    const char *args[] = {"--token", TOKEN, "--docker-host", url, NULL};
    char why[160] = "";
    (void)state;
    ts_require_docker_image();
    assert_non_null(rep);
    point_socket(NULL);
    /* ts_receiver_start() returns once /healthz answered: the daemon started without Docker */
    assert_int_equal(ts_receiver_start(&rx, args), 0);
    struct row *r = add_row("Docker socket missing at start",
                            "starts; /healthz 200; /readyz 503; ready once the socket appears");
    long health = get(&rx, "/healthz", rep);
    long ready = get(&rx, "/readyz", rep);
    bool says_unreachable = strstr(rep->body, "unreachable") != NULL;
    bool logged = ts_receiver_log_has(&rx, "level=", 0);
    ts_sleep_ms(1000); /* several failed refreshes (--refresh-interval 200ms) */
    long still = get(&rx, "/readyz", rep);
    point_socket(real_sock);
    int64_t t0 = ts_now_ms();
    /* ordering and the eventual outcome, not a latency (bench/ measures those): ready at some
     * point after the socket appeared, within a generous 30 s */
    int64_t became = wait_status(&rx, "/readyz", 200, 30000, rep);
    long scaled = scale(&rx, cname, "{\"resource\":\"cpu\",\"duration\":\"1h\"}", rep);
    int64_t cpu = inspect_cpu();
    long back = scale(&rx, cname, "{\"resource\":\"cpu\",\"direction\":\"in\"}", rep);
    if (scaled != 200 || back != 200) /* the last reply's reason, shown in the table */
        snprintf(why, sizeof(why), ": %.150s", rep->body);
    snprintf(r->got, sizeof(r->got),
             "/healthz %ld, /readyz %ld then %ld after 1 s; ready %" PRId64
             " ms after the symlink; scale-out %ld (CpuShares %" PRId64 "), scale-in %ld%s",
             health, ready, still, became >= 0 ? became : ts_now_ms() - t0, scaled, cpu, back, why);
    r->pass = health == 200 && ready == 503 && says_unreachable && logged && still == 503 &&
              became >= 0 && scaled == 200 && cpu == 1024 && back == 200 &&
              inspect_cpu() == 512;
    assert_int_equal(ts_receiver_stop(&rx, !r->pass), 0);
    free(rep);
    assert_true(r->pass);
}

/* ---- a daemon that accepts and never answers ---- */

struct timed_call {
    const struct ts_receiver *rx;
    const char *name;
    long status;
    int64_t ms;
    int64_t end; /* ts_now_ms() when the reply came */
    struct ts_http_reply rep;
};

static void *scale_thread(void *arg)
{
    struct timed_call *c = arg;
    int64_t t0 = ts_now_ms();
    c->status = scale(c->rx, c->name, "{\"resource\":\"cpu\",\"duration\":\"1h\"}", &c->rep);
    c->end = ts_now_ms();
    c->ms = c->end - t0;
    return NULL;
}

static void hanging_daemon_times_out_clearly_and_http_keeps_answering(void **state)
{
    struct ts_receiver rx;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    const char *args[] = {
        "--token", TOKEN, "--docker-host", url, "--docker-timeout", "2s", "--request-timeout",
        "20s",     NULL};
    static struct timed_call calls[2];
    pthread_t th[2];
    char body[512];
    (void)state;
    ts_require_docker_image();
    assert_non_null(rep);
    struct ts_hangsock *hs = ts_hangsock_new(hang_path);
    assert_non_null(hs);
    point_socket(hang_path);
    assert_int_equal(ts_receiver_start(&rx, args), 0);

    /* two manual calls for two containers at once, while /healthz and a webhook are timed */
    for (int i = 0; i < 2; i++) {
        calls[i].rx = &rx;
        calls[i].name = i == 0 ? cname : "trip-it-other-container";
        pthread_create(&th[i], NULL, scale_thread, &calls[i]);
    }
    ts_sleep_ms(200); /* both calls are inside their Docker call now */
    int64_t t0 = ts_now_ms();
    long health = get(&rx, "/healthz", rep);
    int64_t health_end = ts_now_ms();
    int64_t health_ms = health_end - t0;
    snprintf(body, sizeof(body),
             "{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"ContainerHighCpu\","
             "\"name\":\"%s\"}}]}",
             cname);
    t0 = ts_now_ms();
    assert_int_equal(ts_http_json(&rx, "POST", "/webhook", TOKEN, body, rep), 0);
    int64_t hook_end = ts_now_ms();
    int64_t hook_ms = hook_end - t0;
    long hook = rep->status;
    bool hook_accepted = strstr(rep->body, "\"result\":\"accepted\"") != NULL;
    long ready = get(&rx, "/readyz", rep);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        struct row *r =
            add_row(i == 0 ? "hanging Docker: manual scale (managed container)"
                           : "hanging Docker: manual scale (second container, same time)",
                    "502/504 with a timeout message, not before --docker-timeout 2s and "
                    "before --request-timeout 20s");
        const char *err = strstr(calls[i].rep.body, "\"reason\":\"");
        if (!err)
            err = strstr(calls[i].rep.body, "\"error\":\"");
        snprintf(r->got, sizeof(r->got), "%ld after %" PRId64 " ms: %.110s", calls[i].status,
                 calls[i].ms, err ? err : calls[i].rep.body);
        bool timeout_msg =
            strstr(calls[i].rep.body, "imed out") || strstr(calls[i].rep.body, "timeout");
        r->pass = (calls[i].status == 502 || calls[i].status == 504) && timeout_msg &&
                  calls[i].ms >= 1900 && calls[i].ms < 20000;
    }
    struct row *r = add_row("hanging Docker: /healthz, webhook, /readyz meanwhile",
                            "/healthz 200 and webhook 200 while both calls still wait on "
                            "Docker; /readyz 503");
    snprintf(r->got, sizeof(r->got),
             "/healthz %ld in %" PRId64 " ms; webhook %ld (%s) in %" PRId64 " ms; /readyz %ld",
             health, health_ms, hook, hook_accepted ? "accepted" : "not accepted", hook_ms, ready);
    int64_t first_call_end = calls[0].end < calls[1].end ? calls[0].end : calls[1].end;
    r->pass = health == 200 && health_end < first_call_end && hook == 200 && hook_accepted &&
              hook_end < first_call_end && ready == 503;
    bool logged = ts_receiver_log_has(&rx, "msg=\"docker call failed\"", 20000);
    r = add_row("hanging Docker: log and nothing changed",
                "error logged per call; container untouched");
    snprintf(r->got, sizeof(r->got),
             "log has \"docker call failed\": %s; CpuShares %" PRId64
             "; fake daemon accepted %d connections",
             logged ? "yes" : "no", inspect_cpu(), ts_hangsock_accepted(hs));
    r->pass = logged && inspect_cpu() == 512 && ts_hangsock_accepted(hs) > 0;
    int stopped = ts_receiver_stop(&rx, false);
    ts_hangsock_free(hs);
    free(rep);
    for (size_t i = n_rows - 4; i < n_rows; i++)
        assert_true(rows[i].pass);
    assert_int_equal(stopped, 0);
}

/* ---- Docker slow, then gone, mid-run ---- */

/* <resource>.scaled_out of container name in the state on disk (state.json and the journal,
 * ts_state_doc): 1, 0, or -1 when the container has no entry. */
static int state_res_scaled_out(const struct ts_receiver *rx, const char *name, const char *res)
{
    int v = -1;
    json_t *o = ts_state_doc(rx->state_dir);
    json_t *arr = json_object_get(o, "containers");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *c = json_array_get(arr, i);
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n && strcmp(n, name) == 0)
            v = json_is_true(json_object_get(json_object_get(c, res), "scaled_out"));
    }
    json_decref(o);
    return v;
}

/* cpu.scaled_out of container name in the state on disk: 1, 0, or -1 when absent. */
static int state_scaled_out(const struct ts_receiver *rx, const char *name)
{
    return state_res_scaled_out(rx, name, "cpu");
}

static void docker_lost_mid_run_keeps_state_and_scales_in_when_back(void **state)
{
    struct ts_receiver rx;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    const char *args[] = {"--token", TOKEN, "--docker-host", url, "--docker-timeout", "1s", NULL};
    char path[256];
    (void)state;
    ts_require_docker_image();
    assert_non_null(rep);
    struct ts_hangsock *hs = ts_hangsock_new(hang_path);
    assert_non_null(hs);
    point_socket(real_sock);
    assert_int_equal(ts_receiver_start(&rx, args), 0);
    assert_true(wait_status(&rx, "/readyz", 200, 30000, rep) >= 0);
    long out = scale(&rx, cname, "{\"resource\":\"cpu\",\"duration\":\"2s\"}", rep);
    int64_t cpu_out = inspect_cpu();
    int64_t t_out = ts_now_ms();

    /* Docker hangs (slow) through the deadline, then disappears */
    point_socket(hang_path);
    int64_t not_ready = wait_status(&rx, "/readyz", 503, 30000, rep);
    bool slow_logged = ts_receiver_log_has(&rx, "action=scale_in_cpu", 30000);
    point_socket(NULL);
    ts_sleep_ms(1500);
    bool gone_logged = ts_receiver_log_has(&rx, "unreachable", 0) ||
                       ts_receiver_log_has(&rx, "No such file", 0) ||
                       ts_receiver_log_has(&rx, "connect", 0);
    int in_state = state_scaled_out(&rx, cname);
    snprintf(path, sizeof(path), "/api/v1/containers/%s", cname);
    assert_int_equal(ts_http_json(&rx, "GET", path, TOKEN, NULL, rep), 0);
    bool api_scaled = strstr(rep->body, "\"scaled_out\": true") != NULL;
    bool api_error = strstr(rep->body, "\"error\": \"\"") == NULL;
    int64_t cpu_during = inspect_cpu();
    long health = get(&rx, "/healthz", rep);
    struct row *r = add_row("Docker hangs, then is gone, past a scale-in deadline",
                            "errors logged; still scaled out in state.json and the API; "
                            "/readyz 503");
    snprintf(r->got, sizeof(r->got),
             "scale-out %ld (CpuShares %" PRId64 "); /readyz 503 after %" PRId64
             " ms; failed scale-in logged: %s; state.json scaled_out=%d; API scaled_out: %s, "
             "last error set: %s; /healthz %ld",
             out, cpu_out, not_ready, slow_logged && gone_logged ? "yes" : "no", in_state,
             api_scaled ? "yes" : "no", api_error ? "yes" : "no", health);
    r->pass = out == 200 && cpu_out == 1024 && not_ready >= 0 && slow_logged && gone_logged &&
              in_state == 1 && api_scaled && api_error && cpu_during == 1024 && health == 200;

    /* Docker comes back: the retried scale-in restores the baseline */
    point_socket(real_sock);
    int64_t t_back = ts_now_ms(), back_ms = -1;
    while (ts_now_ms() - t_back < 60000) { /* eventually: retries every 5 s, generous bound */
        if (inspect_cpu() == 512) {
            back_ms = ts_now_ms() - t_back;
            break;
        }
        ts_sleep_ms(100);
    }
    ts_sleep_ms(300); /* the state is saved right after the update */
    int after_state = state_scaled_out(&rx, cname);
    struct row *r2 = add_row("Docker back after the outage",
                             "scale-in to the baseline once reachable (retry every 5 s)");
    snprintf(r2->got, sizeof(r2->got),
             "CpuShares 512 %" PRId64 " ms after Docker returned (%" PRId64
             " ms after the scale-out); state.json scaled_out=%d",
             back_ms, ts_now_ms() - t_out, after_state);
    r2->pass = back_ms >= 0 && after_state == 0;
    int stopped = ts_receiver_stop(&rx, !(r->pass && r2->pass));
    ts_hangsock_free(hs);
    free(rep);
    assert_true(r->pass);
    assert_true(r2->pass);
    assert_int_equal(stopped, 0);
}

/* ---- container removed between alert and action ---- */

static void container_removed_after_scale_out_is_dropped_others_unaffected(void **state)
{
    struct ts_receiver rx;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    const char *args[] = {"--token", TOKEN, "--docker-host", url, NULL};
    char gone[128], id[80], path[256], needle[300];
    (void)state;
    ts_require_docker_image();
    assert_non_null(rep);
    point_socket(real_sock);
    ts_docker_name(gone, sizeof(gone), "hfault-gone");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), gone, managed, NULL), 0);
    assert_int_equal(ts_receiver_start(&rx, args), 0);
    long out = scale(&rx, gone, "{\"resource\":\"cpu\",\"duration\":\"1h\"}", rep);
    int before = state_scaled_out(&rx, gone);
    assert_int_equal(ts_docker(NULL, 0, "rm", "-f", gone, NULL), 0);
    long in = scale(&rx, gone, "{\"resource\":\"cpu\",\"direction\":\"in\"}", rep);
    /* the events watcher may have dropped the state at the destroy event already */
    bool said = (in == 404 && strstr(rep->body, "no such container")) ||
                (in == 200 && strstr(rep->body, "not scaled out"));
    snprintf(needle, sizeof(needle), "state dropped\" container=%s", gone);
    bool logged = ts_receiver_log_has(&rx, needle, 10000);
    snprintf(needle, sizeof(needle), "msg=\"container vanished; dropping its state\" container=%s",
             gone);
    logged = logged || ts_receiver_log_has(&rx, needle, 0);
    int after = state_scaled_out(&rx, gone);
    /* the container list behind GET is refreshed every 200 ms */
    snprintf(path, sizeof(path), "/api/v1/containers/%s", gone);
    int64_t t0 = ts_now_ms();
    do {
        assert_int_equal(ts_http_json(&rx, "GET", path, TOKEN, NULL, rep), 0);
        if (rep->status != 404)
            ts_sleep_ms(100);
    } while (rep->status != 404 && ts_now_ms() - t0 < 10000);
    long shown = rep->status;
    long other_out = scale(&rx, cname, "{\"resource\":\"cpu\",\"duration\":\"1h\"}", rep);
    int64_t other_cpu = inspect_cpu();
    long other_in = scale(&rx, cname, "{\"resource\":\"cpu\",\"direction\":\"in\"}", rep);
    struct row *r =
        add_row("container removed after its scale-out, before the scale-in",
                "state dropped and logged; scale-in 404 or \"not scaled out\"; others unaffected");
    snprintf(r->got, sizeof(r->got),
             "scale-out %ld (state %d); after docker rm: scale-in %ld (%s), logged: %s, state.json "
             "entry %s, GET %ld; other container out %ld (CpuShares %" PRId64 ") and in %ld",
             out, before, in,
             said ? (in == 404 ? "no such container" : "not scaled out") : "unexpected",
             logged ? "yes" : "no", after == -1 ? "gone" : "kept", shown, other_out, other_cpu,
             other_in);
    r->pass = out == 200 && before == 1 && said && logged && after == -1 && shown == 404 &&
              other_out == 200 && other_cpu == 1024 && other_in == 200 && inspect_cpu() == 512;
    int stopped = ts_receiver_stop(&rx, !r->pass);
    free(rep);
    assert_true(r->pass);
    assert_int_equal(stopped, 0);
}

/* ---- an update the daemon refuses ---- */

/* Sum of every series of a metric family whose line starts with prefix (e.g.
 * "trip_docker_errors_total{" or "trip_actions_total{kind=\"scale_out_memory\",result=\"error\"}").
 */
static int64_t metric_sum(const struct ts_receiver *rx, const char *prefix)
{
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    int64_t sum = 0;
    assert_non_null(rep);
    assert_int_equal(ts_http(rx, "GET", "/metrics", NULL, NULL, 0, rep), 0);
    for (const char *p = strstr(rep->body, prefix); p; p = strstr(p + 1, prefix)) {
        if (p != rep->body && p[-1] != '\n')
            continue;
        const char *sp = strchr(p, ' ');
        if (sp)
            sum += strtoll(sp + 1, NULL, 10);
    }
    free(rep);
    return sum;
}

/* Writes v into the container's cgroup v1 memory file; 0 or -1. */
static int cgroup_write(const char *id, const char *file, int64_t v)
{
    char path[256];
    snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/docker/%s/%s", id, file);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    int rc = fprintf(f, "%lld\n", (long long)v) > 0 ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

/* GET /api/v1/containers/<name> parsed; caller decrefs. */
static json_t *api_state(const struct ts_receiver *rx, const char *name, long *status)
{
    char path[256];
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    assert_non_null(rep);
    snprintf(path, sizeof(path), "/api/v1/containers/%s", name);
    assert_int_equal(ts_http_json(rx, "GET", path, TOKEN, NULL, rep), 0);
    *status = rep->status;
    json_t *o = json_loads(rep->body, 0, NULL);
    free(rep);
    return o;
}

#define MIB ((int64_t)1024 * 1024)

static void update_refused_by_the_daemon_is_reported_and_not_recorded(void **state)
{
    struct ts_receiver rx;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    const char *args[] = {"--token", TOKEN, "--docker-host", url, "--memory", "128m", NULL};
    char name[128], id[80], ip[64] = "", body[600], needle[300], before[256], after[256];
    const char *fmt = "mem={{.HostConfig.Memory}} swap={{.HostConfig.MemorySwap}} "
                      "running={{.State.Running}} started={{.State.StartedAt}}";
    (void)state;
    ts_require_docker_image();
    assert_non_null(rep);
    if (ts_cgroup_version() != 1) {
        /* cgroup v2 lowers memory.max below the usage by reclaiming or OOM-killing: the kernel
         * never refuses, so Docker does not either. */
        free(rep);
        ts_skip_on_this_machine("cgroup v2: the kernel never refuses a lower memory limit");
    }
    point_socket(real_sock);
    ts_docker_name(name, sizeof(name), "hfault-refused");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, managed, "--memory", "64m",
                                             "--memory-swap", "64m", NULL),
                     0);
    assert_int_equal(ts_docker_inspect(name, "{{.NetworkSettings.IPAddress}}", ip, sizeof(ip)), 0);
    /* The limit raised to 512 MiB behind Docker's back (as a tool writing the cgroup would), and
     * 200 MiB held: Docker still records 64 MiB, so a scale-out to 128 MiB asks the kernel to go
     * below the usage, and the kernel (cgroup v1: EBUSY) and with it the daemon refuse. */
    assert_int_equal(cgroup_write(id, "memory.memsw.limit_in_bytes", 512 * MIB), 0);
    assert_int_equal(cgroup_write(id, "memory.limit_in_bytes", 512 * MIB), 0);
    ts_workload_wait_ready(ip);
    assert_int_equal(ts_workload_get(ip, "/mem/hold?mb=200"), 200);
    assert_int_equal(ts_docker(before, sizeof(before), "inspect", "-f", fmt, name, NULL), 0);
    assert_int_equal(ts_receiver_start(&rx, args), 0);
    int64_t derr0 = metric_sum(&rx, "trip_docker_errors_total{");

    /* the webhook is accepted at once; the engine's update is refused */
    snprintf(
        body, sizeof(body),
        "{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"ContainerHighMemory\","
        "\"name\":\"%s\"},\"fingerprint\":\"refused1\"}]}",
        name);
    assert_int_equal(ts_http_json(&rx, "POST", "/webhook", TOKEN, body, rep), 0);
    long hook = rep->status;
    bool hook_accepted = strstr(rep->body, "\"result\":\"accepted\"") != NULL;
    snprintf(needle, sizeof(needle),
             "msg=\"docker call failed\" container=%s action=scale_out_memory call=update", name);
    bool logged = ts_receiver_log_has(&rx, needle, 30000);
    bool daemon_msg_logged = ts_receiver_log_has(&rx, "unable to set memory limit to 134217728", 0);
    /* a manual call answers with the daemon's message */
    long manual = scale(&rx, name, "{\"resource\":\"memory\",\"duration\":\"1h\"}", rep);
    bool manual_msg = strstr(rep->body, "unable to set memory limit to 134217728 (current usage") &&
                      strstr(rep->body, "\"result\":\"error\"");
    if (!manual_msg)
        fprintf(stderr, "manual reply: %.1000s\n", rep->body);
    long st;
    json_t *o = api_state(&rx, name, &st);
    json_t *mem = json_object_get(o, "memory");
    json_t *last = json_object_get(o, "last_action");
    const char *last_res = json_string_value(json_object_get(last, "result"));
    const char *last_err = json_string_value(json_object_get(last, "error"));
    const json_t *deadline = json_object_get(mem, "deadline");
    bool api_not_out = st == 200 && json_is_false(json_object_get(mem, "scaled_out")) &&
                       (!deadline || json_is_null(deadline));
    bool api_error = last_res && strcmp(last_res, "error") == 0 && last_err &&
                     strstr(last_err, "unable to set memory limit");
    if (!api_not_out || !api_error)
        fprintf(stderr, "GET %s: %ld %s\n", name, st, json_dumps(o, JSON_COMPACT));
    json_decref(o);
    int in_state = state_res_scaled_out(&rx, name, "memory");
    assert_int_equal(ts_docker(after, sizeof(after), "inspect", "-f", fmt, name, NULL), 0);
    int64_t derr = metric_sum(&rx, "trip_docker_errors_total{") - derr0;
    int64_t aerr =
        metric_sum(&rx, "trip_actions_total{kind=\"scale_out_memory\",result=\"error\"}");
    struct row *r = add_row("update refused by the daemon (memory below the usage)",
                            "error with the daemon's message; not recorded as scaled out");
    snprintf(r->got, sizeof(r->got),
             "webhook %ld %s, log has the daemon's message: %s; manual %ld with it: %s; API "
             "scaled_out false, no deadline: %s, last error: %s; state.json %d; inspect %s; "
             "docker errors +%" PRId64 ", action errors %" PRId64,
             hook, hook_accepted ? "accepted" : "NOT accepted",
             logged && daemon_msg_logged ? "yes" : "no", manual, manual_msg ? "yes" : "no",
             api_not_out ? "yes" : "no", api_error ? "yes" : "no", in_state,
             strcmp(before, after) == 0 ? "unchanged" : "CHANGED", derr, aerr);
    r->pass = hook == 200 && hook_accepted && logged && daemon_msg_logged && manual == 502 &&
              manual_msg && api_not_out && api_error && in_state != 1 &&
              strcmp(before, after) == 0 && derr >= 2 && aerr == 2;

    /* the workload lets go: the same scale-out now goes through, and back */
    assert_int_equal(ts_workload_get(ip, "/mem/release"), 200);
    long out = scale(&rx, name, "{\"resource\":\"memory\",\"duration\":\"1h\"}", rep);
    int64_t mem_out = ts_docker_inspect_i64(name, "{{.HostConfig.Memory}}");
    int out_state = state_res_scaled_out(&rx, name, "memory");
    long in = scale(&rx, name, "{\"resource\":\"memory\",\"direction\":\"in\"}", rep);
    int64_t mem_in = ts_docker_inspect_i64(name, "{{.HostConfig.Memory}}");
    struct row *r2 = add_row("a good scale-out after the refused one",
                             "200; 64 MiB -> 128 MiB, in state.json; scale-in back to 64 MiB");
    snprintf(r2->got, sizeof(r2->got),
             "scale-out %ld (Memory %" PRId64 " MiB, state.json %d), scale-in %ld (Memory %" PRId64
             " MiB)",
             out, mem_out / MIB, out_state, in, mem_in / MIB);
    r2->pass =
        out == 200 && mem_out == 128 * MIB && out_state == 1 && in == 200 && mem_in == 64 * MIB;
    int stopped = ts_receiver_stop(&rx, !(r->pass && r2->pass));
    free(rep);
    assert_true(r->pass);
    assert_true(r2->pass);
    assert_int_equal(stopped, 0);
}

/* ---- container removed after the alert was accepted, before the action ---- */

struct scale_call {
    const struct ts_receiver *rx;
    const char *name;
    long status;
    int64_t ms;
    int64_t end; /* ts_now_ms() when the reply came */
    char body[600];
};

static void *scale_call_thread(void *arg)
{
    struct scale_call *c = arg;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    int64_t t0 = ts_now_ms();
    if (rep) {
        c->status = scale(c->rx, c->name, "{\"resource\":\"cpu\",\"duration\":\"1h\"}", rep);
        snprintf(c->body, sizeof(c->body), "%.500s", rep->body);
    }
    c->end = ts_now_ms();
    c->ms = c->end - t0;
    free(rep);
    return NULL;
}

static void container_removed_between_alert_and_action_is_dropped_others_unaffected(void **state)
{
    struct ts_receiver rx;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    /* --docker-timeout 8s: the window in which the other container's two real updates must fit,
     * generous for a loaded machine */
    const char *args[] = {"--token", TOKEN, "--docker-host", url, "--docker-timeout", "8s", NULL};
    static struct scale_call call;
    char gone[128], id[80], body[600], needle[300];
    pthread_t th;
    (void)state;
    ts_require_docker_image();
    assert_non_null(rep);
    struct ts_hangsock *hs = ts_hangsock_new(hang_path);
    assert_non_null(hs);
    point_socket(real_sock);
    ts_docker_name(gone, sizeof(gone), "hfault-between");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), gone, managed, NULL), 0);
    assert_int_equal(ts_receiver_start(&rx, args), 0);
    assert_true(wait_status(&rx, "/readyz", 200, 30000, rep) >= 0);
    int64_t nf0 = metric_sum(&rx, "trip_docker_errors_total{code=\"not_found\"}");
    /* A first action for the container holds its slot: its Docker call (a new connection per
     * call) meets the fake daemon that never answers, for --docker-timeout 8 s. The events stream
     * opened at start-up stays on the real daemon. */
    point_socket(hang_path);
    call.rx = &rx;
    call.name = gone;
    pthread_create(&th, NULL, scale_call_thread, &call);
    ts_sleep_ms(300);
    snprintf(body, sizeof(body),
             "{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"ContainerHighCpu\","
             "\"name\":\"%s\"},\"fingerprint\":\"between1\"}]}",
             gone);
    assert_int_equal(ts_http_json(&rx, "POST", "/webhook", TOKEN, body, rep), 0);
    long hook = rep->status;
    bool accepted = strstr(rep->body, "\"result\":\"accepted\"") != NULL;
    /* the alert waits behind the first action; the container goes, Docker comes back */
    assert_int_equal(ts_docker(NULL, 0, "rm", "-f", gone, NULL), 0);
    point_socket(real_sock);
    /* another container scales out and back while the removed one's slot is still held */
    int64_t t0 = ts_now_ms();
    long other_out = scale(&rx, cname, "{\"resource\":\"cpu\",\"duration\":\"1h\"}", rep);
    int64_t other_ms = ts_now_ms() - t0;
    int64_t other_cpu = inspect_cpu();
    long other_in = scale(&rx, cname, "{\"resource\":\"cpu\",\"direction\":\"in\"}", rep);
    int64_t other_done = ts_now_ms();
    pthread_join(th, NULL);
    /* ordering, not latency: the other container was done while the hung call held its slot */
    bool same_window = other_done < call.end && call.ms >= 7900;
    /* the queued scale-out then finds the container gone: a 404, counted; nothing else */
    int64_t nf = 0;
    for (int64_t t1 = ts_now_ms(); ts_now_ms() - t1 < 30000; ts_sleep_ms(100)) {
        nf = metric_sum(&rx, "trip_docker_errors_total{code=\"not_found\"}") - nf0;
        if (nf > 0)
            break;
    }
    snprintf(needle, sizeof(needle), "msg=\"container removed; state dropped\" container=%s", gone);
    bool dropped_logged = ts_receiver_log_has(&rx, needle, 10000);
    /* the queued action's own 404, with Docker's message */
    snprintf(needle, sizeof(needle),
             "msg=\"no such container; nothing done\" container=%s action=scale_out_cpu", gone);
    bool notfound_logged = ts_receiver_log_has(&rx, needle, 10000);
    snprintf(needle, sizeof(needle), "action=scale_out_cpu call=update");
    bool no_update = !ts_receiver_log_has(&rx, needle, 0);
    int in_state = state_res_scaled_out(&rx, gone, "cpu");
    long shown = 0;
    t0 = ts_now_ms();
    do {
        json_decref(api_state(&rx, gone, &shown));
        if (shown != 404)
            ts_sleep_ms(100);
    } while (shown != 404 && ts_now_ms() - t0 < 10000);
    struct row *r =
        add_row("container removed after the alert was accepted, before the action",
                "404 counted; removal logged; no state left; another container unaffected");
    snprintf(r->got, sizeof(r->got),
             "webhook %ld %s while a hung call held the slot (%ld after %" PRId64
             " ms); docker rm -f; not_found +%" PRId64 " and logged: %s, no update tried: %s, "
             "\"state dropped\" logged: %s; state.json entry %s, GET %ld; other container out %ld "
             "in %" PRId64 " ms (CpuShares %" PRId64 "), in %ld, within the window: %s",
             hook, accepted ? "accepted" : "NOT accepted", call.status, call.ms, nf,
             notfound_logged ? "yes" : "no", no_update ? "yes" : "no",
             dropped_logged ? "yes" : "no", in_state == -1 ? "gone" : "kept", shown, other_out,
             other_ms, other_cpu, other_in, same_window ? "yes" : "no");
    /* Which of the two drops the state first is a race: the destroy event ("state dropped") or
     * the queued action's 404 ("no such container; nothing done", required above). Seen once
     * under load: the 404 came first and the destroy event then found no entry, so no "state
     * dropped" line. Either way the removal is logged and no state is left, which is what is
     * asserted; whether "state dropped" was logged is reported in the row. */
    r->pass = hook == 200 && accepted && call.status == 502 && nf >= 1 && notfound_logged &&
              no_update && in_state == -1 && shown == 404 && other_out == 200 &&
              other_cpu == 1024 && other_in == 200 && same_window &&
              inspect_cpu() == 512;
    int stopped = ts_receiver_stop(&rx, !r->pass);
    ts_hangsock_free(hs);
    free(rep);
    assert_true(r->pass);
    assert_int_equal(stopped, 0);
}

/* ---- the state files: wrong shape at start, symlinks planted where they are written ---- */

/* Runs the receiver on state dir d (no shell), stderr kept in log; returns its exit status, or -1
 * when it still ran after 5 s (then killed): it took the file for a state table. */
static int run_on_state_dir(const char *d, char *log_text, size_t len)
{
    const char *args[] = {
        "--token", TOKEN,           "--listen", "127.0.0.1:0",         "--state-dir",
        d,         "--docker-host", url,        "--heal-events=false", NULL};
    return ts_receiver_run_once(args, 5000, log_text, len);
}

static void state_file_of_the_wrong_shape_stops_the_start_and_is_kept(void **state)
{
    static const char *const files[] = {"{}", "{\"version\": 0, \"containers\": []}",
                                        "{\"version\": 2, \"containers\": [{\"id\": \"x\"}]}"};
    char log_text[4096], d[128], path[200];
    (void)state;
    ts_require_docker_image();
    point_socket(real_sock);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char what[96];
        snprintf(what, sizeof(what), "state.json %s at start", files[i]);
        struct row *r = add_row(what, "exit 1, \"not a state file this receiver wrote\"; "
                                      "file unchanged");
        snprintf(d, sizeof(d), "/tmp/trip-hf-state-%d-XXXXXX", (int)getpid());
        assert_non_null(mkdtemp(d));
        snprintf(path, sizeof(path), "%s/state.json", d);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(files[i], f);
        fclose(f);
        int rc = run_on_state_dir(d, log_text, sizeof(log_text));
        char *after = ts_read_file(path, NULL);
        const char *msg = strstr(log_text, "not a state file");
        const char *line = strstr(log_text, "msg=\"cannot load state\"");
        snprintf(r->got, sizeof(r->got), "exit %d (-1: ran on); %.200s; file %s", rc,
                 line ? line : "no \"cannot load state\"",
                 after && strcmp(after, files[i]) == 0 ? "unchanged" : "REWRITTEN");
        for (char *p = r->got; *p; p++)
            *p = *p == '\n' || *p == '|' ? ' ' : *p;
        r->pass = rc == 1 && msg && after && strcmp(after, files[i]) == 0;
        free(after);
        unlink(path);
        rmdir(d);
        assert_true(r->pass);
    }
}

/* Whoever can write the state dir plants symlinks where the receiver writes: the temporary file
 * of a save and the journal of claims (say to /etc/passwd). Both are opened O_NOFOLLOW. */
static void symlinks_planted_in_the_state_dir_are_not_followed(void **state)
{
    struct ts_receiver rx;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    const char *args[] = {"--token", TOKEN, "--docker-host", url, NULL};
    char tmp[200], journal[200], victim[200];
    (void)state;
    ts_require_docker_image();
    assert_non_null(rep);
    point_socket(real_sock);
    assert_int_equal(ts_receiver_start(&rx, args), 0);
    snprintf(tmp, sizeof(tmp), "%s/.state.json.tmp", rx.state_dir);
    snprintf(journal, sizeof(journal), "%s/journal", rx.state_dir);
    snprintf(victim, sizeof(victim), "%s.victim", rx.state_dir);
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("precious\n", f);
    fclose(f);
    assert_int_equal(symlink(victim, tmp), 0);
    assert_int_equal(symlink(victim, journal), 0);
    struct row *r = add_row("symlinks planted as .state.json.tmp and journal, then a scale-out",
                            "503 (claim not saved), nothing written through the links, "
                            "CpuShares unchanged");
    long st = scale(&rx, cname, "{\"resource\":\"cpu\",\"duration\":\"1h\"}", rep);
    char *after = ts_read_file(victim, NULL);
    int64_t cpu = inspect_cpu();
    snprintf(r->got, sizeof(r->got), "scale-out %ld: %.160s; target file %s; CpuShares %" PRId64,
             st, rep->body, after && strcmp(after, "precious\n") == 0 ? "unchanged" : "WRITTEN",
             cpu);
    r->pass = st == 503 && after && strcmp(after, "precious\n") == 0 && cpu == 512;
    free(after);
    unlink(tmp);
    unlink(journal);
    unlink(victim);
    assert_int_equal(ts_receiver_stop(&rx, !r->pass), 0);
    free(rep);
    assert_true(r->pass);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_socket_at_start_then_ready_when_it_appears),
        cmocka_unit_test(hanging_daemon_times_out_clearly_and_http_keeps_answering),
        cmocka_unit_test(docker_lost_mid_run_keeps_state_and_scales_in_when_back),
        cmocka_unit_test(container_removed_after_scale_out_is_dropped_others_unaffected),
        cmocka_unit_test(update_refused_by_the_daemon_is_reported_and_not_recorded),
        cmocka_unit_test(container_removed_between_alert_and_action_is_dropped_others_unaffected),
        cmocka_unit_test(state_file_of_the_wrong_shape_stops_the_start_and_is_kept),
        cmocka_unit_test(symlinks_planted_in_the_state_dir_are_not_followed),
    };
    return ts_exit_status(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
