/* test_http.c: the real HTTP front and engine on a loopback port, with a Docker that takes 2 s per
 * update (the shared fake, tests/support/ts_fakedocker.h: the one thing the real daemon cannot be
 * made to do on demand): webhooks are still
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

#include "clock.h"
#include "config.h"
#include "engine.h"
#include "http.h"
#include "log.h"
#include "ts_fakedocker.h"
#include "ts_receiver.h"
#include "ts_webhook.h"

static struct config cfg;
static struct engine *eng;
static struct http *srv;
static struct ts_receiver rx; /* only base_url, for ts_http() */
static struct ts_http_reply *rep;

static int setup(void **state)
{
    struct engine_opts o = {.workers = 2, .ops = &ts_fake_ops_containers};
    (void)state;
    ts_fake_reset();
    ts_fk.list = true; /* the webhook decides from the engine's cache */
    ts_fake_add("slow", 512, TS_GIB, true)->update_delay_ms = 2000;
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

/* shares and updates of the fake container "slow" */
static int64_t slow_shares(void)
{
    pthread_mutex_lock(&ts_fk.lock);
    int64_t v = ts_fake_find("slow")->shares;
    pthread_mutex_unlock(&ts_fk.lock);
    return v;
}

static void webhook_never_waits_on_docker(void **state)
{
    const struct ts_alert a = {"firing", "ContainerHighCpu", "slow", "f1", NULL};
    char *firing = ts_webhook_body(&a, 1);
    (void)state;
    assert_int_equal(ts_http_json(&rx, "POST", "/webhook", NULL, firing, rep), 0);
    assert_int_equal(rep->status, 200);
    /* the worker is now inside the 2 s update: the next webhook must not wait for it */
    usleep(100000);
    int64_t t0 = clock_mono_ms();
    assert_int_equal(ts_http_json(&rx, "POST", "/webhook", NULL, firing, rep), 0);
    assert_int_equal(rep->status, 200);
    int64_t took = clock_mono_ms() - t0;
    print_message("webhook answered in %lld ms while an update takes 2 s\n", (long long)took);
    assert_true(took < 1000); /* typically ~1 ms; bound loose enough for valgrind */
    assert_non_null(strstr(rep->body, "\"result\":\"accepted\""));
    engine_wait_idle(eng);
    pthread_mutex_lock(&ts_fk.lock);
    assert_int_equal(ts_fk.updates, 1);
    pthread_mutex_unlock(&ts_fk.lock);
    assert_int_equal(slow_shares(), 1024);
    free(firing);
}

static void slow_manual_call_gets_504_and_still_completes(void **state)
{
    (void)state;
    int64_t t0 = clock_mono_ms();
    assert_int_equal(ts_http_json(&rx, "POST", "/api/v1/containers/slow/scale", NULL,
                                  "{\"resource\":\"cpu\",\"direction\":\"in\"}", rep),
                     0);
    int64_t took = clock_mono_ms() - t0;
    assert_int_equal(rep->status, 504);
    assert_non_null(strstr(rep->body, "--request-timeout"));
    assert_true(took >= 450 && took < 1500);
    engine_wait_idle(eng);
    assert_int_equal(slow_shares(), 512); /* the scale-in finished after the reply */
    /* a fast call on the same connection pool still works */
    assert_int_equal(ts_http_json(&rx, "GET", "/api/v1/containers/slow", NULL, NULL, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"result\": \"ok\""));
}

/* A webhook for a container Docker does not have (the cache lists every one) is answered
 * "ignored: no such container", not "accepted". */
static void webhook_for_an_unknown_container_is_ignored(void **state)
{
    const struct ts_alert a = {"firing", "ContainerHighCpu", "ghost", "g1", NULL};
    char *body = ts_webhook_body(&a, 1);
    (void)state;
    assert_int_equal(ts_http_json(&rx, "POST", "/webhook", NULL, body, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"accepted\":0"));
    assert_non_null(strstr(rep->body, "\"result\":\"ignored\""));
    assert_non_null(strstr(rep->body, "no such container"));
    free(body);
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
        cmocka_unit_test(webhook_for_an_unknown_container_is_ignored),
        cmocka_unit_test(slow_manual_call_gets_504_and_still_completes),
        cmocka_unit_test(auth_helpers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
