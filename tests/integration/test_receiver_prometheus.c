/* test_receiver_prometheus.c: --prometheus-url against a real Prometheus (Debian's 2.42 binary,
 * started here with a rule that fires for the test container): a resolved notification does not
 * scale in while Prometheus still reports the alert firing; once the rule is gone (config reload),
 * the container returns to its baseline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts_common.h"
#include "ts_docker.h"
#include "ts_receiver.h"

static const char *const managed[] = {"trip.enable=true", NULL};

struct prom {
    pid_t pid;
    char dir[64];
    char rules[128];
    struct ts_receiver http; /* only base_url is used, for ts_http() */
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void write_rules(struct prom *p, const char *container)
{
    char text[512];
    if (container)
        snprintf(
            text, sizeof(text),
            "groups:\n  - name: t\n    interval: 1s\n    rules:\n      - alert: ContainerHighCpu\n"
            "        expr: vector(1)\n        labels: {name: \"%s\", action: scale-cpu}\n",
            container);
    else
        snprintf(text, sizeof(text), "groups: []\n");
    write_file(p->rules, text);
}

/* Skips (or fails under CI) when the prometheus binary is missing. */
static void prom_start(struct prom *p, const char *container)
{
    char cfg[128], listen[40], storage[128], cfgflag[160], storeflag[160], listenflag[96];
    struct ts_http_reply *rep = malloc(sizeof(*rep));

    if (access("/usr/bin/prometheus", X_OK) != 0)
        ts_skip("prometheus is not installed (tools/deps installs it)");
    snprintf(p->dir, sizeof(p->dir), "/tmp/trip-prom-%d-XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(p->dir));
    snprintf(p->rules, sizeof(p->rules), "%s/rules.yml", p->dir);
    snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", p->dir);
    snprintf(storage, sizeof(storage), "%s/data", p->dir);
    write_file(cfg, "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\n");
    write_rules(p, container);
    uint16_t port = ts_free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
    snprintf(p->http.base_url, sizeof(p->http.base_url), "http://%s", listen);
    snprintf(cfgflag, sizeof(cfgflag), "--config.file=%s", cfg);
    snprintf(storeflag, sizeof(storeflag), "--storage.tsdb.path=%s", storage);
    snprintf(listenflag, sizeof(listenflag), "--web.listen-address=%s", listen);
    p->pid = fork();
    if (p->pid == 0) {
        char logp[128];
        snprintf(logp, sizeof(logp), "%s/prometheus.log", p->dir);
        FILE *f = freopen(logp, "w", stderr);
        (void)f;
        execl("/usr/bin/prometheus", "prometheus", cfgflag, storeflag, listenflag,
              "--web.enable-lifecycle", (char *)NULL);
        _exit(127);
    }
    /* ready, and the rule has fired at least once */
    bool firing = false;
    for (int i = 0; i < 200 && !firing; i++) {
        usleep(100000);
        firing = ts_http(&p->http, "GET", "/api/v1/alerts", NULL, NULL, 0, rep) == 0 &&
                 rep->status == 200 && strstr(rep->body, "\"state\":\"firing\"");
    }
    assert_true(firing);
    free(rep);
}

static void prom_stop(struct prom *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    if (p->dir[0]) {
        /* a directory tree we created: remove it without a shell */
        pid_t pid = fork();
        if (pid == 0) {
            execlp("rm", "rm", "-rf", p->dir, (char *)NULL);
            _exit(127);
        }
        waitpid(pid, NULL, 0);
    }
}

static int64_t shares(const char *name)
{
    return ts_docker_inspect_i64(name, "{{.HostConfig.CpuShares}}");
}

static void post(const struct ts_receiver *r, const char *fixture, const char *name)
{
    assert_int_equal(ts_receiver_post_fixture(r, fixture, name), 200);
}

static void scale_in_waits_while_prometheus_says_firing(void **state)
{
    char name[128], id[80], url[96];
    struct prom p = {0};
    struct ts_receiver r;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    (void)state;
    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "prom");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, managed, NULL), 0);
    prom_start(&p, name);
    snprintf(url, sizeof(url), "%s", p.http.base_url);
    const char *args[] = {"--scale-duration", "1s", "--prometheus-url", url, NULL};
    assert_int_equal(ts_receiver_start(&r, args), 0);
    post(&r, "alertmanager-0.25-firing.json", name);
    post(&r, "alertmanager-0.25-resolved.json", name);
    assert_true(ts_receiver_log_has(
        &r, "prometheus reports the alert still firing; holding scale-in", 4000));
    sleep(1);
    assert_int_equal(shares(name), 1024); /* held although Alertmanager said resolved */
    /* the API says why the scale-in waits */
    char path[192];
    snprintf(path, sizeof(path), "/api/v1/containers/%s", name);
    assert_int_equal(ts_http_json(&r, "GET", path, NULL, NULL, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"postponed\""));
    assert_non_null(strstr(rep->body, "prometheus reports ContainerHighCpu still firing"));
    /* the rule goes away: Prometheus stops reporting the alert */
    write_rules(&p, NULL);
    assert_int_equal(ts_http(&p.http, "POST", "/-/reload", NULL, "", 0, rep), 0);
    assert_int_equal(rep->status, 200);
    int64_t t0 = ts_now_ms();
    while (shares(name) != 512 && ts_now_ms() - t0 < 6000)
        usleep(100000);
    assert_int_equal(shares(name), 512);
    assert_int_equal(ts_receiver_stop(&r, false), 0);
    prom_stop(&p);
    free(rep);
}

static void unreachable_prometheus_falls_back_to_alertmanager(void **state)
{
    char name[128], id[80];
    struct ts_receiver r;
    const char *args[] = {"--scale-duration", "1s", "--prometheus-url", "http://127.0.0.1:1", NULL};
    (void)state;
    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "noprom");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, managed, NULL), 0);
    assert_int_equal(ts_receiver_start(&r, args), 0);
    post(&r, "alertmanager-0.25-firing.json", name);
    int64_t t0 = ts_now_ms();
    while (shares(name) != 1024 && ts_now_ms() - t0 < 3000)
        usleep(50000);
    assert_int_equal(shares(name), 1024);
    post(&r, "alertmanager-0.25-resolved.json", name);
    t0 = ts_now_ms();
    while (shares(name) != 512 && ts_now_ms() - t0 < 5000)
        usleep(100000);
    assert_int_equal(shares(name), 512);
    assert_true(ts_receiver_log_has(&r, "prometheus check failed", 0));
    assert_int_equal(ts_receiver_stop(&r, false), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scale_in_waits_while_prometheus_says_firing),
        cmocka_unit_test(unreachable_prometheus_falls_back_to_alertmanager),
    };
    return ts_exit_status(cmocka_run_group_tests(tests, NULL, ts_docker_group_teardown));
}
