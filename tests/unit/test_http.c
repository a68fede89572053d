/* test_http.c: the real HTTP front and engine on a loopback port, with a Docker that takes 2 s per
 * update (the one thing the real daemon cannot be made to do on demand): webhooks are still
 * answered in milliseconds, and a manual call that outlives --request-timeout gets 504 while the
 * action finishes in the background. Also the auth helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "http.h"
#include "log.h"
#include "ts_receiver.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t shares = 512;
static int updates;

static void fill(struct docker_labels *l)
{
    l->v = calloc(1, sizeof(*l->v));
    l->v[0].key = strdup("trip.enable");
    l->v[0].value = strdup("true");
    l->n = 1;
}

static docker_code f_inspect(void *ud, const char *name, struct docker_container *out,
                             struct docker_err *err)
{
    (void)ud;
    if (strcmp(name, "slow") != 0) {
        err->code = DOCKER_E_NOT_FOUND;
        snprintf(err->msg, sizeof(err->msg), "No such container: %s", name);
        return DOCKER_E_NOT_FOUND;
    }
    snprintf(out->id, sizeof(out->id), "id-slow");
    snprintf(out->name, sizeof(out->name), "slow");
    snprintf(out->status, sizeof(out->status), "running");
    out->running = true;
    pthread_mutex_lock(&lock);
    out->res.cpu_shares = shares;
    pthread_mutex_unlock(&lock);
    out->res.memory = 1 << 30;
    out->res.memory_swap = 2LL << 30;
    fill(&out->labels);
    return DOCKER_OK;
}

static docker_code f_update(void *ud, const char *id, const struct docker_update *u,
                            struct docker_err *err)
{
    (void)ud;
    (void)id;
    (void)err;
    sleep(2);
    pthread_mutex_lock(&lock);
    updates++;
    if (u->has_cpu_shares)
        shares = u->cpu_shares;
    pthread_mutex_unlock(&lock);
    return DOCKER_OK;
}

static docker_code f_start(void *ud, const char *id, struct docker_err *err)
{
    (void)ud;
    (void)id;
    (void)err;
    return DOCKER_OK;
}

static docker_code f_list(void *ud, struct docker_summary_list *out, struct docker_err *err)
{
    (void)ud;
    (void)err;
    out->v = calloc(1, sizeof(*out->v));
    out->n = 1;
    snprintf(out->v[0].name, sizeof(out->v[0].name), "slow");
    snprintf(out->v[0].state, sizeof(out->v[0].state), "running");
    fill(&out->v[0].labels);
    return DOCKER_OK;
}

static const struct engine_docker_ops slow_ops = {f_inspect, f_update, f_start, f_start, f_list,
                                                  NULL,      NULL,     NULL,    NULL};

static struct config cfg;
static struct engine *eng;
static struct http *srv;
static struct ts_receiver rx; /* only base_url, for ts_http() */
static struct ts_http_reply *rep;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
    struct engine_opts o = {.workers = 2, .ops = &slow_ops};
    (void)state;
    log_set_level(LOG_LEVEL_ERROR);
    config_defaults(&cfg);
    snprintf(cfg.listen_host, sizeof(cfg.listen_host), "127.0.0.1");
    cfg.listen_port = 0;
    cfg.request_timeout_ms = 500;
    policy_limits_from_config(&o.lim, &cfg); /* the defaults: 5m, within [1s, 24h] */
    rep = malloc(sizeof(*rep));
    if (engine_new(&o, &eng, NULL) != ENGINE_OK || engine_start(eng, NULL) != ENGINE_OK)
        return -1;
    engine_refresh(eng);
    if (http_start(&cfg, eng, NULL, &srv, NULL) != HTTP_OK)
        return -1;
    snprintf(rx.base_url, sizeof(rx.base_url), "http://127.0.0.1:%u", http_port(srv));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_quiesce(srv);
    engine_stop(eng, 5000);
    http_free(srv);
    engine_free(eng);
    free(rep);
    return 0;
}

static const char firing[] =
    "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":"
    "\"ContainerHighCpu\",\"name\":\"slow\"},\"fingerprint\":\"f1\"}]}";

static void webhook_never_waits_on_docker(void **state)
{
    (void)state;
    assert_int_equal(ts_http_json(&rx, "POST", "/webhook", NULL, firing, rep), 0);
    assert_int_equal(rep->status, 200);
    /* the worker is now inside the 2 s update: the next webhook must not wait for it */
    usleep(100000);
    int64_t t0 = mono_ms();
    assert_int_equal(ts_http_json(&rx, "POST", "/webhook", NULL, firing, rep), 0);
    assert_int_equal(rep->status, 200);
    int64_t took = mono_ms() - t0;
    print_message("webhook answered in %lld ms while an update takes 2 s\n", (long long)took);
    assert_true(took < 1000); /* typically ~1 ms; bound loose enough for valgrind */
    assert_non_null(strstr(rep->body, "\"result\":\"accepted\""));
    engine_wait_idle(eng);
    pthread_mutex_lock(&lock);
    assert_int_equal(updates, 1);
    assert_int_equal(shares, 1024);
    pthread_mutex_unlock(&lock);
}

static void slow_manual_call_gets_504_and_still_completes(void **state)
{
    (void)state;
    int64_t t0 = mono_ms();
    assert_int_equal(ts_http_json(&rx, "POST", "/api/v1/containers/slow/scale", NULL,
                                  "{\"resource\":\"cpu\",\"direction\":\"in\"}", rep),
                     0);
    int64_t took = mono_ms() - t0;
    assert_int_equal(rep->status, 504);
    assert_non_null(strstr(rep->body, "--request-timeout"));
    assert_true(took >= 450 && took < 1500);
    engine_wait_idle(eng);
    pthread_mutex_lock(&lock);
    assert_int_equal(shares, 512); /* the scale-in finished after the reply */
    pthread_mutex_unlock(&lock);
    /* a fast call on the same connection pool still works */
    assert_int_equal(ts_http_json(&rx, "GET", "/api/v1/containers/slow", NULL, NULL, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"result\": \"ok\""));
}

static void auth_helpers(void **state)
{
    char out[32];
    (void)state;
    assert_true(http_secret_equal("s3cret", "s3cret"));
    assert_false(http_secret_equal("s3cret", "s3cre"));
    assert_false(http_secret_equal("", "x"));
    assert_true(http_secret_equal("", ""));
    assert_int_equal(http_base64_decode("YW06cHc=", out, sizeof(out)), 5);
    assert_string_equal(out, "am:pw");
    assert_int_equal(http_base64_decode("YW06cHc", out, sizeof(out)), 5);
    assert_int_equal(http_base64_decode("YW0*", out, sizeof(out)), -1);
    assert_int_equal(http_base64_decode("YWFhYWFhYWFhYQ==", out, 4), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(webhook_never_waits_on_docker),
        cmocka_unit_test(slow_manual_call_gets_504_and_still_completes),
        cmocka_unit_test(auth_helpers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
