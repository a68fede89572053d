/* test_svc_route.c: routing, the builtin endpoints and the handlers' checks that come before
 * any database or peer call (no I/O: the app has no pool). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bookmark.h"
#include "nearspot.h"
#include "place.h"
#include "review.h"
#include "svc_app.h"

static const char *const no_labels[16];

static void answer(const struct svc_service *svc, bool ready, const char *method, const char *path,
                   const char *body, const char *auth, struct svc_reply *rep)
{
    static struct svc_app app;
    size_t route;
    memset(&app, 0, sizeof(app));
    app.svc = svc;
    app.metrics = svc_metrics_new(no_labels, no_labels, 0);
    atomic_store(&app.ready, ready);
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    struct svc_req req = {.method = method,
                          .path = buf,
                          .body = body,
                          .body_len = body ? strlen(body) : 0,
                          .authorization = auth,
                          .app = &app};
    char *q = strchr(buf, '?'); /* what libmicrohttpd does for the real front */
    if (q) {
        *q++ = '\0';
        for (char *kv = strtok(q, "&"); kv && req.nquery < SVC_MAX_QUERY; kv = strtok(NULL, "&")) {
            char *eq = strchr(kv, '=');
            if (eq)
                *eq++ = '\0';
            req.query_keys[req.nquery] = kv;
            req.query_vals[req.nquery++] = eq ? eq : "";
        }
    }
    memset(rep, 0, sizeof(*rep));
    svc_dispatch(&app, &req, rep, &route);
    svc_metrics_free(app.metrics);
}

static void expect(const struct svc_service *svc, const char *method, const char *path,
                   const char *body, const char *auth, int status, const char *code)
{
    struct svc_reply rep;
    answer(svc, true, method, path, body, auth, &rep);
    assert_int_equal(rep.status, status);
    if (code)
        assert_string_equal(json_string_value(json_object_get(rep.json, "error")), code);
    svc_reply_free(&rep);
}

static void patterns_capture_segments_and_tell_404_from_405(void **state)
{
    static void (*const none)(struct svc_req *, struct svc_reply *) = NULL;
    const struct svc_route routes[] = {{"GET", "/places/{}/reviews", none},
                                       {"POST", "/places/{}/reviews", none},
                                       {"GET", "/places", none}};
    struct svc_req req = {0};
    bool wrong;
    (void)state;
    assert_int_equal(svc_route_match(routes, 3, "POST", "/places/42/reviews", &req, &wrong), 1);
    assert_int_equal(req.nparams, 1);
    assert_string_equal(req.params[0], "42");
    assert_int_equal(svc_route_match(routes, 3, "PUT", "/places/42/reviews", &req, &wrong), -1);
    assert_true(wrong);
    assert_int_equal(svc_route_match(routes, 3, "GET", "/places//reviews", &req, &wrong), -1);
    assert_false(wrong);
    assert_int_equal(svc_route_match(routes, 3, "GET", "/places/42/reviews/", &req, &wrong), -1);
    assert_int_equal(svc_route_match(routes, 3, "GET", "/places/", &req, &wrong), -1);
    char longpath[300] = "/places/";
    memset(longpath + 8, '1', 200);
    strcat(longpath, "/reviews");
    assert_int_equal(svc_route_match(routes, 3, "GET", longpath, &req, &wrong), -1);
}

static void health_answers_without_a_database_and_routes_wait_for_migrations(void **state)
{
    struct svc_reply rep;
    (void)state;
    answer(&place_service, false, "GET", "/health", NULL, NULL, &rep);
    assert_int_equal(rep.status, 200);
    assert_string_equal(json_string_value(json_object_get(rep.json, "service")), "place");
    svc_reply_free(&rep);
    answer(&place_service, false, "GET", "/places/1", NULL, NULL, &rep);
    assert_int_equal(rep.status, 503);
    assert_string_equal(json_string_value(json_object_get(rep.json, "error")), "starting");
    svc_reply_free(&rep);
    answer(&place_service, false, "GET", "/ready", NULL, NULL, &rep);
    assert_int_equal(rep.status, 503);
    svc_reply_free(&rep);
    expect(&place_service, "DELETE", "/health", NULL, NULL, 405, "method_not_allowed");
    expect(&place_service, "PUT", "/places", NULL, NULL, 405, "method_not_allowed");
    expect(&place_service, "GET", "/nowhere", NULL, NULL, 404, "not_found");
}

static void handlers_refuse_bad_requests_before_any_call(void **state)
{
    const char *bad_token = "Bearer not-a-token";
    (void)state;
    expect(&place_service, "POST", "/places", "{}", NULL, 401, "unauthorized");
    expect(&place_service, "POST", "/places", "{}", bad_token, 401, "unauthorized");
    expect(&place_service, "GET", "/places/abc", NULL, NULL, 404, "not_found");
    expect(&place_service, "GET", "/places?limit=0", NULL, NULL, 400, "invalid_field");
    expect(&review_service, "GET", "/places/x/rating", NULL, NULL, 404, "place_not_found");
    expect(&review_service, "GET", "/places/1/reviews?offset=-1", NULL, NULL, 400, "invalid_field");
    expect(&review_service, "POST", "/places/1/reviews", "{\"stars\":5}", NULL, 401,
           "unauthorized");
    expect(&bookmark_service, "PUT", "/bookmarks/0", NULL, NULL, 404, "place_not_found");
    expect(&bookmark_service, "GET", "/bookmarks", NULL, "Basic abc", 401, "unauthorized");
    expect(&nearspot_service, "GET", "/nearby", NULL, NULL, 400, "invalid_field");
}

static void bodies_must_be_one_json_object(void **state)
{
    struct svc_reply rep = {0};
    struct svc_req req = {0};
    (void)state;
    const char *bad[] = {"", "{", "[]", "\"x\"", "{\"a\":1,\"a\":2}", "{\"a\":\"\\u0000\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        req.body = bad[i];
        req.body_len = strlen(bad[i]);
        assert_null(svc_req_json(&req, &rep));
        assert_int_equal(rep.status, 400);
        assert_string_equal(json_string_value(json_object_get(rep.json, "error")), "invalid_json");
        svc_reply_free(&rep);
    }
    /* jansson quotes the client's bytes in its error: the message stays valid UTF-8 */
    req.body = "{\"a\xff\xfe";
    req.body_len = strlen(req.body);
    assert_null(svc_req_json(&req, &rep));
    assert_non_null(rep.json);
    assert_int_equal(rep.status, 400);
    svc_reply_free(&rep);
    req.body = "{\"a\":1}";
    req.body_len = 7;
    json_t *j = svc_req_json(&req, &rep);
    assert_non_null(j);
    json_decref(j);
}

/* A body jansson refused (bytes that are not UTF-8) never goes out as a success without it. */
static void a_reply_without_its_body_is_not_a_success(void **state)
{
    struct svc_reply rep = {0};
    (void)state;
    svc_reply_json(&rep, 201, json_pack("{s:I,s:s}", "id", (json_int_t)7, "text", "bad \xff"));
    assert_int_equal(rep.status, 500);
    assert_null(rep.json);
    svc_reply_json(&rep, 201, json_pack("{s:I}", "id", (json_int_t)7));
    assert_int_equal(rep.status, 201);
    svc_reply_json(&rep, 204, NULL);
    assert_int_equal(rep.status, 204);
    svc_reply_free(&rep);
}

static void metrics_render_counters_and_histograms_per_route(void **state)
{
    const char *routes[] = {"/places/{}", "other"};
    const char *methods[] = {"GET", "other"};
    struct svc_metrics *m = svc_metrics_new(routes, methods, 2);
    (void)state;
    svc_metrics_observe(m, 0, 200, 0.004);
    svc_metrics_observe(m, 0, 200, 0.2);
    svc_metrics_observe(m, 0, 418, 0.001);
    svc_metrics_peer(m, "place", "down");
    char *text = svc_metrics_render(m, NULL);
    assert_non_null(strstr(text, "http_requests_total{route=\"/places/{}\",method=\"GET\","
                                 "code=\"200\"} 2\n"));
    assert_non_null(strstr(text, "code=\"418\"} 1\n"));
    assert_non_null(strstr(text, "http_request_duration_seconds_bucket{route=\"/places/{}\","
                                 "method=\"GET\",le=\"0.005\"} 2\n"));
    assert_non_null(strstr(text, "le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(text, "http_request_duration_seconds_count{route=\"/places/{}\","
                                 "method=\"GET\"} 3\n"));
    assert_non_null(strstr(text, "peer_requests_total{peer=\"place\",outcome=\"down\"} 1\n"));
    free(text);
    svc_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(patterns_capture_segments_and_tell_404_from_405),
        cmocka_unit_test(health_answers_without_a_database_and_routes_wait_for_migrations),
        cmocka_unit_test(handlers_refuse_bad_requests_before_any_call),
        cmocka_unit_test(bodies_must_be_one_json_object),
        cmocka_unit_test(a_reply_without_its_body_is_not_a_success),
        cmocka_unit_test(metrics_render_counters_and_histograms_per_route),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
