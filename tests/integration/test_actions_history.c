/* test_actions_history.c: GET /api/v1/actions of the real daemon next to real containers: a manual
 * scale-out with its caller and duration, an Alertmanager alert with its name and fingerprint, a
 * heal after `docker kill`, the query parameters and their errors, auth, the Grafana containers
 * dashboard's annotation query marking a scale-out on a real Prometheus scraping the daemon, and
 * the history kept in the state dir across a SIGTERM restart and a kill -9 (at most the last
 * second lost). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts_common.h"
#include "ts_docker.h"
#include "ts_receiver.h"

#define TOKEN "h1story-t0ken"

/* --manage-all with a label of our own (see test_receiver_api.c): no other receiver acts on these;
 * heals from events stay within this run's containers (ts_receiver's --heal-label-filter). */
static const char *const labels[] = {"trip.owner=history-test", NULL};
static struct ts_receiver rx;
static char manual[128], alerted[128], healed[128];
static struct ts_http_reply *rep;

static int group_setup(void **state)
{
    char id[80];
    const char *args[] = {"--token", TOKEN, "--manage-all", "--scale-duration", "10m", NULL};
    (void)state;
    rep = malloc(sizeof(*rep));
    if (!ts_docker_available())
        return 0; /* each test skips (or fails under CI) in ts_require_docker_image() */
    ts_docker_name(manual, sizeof(manual), "hist-manual");
    ts_docker_name(alerted, sizeof(alerted), "hist-alert");
    ts_docker_name(healed, sizeof(healed), "hist-heal");
    if (ts_docker_run_container(id, sizeof(id), manual, labels, NULL) != 0 ||
        ts_docker_run_container(id, sizeof(id), alerted, labels, NULL) != 0 ||
        ts_docker_run_container(id, sizeof(id), healed, labels, NULL) != 0)
        return -1;
    return ts_receiver_start(&rx, args);
}

static int group_teardown(void **state)
{
    int rc = rx.pid > 0 && ts_receiver_stop(&rx, false) != 0 ? -1 : 0;
    free(rep);
    ts_docker_group_teardown(state);
    return rc;
}

/* GET /api/v1/actions<query> with the token, parsed; fails the test unless 200. */
static json_t *history(const char *query)
{
    char path[256];

    snprintf(path, sizeof(path), "/api/v1/actions%s", query);
    assert_int_equal(ts_http_json(&rx, "GET", path, TOKEN, NULL, rep), 0);
    assert_int_equal(rep->status, 200);
    json_t *doc = json_loads(rep->body, 0, NULL);
    assert_non_null(doc);
    return doc;
}

/* The newest record of container with action, or NULL (borrowed from doc). */
static json_t *find(json_t *doc, const char *container, const char *action)
{
    size_t i;
    json_t *r;

    json_array_foreach(json_object_get(doc, "actions"), i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "container")), container) == 0 &&
            strcmp(json_string_value(json_object_get(r, "action")), action) == 0)
            return r;
    }
    return NULL;
}

/* Polls the history until container has a record of action (up to timeout_ms). */
static json_t *wait_for(const char *container, const char *action, int timeout_ms)
{
    for (int waited = 0;; waited += 100) {
        json_t *doc = history("?limit=1000");
        json_t *r = find(doc, container, action);
        if (r) {
            json_incref(r);
            json_decref(doc);
            return r;
        }
        json_decref(doc);
        if (waited >= timeout_ms)
            return NULL;
        usleep(100 * 1000);
    }
}

static const char *str(const json_t *r, const char *key)
{
    const char *s = json_string_value(json_object_get(r, key));
    return s ? s : "(missing)";
}

static void manual_scale_out_is_recorded_with_caller_and_duration(void **state)
{
    char path[256];
    (void)state;
    ts_require_docker_image();
    snprintf(path, sizeof(path), "/api/v1/containers/%s/scale", manual);
    assert_int_equal(
        ts_http_json(&rx, "POST", path, TOKEN, "{\"resource\":\"cpu\",\"direction\":\"out\"}", rep),
        0);
    assert_int_equal(rep->status, 200);
    json_t *r = wait_for(manual, "scale_out_cpu", 2000);
    assert_non_null(r);
    assert_string_equal(str(r, "trigger"), "manual");
    assert_string_equal(str(r, "caller"), "127.0.0.1");
    assert_string_equal(str(r, "result"), "ok");
    assert_string_equal(str(r, "kind"), "container");
    assert_string_equal(str(r, "error"), "");
    assert_true(json_integer_value(json_object_get(r, "took_ms")) > 0);
    assert_true(json_integer_value(json_object_get(r, "seq")) >= 1);
    fprintf(stderr, "history: manual scale-out recorded, took %lld ms\n",
            (long long)json_integer_value(json_object_get(r, "took_ms")));
    json_decref(r);
}

static void alert_is_recorded_with_its_name_and_fingerprint(void **state)
{
    (void)state;
    ts_require_docker_image();
    char *body = ts_fixture_for("alertmanager-0.25-firing.json", alerted);
    assert_non_null(body);
    assert_int_equal(ts_http_json(&rx, "POST", "/webhook", TOKEN, body, rep), 0);
    free(body);
    assert_int_equal(rep->status, 200);
    json_t *r = wait_for(alerted, "scale_out_cpu", 5000);
    assert_non_null(r);
    assert_string_equal(str(r, "trigger"), "alert");
    assert_string_equal(str(r, "alertname"), "ContainerHighCpu");
    assert_string_equal(str(r, "fingerprint"), "9f3b670a7039a10e");
    assert_string_equal(str(r, "result"), "ok");
    json_decref(r);
    /* the same alert again only extends the deadline: no second record */
    body = ts_fixture_for("alertmanager-0.25-firing.json", alerted);
    assert_int_equal(ts_http_json(&rx, "POST", "/webhook", TOKEN, body, rep), 0);
    free(body);
    usleep(500 * 1000);
    json_t *doc = history("?limit=1000");
    size_t i, n = 0;
    json_t *v;
    json_array_foreach(json_object_get(doc, "actions"), i, v)
    {
        n += strcmp(str(v, "container"), alerted) == 0;
    }
    assert_int_equal(n, 1);
    json_decref(doc);
}

static void heal_after_docker_kill_is_recorded(void **state)
{
    (void)state;
    ts_require_docker_image();
    assert_int_equal(ts_docker(NULL, 0, "kill", healed, NULL), 0);
    json_t *r = wait_for(healed, "heal", 15000);
    assert_non_null(r);
    assert_string_equal(str(r, "trigger"), "event");
    assert_string_equal(str(r, "result"), "ok");
    assert_non_null(strstr(str(r, "reason"), "Docker event"));
    json_decref(r);
}

static void query_selects_and_refuses_bad_values(void **state)
{
    char q[64];
    (void)state;
    ts_require_docker_image();
    json_t *doc = history("");
    json_int_t last = json_integer_value(json_object_get(doc, "last_seq"));
    size_t all = json_array_size(json_object_get(doc, "actions"));
    assert_true(last >= 3 && all >= 3);
    /* newest first */
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(doc, "actions"), 0), "seq")),
                     last);
    json_decref(doc);
    snprintf(q, sizeof(q), "?since=%lld", (long long)last);
    doc = history(q);
    assert_int_equal(json_array_size(json_object_get(doc, "actions")), 0);
    json_decref(doc);
    snprintf(q, sizeof(q), "?since=%lld&limit=1", (long long)last - 2);
    doc = history(q);
    assert_int_equal(json_array_size(json_object_get(doc, "actions")), 1);
    json_decref(doc);
    doc = history("?since=2000-01-01T00:00:00Z");
    assert_int_equal(json_array_size(json_object_get(doc, "actions")), all);
    json_decref(doc);
    static const char *const bad[] = {"?limit=0", "?limit=5000", "?since=yesterday"};
    for (size_t i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/actions%s", bad[i]);
        assert_int_equal(ts_http_json(&rx, "GET", path, TOKEN, NULL, rep), 0);
        assert_int_equal(rep->status, 400);
        assert_non_null(strstr(rep->body, "must be"));
    }
    assert_int_equal(ts_http_json(&rx, "GET", "/api/v1/actions", NULL, NULL, rep), 0);
    assert_int_equal(rep->status, 401);
    assert_int_equal(ts_http_json(&rx, "GET", "/api/v1/actions?token=" TOKEN, NULL, NULL, rep), 0);
    assert_int_equal(rep->status, 401);
}

/* ---- the Grafana annotation on a real Prometheus ---- */

/* The expr of the "trip-receiver actions" annotation of compose/grafana/dashboards/containers.json
 * (caller frees). */
static char *annotation_expr(void)
{
    char path[512];
    const char *src = getenv("TRIP_SOURCE_DIR");
    size_t i;
    json_t *a;

    snprintf(path, sizeof(path), "%s/compose/grafana/dashboards/containers.json", src ? src : ".");
    json_t *dash = json_load_file(path, 0, NULL);
    assert_non_null(dash);
    char *expr = NULL;
    json_array_foreach(json_object_get(json_object_get(dash, "annotations"), "list"), i, a)
    {
        const char *name = json_string_value(json_object_get(a, "name"));
        if (name && strcmp(name, "trip-receiver actions") == 0)
            expr = strdup(json_string_value(json_object_get(a, "expr")));
    }
    json_decref(dash);
    assert_non_null(expr);
    return expr;
}

static void url_encode(const char *in, char *out, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (; *in && n + 4 < len; in++) {
        unsigned char ch = (unsigned char)*in;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-_.~", ch)) {
            out[n++] = (char)ch;
        } else {
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        }
    }
    out[n] = '\0';
}

/* Starts Debian's Prometheus scraping the daemon's /metrics every second; skips (or fails under
 * CI) when it is not installed. Returns its pid; base_url of prom gets its address. */
static pid_t prom_start(struct ts_receiver *prom, char *dir, size_t dirlen)
{
    char cfg[160], text[512], flags[3][200];

    if (access("/usr/bin/prometheus", X_OK) != 0) {
        if (ts_in_ci())
            fail_msg("prometheus is not installed (tools/deps installs it)");
        skip();
    }
    snprintf(dir, dirlen, "/tmp/trip-hist-prom-%d-XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(dir));
    snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", dir);
    snprintf(text, sizeof(text),
             "global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: trip-receiver\n"
             "    static_configs: [{targets: ['%s']}]\n",
             rx.base_url + strlen("http://"));
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    snprintf(prom->base_url, sizeof(prom->base_url), "http://127.0.0.1:%u", ts_free_port());
    snprintf(flags[0], sizeof(flags[0]), "--config.file=%s", cfg);
    snprintf(flags[1], sizeof(flags[1]), "--storage.tsdb.path=%s/data", dir);
    snprintf(flags[2], sizeof(flags[2]), "--web.listen-address=%s",
             prom->base_url + strlen("http://"));
    pid_t pid = fork();
    if (pid == 0) {
        char logp[160];
        snprintf(logp, sizeof(logp), "%s/prometheus.log", dir);
        FILE *lf = freopen(logp, "w", stderr);
        (void)lf;
        execl("/usr/bin/prometheus", "prometheus", flags[0], flags[1], flags[2], (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void prom_stop(pid_t pid, const char *dir)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    pid_t rm = fork(); /* a directory tree we created: removed without a shell */
    if (rm == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    waitpid(rm, NULL, 0);
}

/* Runs an instant query; true when a series with label kind=want comes back. */
static bool query_has_kind(const struct ts_receiver *prom, const char *expr, const char *want)
{
    char enc[1024], path[1200], needle[96];

    url_encode(expr, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/v1/query?query=%s", enc);
    snprintf(needle, sizeof(needle), "\"kind\":\"%s\"", want);
    return ts_http(prom, "GET", path, NULL, NULL, 0, rep) == 0 && rep->status == 200 &&
           strstr(rep->body, needle) != NULL;
}

static void grafana_annotation_marks_a_scale_out(void **state)
{
    struct ts_receiver prom = {0};
    char dir[96], path[256];
    (void)state;
    ts_require_docker_image();
    char *expr = annotation_expr();
    pid_t pid = prom_start(&prom, dir, sizeof(dir));
    /* Prometheus has the counters before the scale-out, so increase() sees it */
    bool scraped = false;
    for (int i = 0; i < 300 && !scraped; i++) {
        usleep(100 * 1000);
        scraped = ts_http(&prom, "GET", "/api/v1/query?query=up%7Bjob%3D%22trip-receiver%22%7D",
                          NULL, NULL, 0, rep) == 0 &&
                  rep->status == 200 && strstr(rep->body, "\"1\"]") != NULL;
    }
    assert_true(scraped);
    snprintf(path, sizeof(path), "/api/v1/containers/%s/scale", manual);
    assert_int_equal(
        ts_http_json(&rx, "POST", path, TOKEN, "{\"resource\":\"cpu\",\"direction\":\"in\"}", rep),
        0);
    assert_int_equal(
        ts_http_json(&rx, "POST", path, TOKEN, "{\"resource\":\"cpu\",\"direction\":\"out\"}", rep),
        0);
    assert_int_equal(rep->status, 200);
    int64_t t0 = ts_now_ns();
    bool marked = false;
    while (!marked && ts_now_ns() - t0 < 15000000000LL) {
        usleep(250 * 1000);
        marked = query_has_kind(&prom, expr, "scale_out_cpu");
    }
    fprintf(stderr,
            "history: the dashboard's annotation query marked the scale-out after %lld ms\n",
            (long long)((ts_now_ns() - t0) / 1000000));
    prom_stop(pid, dir);
    free(expr);
    assert_true(marked);
}

static void history_survives_sigterm_and_kill9(void **state)
{
    char path[256];
    (void)state;
    ts_require_docker_image();
    json_t *before = history("?limit=1000");
    json_int_t last = json_integer_value(json_object_get(before, "last_seq"));
    size_t n = json_array_size(json_object_get(before, "actions"));
    json_decref(before);

    assert_int_equal(ts_receiver_term(&rx, 20000), 0);
    snprintf(path, sizeof(path), "%s/actions.json", rx.state_dir);
    assert_int_equal(access(path, R_OK), 0);
    assert_int_equal(ts_receiver_restart(&rx), 0);
    json_t *after = history("?limit=1000");
    assert_int_equal(json_array_size(json_object_get(after, "actions")), n);
    assert_int_equal(json_integer_value(json_object_get(after, "last_seq")), last);
    assert_non_null(find(after, manual, "scale_out_cpu"));
    json_decref(after);

    /* an action, a second for the flush, kill -9: still there; numbering goes on */
    snprintf(path, sizeof(path), "/api/v1/containers/%s/scale", manual);
    assert_int_equal(
        ts_http_json(&rx, "POST", path, TOKEN, "{\"resource\":\"cpu\",\"direction\":\"in\"}", rep),
        0);
    assert_int_equal(rep->status, 200);
    usleep(1500 * 1000);
    ts_receiver_kill9(&rx);
    assert_int_equal(ts_receiver_restart(&rx), 0);
    json_t *r = wait_for(manual, "scale_in_cpu", 1000);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r, "seq")), last + 1);
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manual_scale_out_is_recorded_with_caller_and_duration),
        cmocka_unit_test(alert_is_recorded_with_its_name_and_fingerprint),
        cmocka_unit_test(heal_after_docker_kill_is_recorded),
        cmocka_unit_test(query_selects_and_refuses_bad_values),
        cmocka_unit_test(grafana_annotation_marks_a_scale_out),
        cmocka_unit_test(history_survives_sigterm_and_kill9),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
