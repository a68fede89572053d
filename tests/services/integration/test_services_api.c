/* test_services_api.c: every endpoint of the five services and every error status they answer,
 * against a real MariaDB (the image compose builds) and the real trip-* binaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "svc_fixture.h"

static struct fx_db db;
static bool skipped; /* Docker unreachable outside CI: the program exits 77 */
static struct fx_svc user, place, review, bookmark, nearspot;
static char *token3, *token4; /* demo users 3 and 4 */

static int setup(void **state)
{
    bool skip = false;
    (void)state;
    if (!fx_db_start(&db, &skip)) {
        skipped = skip;
        return skip ? 0 : -1;
    }
    if (!fx_svc_start_all(&db, &user, &place, &review, &bookmark, &nearspot))
        return -1;
    token3 = fx_login(user.port, 3);
    token4 = fx_login(user.port, 4);
    return token3 && token4 ? 0 : -1;
}

static int teardown(void **state)
{
    bool clean = fx_svc_stop_all(&user, &place, &review, &bookmark, &nearspot);
    (void)state;
    fx_db_remove(&db);
    free(token3);
    free(token4);
    return clean ? 0 : -1;
}

static void need_db(void)
{
    if (!db.port)
        skip();
}

/* Sends the request and checks the status and, when code is non-NULL, the error code. */
static json_t *expect(int port, const char *method, const char *path, const char *token,
                      const char *body, long status, const char *code)
{
    json_t *out = NULL;
    long got = fx_http(port, method, path, token, body, &out, NULL);
    if (got != status)
        fprintf(stderr, "%s %s %s: got %ld, want %ld\n", method, path, body ? body : "", got,
                status);
    assert_int_equal(got, status);
    if (code) {
        assert_non_null(out);
        assert_string_equal(json_string_value(json_object_get(out, "error")), code);
        assert_true(json_is_string(json_object_get(out, "message")));
    }
    return out;
}

static void check(int port, const char *method, const char *path, const char *token,
                  const char *body, long status, const char *code)
{
    json_decref(expect(port, method, path, token, body, status, code));
}

static long long int_of(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static void health_ready_and_metrics_answer_on_every_service(void **state)
{
    struct fx_svc *all[] = {&user, &place, &review, &bookmark, &nearspot};
    (void)state;
    need_db();
    for (size_t i = 0; i < 5; i++) {
        json_t *h = expect(all[i]->port, "GET", "/health", NULL, NULL, 200, NULL);
        assert_string_equal(json_string_value(json_object_get(h, "service")), all[i]->name);
        json_decref(h);
        check(all[i]->port, "GET", "/ready", NULL, NULL, 200, NULL);
        check(all[i]->port, "POST", "/health", NULL, "{}", 405, "method_not_allowed");
        check(all[i]->port, "GET", "/no/such/thing", NULL, NULL, 404, "not_found");
        assert_int_equal(fx_http(all[i]->port, "GET", "/metrics", NULL, NULL, NULL, NULL), 200);
    }
}

static void the_seed_is_deterministic_and_migrations_run_once(void **state)
{
    char got[128];
    (void)state;
    need_db();
    assert_true(fx_db_query(&db, "SELECT COUNT(*) FROM trip_place.places", got, sizeof(got)));
    assert_string_equal(got, "20000");
    assert_true(
        fx_db_query(&db, "SELECT name FROM trip_place.places WHERE id = 7", got, sizeof(got)));
    assert_string_equal(got, "Quiet Oak Store"); /* the same on every first start */
    assert_true(fx_db_query(&db,
                            "SELECT COUNT(*) FROM trip_user.users WHERE email LIKE "
                            "'demo%@trip.example'",
                            got, sizeof(got)));
    assert_string_equal(got, "100");
    assert_true(fx_db_query(&db,
                            "SELECT (SELECT COUNT(*) FROM trip_review.reviews) = "
                            "(SELECT SUM(count) FROM trip_review.ratings) AND "
                            "(SELECT SUM(stars) FROM trip_review.reviews) = "
                            "(SELECT SUM(sum) FROM trip_review.ratings)",
                            got, sizeof(got)));
    assert_string_equal(got, "1");
    /* a restart applies nothing twice and seeds nothing twice */
    assert_int_equal(fx_svc_stop(&place), 0);
    assert_true(fx_svc_start(&place, "place", &db, user.port, 0, NULL));
    assert_true(fx_db_query(&db, "SELECT COUNT(*) FROM trip_place.places", got, sizeof(got)));
    assert_string_equal(got, "20000");
    assert_true(fx_db_query(&db,
                            "SELECT GROUP_CONCAT(version ORDER BY version) FROM "
                            "trip_place.schema_version",
                            got, sizeof(got)));
    assert_string_equal(got, "1,2,3");
}

static int health_check(int port)
{
    char listen[64], bin[512];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(bin, sizeof(bin), "%s/trip-place", getenv("SVC_BIN_DIR"));
    pid_t pid = fork();
    if (pid == 0) {
        setenv("SVC_LISTEN", listen, 1);
        execl(bin, bin, "--health-check", (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void the_health_check_flag_exits_0_only_when_the_service_answers(void **state)
{
    (void)state;
    need_db();
    assert_int_equal(health_check(place.port), 0);
    assert_int_equal(health_check(fx_free_port()), 1);
}

static void user_signs_up_logs_in_and_edits_only_their_profile(void **state)
{
    json_t *out;
    char path[128], sql[256], got[128];
    (void)state;
    need_db();
    out = expect(user.port, "POST", "/users", NULL,
                 "{\"email\":\"Ann@Example.org\",\"password\":\"secret-123\",\"name\":\"Ann\"}",
                 201, NULL);
    long long ann = int_of(out, "id");
    assert_string_equal(json_string_value(json_object_get(out, "email")), "ann@example.org");
    json_decref(out);
    check(user.port, "POST", "/users", NULL,
          "{\"email\":\"ann@example.ORG\",\"password\":\"secret-123\",\"name\":\"A\"}", 409,
          "email_taken");
    check(user.port, "POST", "/users", NULL,
          "{\"email\":\"x@y.z\",\"password\":\"short\","
          "\"name\":\"A\"}",
          400, "invalid_field");
    check(user.port, "POST", "/users", NULL,
          "{\"email\":\"no-at-sign\",\"password\":"
          "\"long-enough\",\"name\":\"A\"}",
          400, "invalid_field");
    check(user.port, "POST", "/users", NULL, "{\"email\":1}", 400, "invalid_field");
    check(user.port, "POST", "/users", NULL, "{\"email\":\"b@c.de\",\"password\":\"long-enough\"}",
          400, "invalid_field");
    /* the password is stored as a yescrypt hash, never in clear */
    assert_true(fx_db_query(&db,
                            "SELECT password_hash FROM trip_user.users WHERE email = "
                            "'ann@example.org'",
                            got, sizeof(got)));
    assert_memory_equal(got, "$y$", 3);
    assert_null(strstr(got, "secret-123"));

    out = expect(user.port, "POST", "/sessions", NULL,
                 "{\"email\":\"ann@example.org\",\"password\":\"secret-123\"}", 201, NULL);
    const char *tok = json_string_value(json_object_get(out, "token"));
    assert_int_equal(strlen(tok), 64);
    assert_int_equal(int_of(out, "user_id"), ann);
    assert_true(json_is_string(json_object_get(out, "expires_at")));
    char token[65];
    snprintf(token, sizeof(token), "%s", tok);
    json_decref(out);
    /* the token is stored hashed */
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM trip_user.sessions WHERE token_hash = '%s'",
             token);
    assert_true(fx_db_query(&db, sql, got, sizeof(got)));
    assert_string_equal(got, "0");
    check(user.port, "POST", "/sessions", NULL,
          "{\"email\":\"ann@example.org\",\"password\":\"wrong-one\"}", 401, "invalid_credentials");
    check(user.port, "POST", "/sessions", NULL,
          "{\"email\":\"nobody@example.org\",\"password\":\"secret-123\"}", 401,
          "invalid_credentials");

    snprintf(path, sizeof(path), "/sessions/%s", token);
    out = expect(user.port, "GET", path, NULL, NULL, 200, NULL);
    assert_int_equal(int_of(out, "user_id"), ann);
    json_decref(out);
    check(user.port, "GET", "/sessions/not-a-token", NULL, NULL, 404, "not_found");

    snprintf(path, sizeof(path), "/users/%lld", ann);
    out = expect(user.port, "GET", path, NULL, NULL, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(out, "name")), "Ann");
    assert_null(json_object_get(out, "email")); /* only the owner sees it */
    json_decref(out);
    out = expect(user.port, "PATCH", path, token,
                 "{\"name\":\"Ann B\",\"password\":"
                 "\"new-secret-1\"}",
                 200, NULL);
    assert_string_equal(json_string_value(json_object_get(out, "name")), "Ann B");
    json_decref(out);
    check(user.port, "POST", "/sessions", NULL,
          "{\"email\":\"ann@example.org\",\"password\":\"new-secret-1\"}", 201, NULL);
    check(user.port, "PATCH", path, token, "{\"email\":\"x@y.z\"}", 400, "invalid_field");
    check(user.port, "PATCH", path, token, "{}", 400, "invalid_field");
    check(user.port, "PATCH", path, NULL, "{\"name\":\"X\"}", 401, "unauthorized");
    check(user.port, "PATCH", "/users/3", token, "{\"name\":\"X\"}", 403, "forbidden");
    check(user.port, "GET", "/users/999999", NULL, NULL, 404, "not_found");
    check(user.port, "GET", "/users/abc", NULL, NULL, 404, "not_found");

    snprintf(path, sizeof(path), "/sessions/%s", token);
    check(user.port, "DELETE", path, NULL, NULL, 204, NULL);
    check(user.port, "GET", path, NULL, NULL, 404, "not_found");
    check(user.port, "DELETE", path, NULL, NULL, 404, "not_found");
}

static void place_is_created_read_changed_and_deleted_by_its_owner(void **state)
{
    json_t *out;
    char path[64];
    (void)state;
    need_db();
    const char *body = "{\"name\":\"Café Zürich\",\"category\":\"cafe\",\"address\":\"1 Lake St\","
                       "\"lat\":47.3769,\"lon\":8.5417}";
    check(place.port, "POST", "/places", NULL, body, 401, "unauthorized");
    check(place.port, "POST", "/places",
          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", body, 401,
          "unauthorized");
    out = expect(place.port, "POST", "/places", token3, body, 201, NULL);
    long long id = int_of(out, "id");
    assert_string_equal(json_string_value(json_object_get(out, "name")), "Café Zürich");
    assert_int_equal(int_of(out, "created_by"), 3);
    json_decref(out);
    snprintf(path, sizeof(path), "/places/%lld", id);
    out = expect(place.port, "GET", path, NULL, NULL, 200, NULL);
    assert_float_equal(json_real_value(json_object_get(out, "lat")), 47.3769, 1e-9);
    json_decref(out);

    check(place.port, "POST", "/places", token3,
          "{\"name\":\"X\",\"category\":\"cafe\","
          "\"lat\":91,\"lon\":0}",
          400, "invalid_field");
    check(place.port, "POST", "/places", token3,
          "{\"name\":\"X\",\"category\":\"cafe\","
          "\"lat\":0,\"lon\":-180.5}",
          400, "invalid_field");
    check(place.port, "POST", "/places", token3,
          "{\"name\":\"X\",\"category\":\"Caf\xc3\xa9\","
          "\"lat\":0,\"lon\":0}",
          400, "invalid_field");
    check(place.port, "POST", "/places", token3,
          "{\"name\":\"a\\u0007b\",\"category\":\"cafe\","
          "\"lat\":0,\"lon\":0}",
          400, "invalid_field");
    check(place.port, "POST", "/places", token3,
          "{\"name\":\"\",\"category\":\"cafe\","
          "\"lat\":0,\"lon\":0}",
          400, "invalid_field");
    check(place.port, "POST", "/places", token3,
          "{\"name\":\"X\",\"category\":\"cafe\","
          "\"lat\":\"0\",\"lon\":0}",
          400, "invalid_field");
    check(place.port, "POST", "/places", token3,
          "{\"name\":\"X\",\"category\":\"cafe\","
          "\"lat\":0,\"lon\":0,\"owner\":1}",
          400, "invalid_field");
    char longname[400] = "{\"name\":\"";
    memset(longname + 9, 'n', 121);
    strcpy(longname + 130, "\",\"category\":\"cafe\",\"lat\":0,\"lon\":0}");
    check(place.port, "POST", "/places", token3, longname, 400, "invalid_field");

    check(place.port, "PATCH", path, token4, "{\"name\":\"Mine now\"}", 403, "forbidden");
    check(place.port, "DELETE", path, token4, NULL, 403, "forbidden");
    out = expect(place.port, "PATCH", path, token3, "{\"name\":\"Café Zürich Nord\",\"lat\":47.4}",
                 200, NULL);
    assert_string_equal(json_string_value(json_object_get(out, "name")), "Café Zürich Nord");
    assert_float_equal(json_real_value(json_object_get(out, "lat")), 47.4, 1e-9);
    assert_string_equal(json_string_value(json_object_get(out, "category")), "cafe");
    json_decref(out);
    check(place.port, "PATCH", path, token3, "{\"lat\":-91}", 400, "invalid_field");
    check(place.port, "PATCH", "/places/999999", token3, "{\"name\":\"X\"}", 404, "not_found");
    check(place.port, "DELETE", path, token3, NULL, 204, NULL);
    check(place.port, "GET", path, NULL, NULL, 404, "not_found");
    check(place.port, "DELETE", path, token3, NULL, 404, "not_found");
    check(place.port, "GET", "/places/0", NULL, NULL, 404, "not_found");
    check(place.port, "GET", "/places/12abc", NULL, NULL, 404, "not_found");
}

static void place_search_filters_by_prefix_and_category_and_pages(void **state)
{
    json_t *a, *b;
    (void)state;
    need_db();
    a = expect(place.port, "GET", "/places?prefix=Blue%20Harbor&category=restaurant&limit=3", NULL,
               NULL, 200, NULL);
    b = expect(place.port, "GET",
               "/places?prefix=Blue%20Harbor&category=restaurant&limit=3&offset=3", NULL, NULL, 200,
               NULL);
    assert_int_equal(json_array_size(json_object_get(a, "items")), 3);
    assert_int_equal(json_array_size(json_object_get(b, "items")), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *pa = json_array_get(json_object_get(a, "items"), i);
        json_t *pb = json_array_get(json_object_get(b, "items"), i);
        assert_memory_equal(json_string_value(json_object_get(pa, "name")), "Blue Harbor", 11);
        assert_string_equal(json_string_value(json_object_get(pa, "category")), "restaurant");
        assert_true(int_of(pa, "id") != int_of(pb, "id"));
    }
    json_decref(a);
    json_decref(b);
    a = expect(place.port, "GET", "/places?prefix=Blue%25", NULL, NULL, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(a, "items")), 0); /* % is literal */
    json_decref(a);
    check(place.port, "GET", "/places?limit=0", NULL, NULL, 400, "invalid_field");
    check(place.port, "GET", "/places?limit=101", NULL, NULL, 400, "invalid_field");
    check(place.port, "GET", "/places?offset=-1", NULL, NULL, 400, "invalid_field");
    check(place.port, "GET", "/places?limit=ten", NULL, NULL, 400, "invalid_field");
    check(place.port, "GET", "/places?category=Bar", NULL, NULL, 400, "invalid_field");
    check(place.port, "GET", "/places?prefix=%FF", NULL, NULL, 400, "invalid_field");
}

static void review_posts_list_and_rating_stay_exact(void **state)
{
    json_t *out;
    (void)state;
    need_db();
    out = expect(review.port, "GET", "/places/15000/rating", NULL, NULL, 200, NULL);
    assert_int_equal(int_of(out, "count"), 0);
    assert_true(json_is_null(json_object_get(out, "average")));
    json_decref(out);
    int stars[] = {5, 4, 4};
    for (int i = 0; i < 3; i++) {
        char body[96];
        snprintf(body, sizeof(body), "{\"stars\":%d,\"text\":\"visit %d\\nnice\"}", stars[i], i);
        out = expect(review.port, "POST", "/places/15000/reviews", i ? token4 : token3, body, 201,
                     NULL);
        assert_int_equal(int_of(out, "stars"), stars[i]);
        assert_int_equal(int_of(out, "place_id"), 15000);
        json_decref(out);
    }
    out = expect(review.port, "GET", "/places/15000/rating", NULL, NULL, 200, NULL);
    assert_int_equal(int_of(out, "count"), 3);
    assert_float_equal(json_real_value(json_object_get(out, "average")), 4.33, 1e-9);
    json_decref(out);
    out = expect(review.port, "GET", "/places/15000/reviews?limit=2", NULL, NULL, 200, NULL);
    json_t *items = json_object_get(out, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "text")),
                        "visit 2\nnice"); /* newest first */
    json_decref(out);
    out =
        expect(review.port, "GET", "/places/15000/reviews?limit=2&offset=2", NULL, NULL, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);

    check(review.port, "POST", "/places/15000/reviews", NULL, "{\"stars\":5}", 401, "unauthorized");
    check(review.port, "POST", "/places/15000/reviews", token3, "{\"stars\":6}", 400,
          "invalid_field");
    check(review.port, "POST", "/places/15000/reviews", token3, "{\"stars\":0}", 400,
          "invalid_field");
    check(review.port, "POST", "/places/15000/reviews", token3, "{\"stars\":\"5\"}", 400,
          "invalid_field");
    check(review.port, "POST", "/places/15000/reviews", token3, "{\"stars\":4.5}", 400,
          "invalid_field");
    check(review.port, "POST", "/places/15000/reviews", token3, "{\"text\":\"no stars\"}", 400,
          "invalid_field");
    check(review.port, "POST", "/places/999999/reviews", token3, "{\"stars\":3}", 404,
          "place_not_found");
    check(review.port, "GET", "/places/abc/reviews", NULL, NULL, 404, "place_not_found");
    check(review.port, "GET", "/places/15000/reviews?limit=1000", NULL, NULL, 400, "invalid_field");
    check(review.port, "PUT", "/places/15000/reviews", token3, "{}", 405, "method_not_allowed");
}

static void bookmarks_are_added_listed_and_removed_per_user(void **state)
{
    json_t *out;
    (void)state;
    need_db();
    check(bookmark.port, "PUT", "/bookmarks/42", NULL, NULL, 401, "unauthorized");
    out = expect(bookmark.port, "PUT", "/bookmarks/42", token3, NULL, 201, NULL);
    assert_true(json_is_true(json_object_get(out, "created")));
    json_decref(out);
    check(bookmark.port, "PUT", "/bookmarks/42", token3, NULL, 200, NULL);
    check(bookmark.port, "PUT", "/bookmarks/43", token3, NULL, 201, NULL);
    check(bookmark.port, "PUT", "/bookmarks/999999", token3, NULL, 404, "place_not_found");
    check(bookmark.port, "PUT", "/bookmarks/x", token3, NULL, 404, "place_not_found");
    out = expect(bookmark.port, "GET", "/bookmarks", token3, NULL, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 2);
    json_decref(out);
    out = expect(bookmark.port, "GET", "/bookmarks?limit=1&offset=1", token3, NULL, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);
    out = expect(bookmark.port, "GET", "/bookmarks", token4, NULL, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 0); /* per user */
    json_decref(out);
    check(bookmark.port, "GET", "/bookmarks", NULL, NULL, 401, "unauthorized");
    check(bookmark.port, "GET", "/bookmarks?limit=-5", token3, NULL, 400, "invalid_field");
    check(bookmark.port, "DELETE", "/bookmarks/42", token3, NULL, 204, NULL);
    check(bookmark.port, "DELETE", "/bookmarks/42", token3, NULL, 404, "not_found");
}

static double haversine(double lat1, double lon1, double lat2, double lon2)
{
    double r = M_PI / 180, a = pow(sin((lat2 - lat1) * r / 2), 2) +
                               cos(lat1 * r) * cos(lat2 * r) * pow(sin((lon2 - lon1) * r / 2), 2);
    return 2 * 6371.0088 * asin(sqrt(a));
}

/* Waits up to `seconds` for GET path on nearspot to list exactly the names in `names` (comma
 * separated, "" for none), nearest first. */
static bool nearby_names(const char *path, const char *names, double seconds)
{
    char got[256] = "";
    for (int i = 0; i < (int)(seconds * 10); i++) {
        json_t *out = NULL;
        got[0] = '\0';
        if (fx_http(nearspot.port, "GET", path, NULL, NULL, &out, NULL) == 200) {
            json_t *items = json_object_get(out, "items");
            for (size_t k = 0; k < json_array_size(items); k++) {
                const char *n =
                    json_string_value(json_object_get(json_array_get(items, k), "name"));
                size_t len = strlen(got);
                snprintf(got + len, sizeof(got) - len, "%s%s", k ? "," : "", n ? n : "?");
            }
        }
        json_decref(out);
        if (strcmp(got, names) == 0)
            return true;
        usleep(100 * 1000);
    }
    fprintf(stderr, "GET %s: names \"%s\" after %.0f s, want \"%s\"\n", path, got, seconds, names);
    return false;
}

static void nearby_returns_places_within_the_radius_nearest_first(void **state)
{
    json_t *out;
    (void)state;
    need_db();
    out = expect(nearspot.port, "GET", "/nearby?lat=48.8566&lon=2.3522&radius_km=5&limit=100", NULL,
                 NULL, 200, NULL);
    json_t *items = json_object_get(out, "items");
    assert_true(json_array_size(items) >= 20);
    double last = 0;
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *p = json_array_get(items, i);
        double d = json_real_value(json_object_get(p, "distance_km"));
        double exact = haversine(48.8566, 2.3522, json_real_value(json_object_get(p, "lat")),
                                 json_real_value(json_object_get(p, "lon")));
        assert_true(d >= last && d <= 5.0);
        assert_float_equal(d, exact, 0.001);
        last = d;
    }
    json_decref(out);
    out = expect(nearspot.port, "GET", "/nearby?lat=48.8566&lon=2.3522&category=museum&limit=5",
                 NULL, NULL, 200, NULL);
    items = json_object_get(out, "items");
    assert_int_equal(json_array_size(items), 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(items, i), "category")), "museum");
    json_decref(out);
    /* nearspot answers from its in-memory index, refreshed every second: a place added, renamed
     * and deleted through place is seen within 3 s each */
    out = expect(place.port, "POST", "/places", token3,
                 "{\"name\":\"Pole Station\",\"category\":\"viewpoint\",\"lat\":-89.9,"
                 "\"lon\":179.9}",
                 201, NULL);
    char path[64];
    snprintf(path, sizeof(path), "/places/%lld", int_of(out, "id"));
    json_decref(out);
    const char *near_pole = "/nearby?lat=-89.9&lon=-179.95&radius_km=1";
    assert_true(nearby_names(near_pole, "Pole Station", 3));
    check(place.port, "PATCH", path, token3, "{\"name\":\"Pole Station II\"}", 200, NULL);
    assert_true(nearby_names(near_pole, "Pole Station II", 3));
    check(place.port, "DELETE", path, token3, NULL, 204, NULL);
    assert_true(nearby_names(near_pole, "", 3));
    /* the index's gauges: the seed plus what this file added and kept */
    char *text = NULL;
    assert_int_equal(fx_http_text(nearspot.port, "/metrics", &text), 200);
    assert_non_null(strstr(text, "nearspot_index_places "));
    assert_non_null(strstr(text, "nearspot_index_refresh_errors_total 0\n"));
    free(text);
    check(nearspot.port, "GET", "/nearby?lon=2", NULL, NULL, 400, "invalid_field");
    check(nearspot.port, "GET", "/nearby?lat=48&lon=2&radius_km=0", NULL, NULL, 400,
          "invalid_field");
    check(nearspot.port, "GET", "/nearby?lat=48&lon=2&radius_km=51", NULL, NULL, 400,
          "invalid_field");
    check(nearspot.port, "GET", "/nearby?lat=north&lon=2", NULL, NULL, 400, "invalid_field");
    check(nearspot.port, "GET", "/nearby?lat=nan&lon=2", NULL, NULL, 400, "invalid_field");
    check(nearspot.port, "GET", "/nearby?lat=48&lon=2&limit=0", NULL, NULL, 400, "invalid_field");
}

static void bad_bodies_get_a_clear_4xx(void **state)
{
    (void)state;
    need_db();
    char *big = malloc(70 * 1024);
    memset(big, ' ', 70 * 1024);
    big[0] = '{';
    big[70 * 1024 - 1] = '}';
    assert_int_equal(fx_http_raw(user.port, "POST", "/users", "application/json", big, 70 * 1024),
                     413);
    free(big);
    check(user.port, "POST", "/users", NULL, "{\"email\":", 400, "invalid_json");
    check(user.port, "POST", "/users", NULL, "[1,2]", 400, "invalid_json");
    check(user.port, "POST", "/users", NULL, "{\"a\":1,\"a\":2}", 400, "invalid_json");
    check(user.port, "POST", "/sessions", NULL,
          "{\"email\":\"a\\u0000b@c.de\",\"password\":"
          "\"x\"}",
          400, "invalid_json");
    assert_int_equal(
        fx_http_raw(user.port, "POST", "/users", "application/json", "{\"name\":\"\xc3\x28\"}", 14),
        400);
    assert_int_equal(fx_http_raw(user.port, "POST", "/users", "text/plain", "{}", 2), 415);
    assert_int_equal(fx_http(user.port, "POST", "/users", NULL, NULL, NULL, NULL), 400);
}

static void metrics_count_requests_by_route_and_code(void **state)
{
    char *text = NULL;
    (void)state;
    need_db();
    check(place.port, "GET", "/places/1", NULL, NULL, 200, NULL);
    assert_int_equal(fx_http_text(place.port, "/metrics", &text), 200);
    assert_non_null(strstr(text, "http_requests_total{route=\"/places/{}\",method=\"GET\","
                                 "code=\"200\"} "));
    assert_non_null(strstr(text, "http_requests_total{route=\"/places\",method=\"POST\","
                                 "code=\"401\"} "));
    assert_non_null(strstr(text, "http_request_duration_seconds_bucket{route=\"/places/{}\","
                                 "method=\"GET\",le=\"+Inf\"} "));
    assert_non_null(strstr(text, "db_pool_connections{state=\"in_use\"} "));
    assert_non_null(strstr(text, "db_query_errors_total "));
    assert_non_null(strstr(text, "peer_requests_total{peer=\"user\",outcome=\"ok\"} "));
    free(text);
    /* after every request above, good and bad, no service holds a database connection */
    struct fx_svc *all[] = {&user, &place, &review, &bookmark, &nearspot};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(fx_http_text(all[i]->port, "/metrics", &text), 200);
        assert_non_null(strstr(text, "db_pool_connections{state=\"in_use\"} 0\n"));
        assert_non_null(strstr(text, "db_pool_waiting 0\n"));
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(health_ready_and_metrics_answer_on_every_service),
        cmocka_unit_test(the_seed_is_deterministic_and_migrations_run_once),
        cmocka_unit_test(the_health_check_flag_exits_0_only_when_the_service_answers),
        cmocka_unit_test(user_signs_up_logs_in_and_edits_only_their_profile),
        cmocka_unit_test(place_is_created_read_changed_and_deleted_by_its_owner),
        cmocka_unit_test(place_search_filters_by_prefix_and_category_and_pages),
        cmocka_unit_test(review_posts_list_and_rating_stay_exact),
        cmocka_unit_test(bookmarks_are_added_listed_and_removed_per_user),
        cmocka_unit_test(nearby_returns_places_within_the_radius_nearest_first),
        cmocka_unit_test(bad_bodies_get_a_clear_4xx),
        cmocka_unit_test(metrics_count_requests_by_route_and_code),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    return rc == 0 && skipped ? 77 : rc;
}
