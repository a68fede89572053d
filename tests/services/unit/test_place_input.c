/* test_place_input.c: place bodies and searches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "place.h"

static bool parse(const char *text, bool partial, struct place_input *in, const char *msg)
{
    struct svc_reply rep = {0};
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    bool ok = place_input_parse(j, partial, in, &rep);
    if (!ok) {
        assert_int_equal(rep.status, 400);
        if (msg)
            assert_string_equal(json_string_value(json_object_get(rep.json, "message")), msg);
    }
    svc_reply_free(&rep);
    json_decref(j);
    return ok;
}

static void a_new_place_needs_name_category_and_position(void **state)
{
    struct place_input in;
    (void)state;
    assert_true(parse("{\"name\":\"Louvre\",\"category\":\"museum\",\"lat\":48.86,\"lon\":2.33}",
                      false, &in, NULL));
    assert_null(in.address);
    assert_false(parse("{\"name\":\"Louvre\",\"category\":\"museum\",\"lat\":48.86}", false, &in,
                       "lon: is required"));
    assert_false(parse("{\"name\":\"L\",\"category\":\"Museum\",\"lat\":1,\"lon\":2}", false, &in,
                       "category: only a-z and _ are allowed"));
    assert_false(parse("{\"name\":\"L\",\"category\":\"m\",\"lat\":90.0001,\"lon\":2}", false, &in,
                       "lat: must be between -90 and 90"));
    assert_false(parse("{\"name\":\"L\",\"category\":\"m\",\"lat\":1,\"lon\":2,\"address\":7}",
                       false, &in, "address: must be a string"));
}

static void a_change_needs_at_least_one_known_field(void **state)
{
    struct place_input in;
    (void)state;
    assert_true(parse("{\"lon\":-180}", true, &in, NULL));
    assert_true(in.has_lon && !in.has_lat && in.name == NULL);
    assert_false(parse("{}", true, &in, "give at least one field to change"));
    assert_false(parse("{\"id\":5}", true, &in, "id: is not a known field"));
}

static void search_escapes_like_wildcards_and_checks_bounds(void **state)
{
    struct svc_req req = {
        .nquery = 2, .query_keys = {"prefix", "category"}, .query_vals = {"50%_off\\", ""}};
    struct svc_reply rep = {0};
    struct place_query q;
    (void)state;
    assert_true(place_query_parse(&req, &q, &rep));
    assert_string_equal(q.like, "50\\%\\_off\\\\%");
    assert_null(q.category);
    assert_int_equal(q.limit, 20);
    req.query_vals[0] = "\xff";
    assert_false(place_query_parse(&req, &q, &rep));
    assert_int_equal(rep.status, 400);
    svc_reply_free(&rep);
    char longp[200];
    memset(longp, 'a', 121);
    longp[121] = '\0';
    req.query_vals[0] = longp;
    assert_false(place_query_parse(&req, &q, &rep));
    svc_reply_free(&rep);
    /* the longest prefix of 4-byte characters, all escaped, fits */
    char wide[600] = "";
    for (int i = 0; i < 120; i++)
        strcat(wide, "\xf0\x9f\x8d\x95");
    req.query_vals[0] = wide;
    assert_true(place_query_parse(&req, &q, &rep));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_new_place_needs_name_category_and_position),
        cmocka_unit_test(a_change_needs_at_least_one_known_field),
        cmocka_unit_test(search_escapes_like_wildcards_and_checks_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
