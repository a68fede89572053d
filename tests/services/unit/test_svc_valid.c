/* test_svc_valid.c: field validation of request bodies, query strings and path ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "svc_valid.h"

static json_t *obj(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

static void assert_error(struct svc_reply *rep, int status, const char *code, const char *msg)
{
    assert_int_equal(rep->status, status);
    assert_string_equal(json_string_value(json_object_get(rep->json, "error")), code);
    if (msg)
        assert_string_equal(json_string_value(json_object_get(rep->json, "message")), msg);
    svc_reply_free(rep);
}

static void utf8_counts_characters_and_refuses_malformed_sequences(void **state)
{
    (void)state;
    assert_int_equal(svc_utf8_chars("abc", 3), 3);
    assert_int_equal(svc_utf8_chars("Z\xc3\xbcrich", 7), 6);
    assert_int_equal(svc_utf8_chars("\xf0\x9f\x8d\x95", 4), 1);  /* U+1F355 */
    assert_int_equal(svc_utf8_chars("\xc0\xaf", 2), -1);         /* overlong */
    assert_int_equal(svc_utf8_chars("\xe0\x80\xaf", 3), -1);     /* overlong */
    assert_int_equal(svc_utf8_chars("\xed\xa0\x80", 3), -1);     /* surrogate */
    assert_int_equal(svc_utf8_chars("\xf4\x90\x80\x80", 4), -1); /* > U+10FFFF */
    assert_int_equal(svc_utf8_chars("\xc3", 1), -1);             /* truncated */
    assert_int_equal(svc_utf8_chars("a\0b", 3), -1);             /* NUL */
    assert_int_equal(svc_utf8_chars("\xff", 1), -1);
}

static void text_fields_check_type_length_and_control_characters(void **state)
{
    struct svc_reply rep = {0};
    const char *out = NULL;
    json_t *j = obj("{\"name\":\"Caf\\u00e9\",\"n\":5,\"bell\":\"a\\u0007\",\"nl\":\"a\\nb\"}");
    (void)state;
    assert_true(svc_valid_text(j, "name", true, 1, 5, SVC_TEXT_LINE, &out, &rep));
    assert_string_equal(out, "Caf\xc3\xa9");
    assert_false(svc_valid_text(j, "name", true, 1, 3, SVC_TEXT_LINE, &out, &rep));
    assert_error(&rep, 400, "invalid_field", "name: must be 1 to 3 characters long");
    assert_false(svc_valid_text(j, "n", true, 1, 3, SVC_TEXT_LINE, &out, &rep));
    assert_error(&rep, 400, "invalid_field", "n: must be a string");
    assert_false(svc_valid_text(j, "bell", true, 0, 9, SVC_TEXT_MULTILINE, &out, &rep));
    assert_error(&rep, 400, "invalid_field", "bell: must not hold control characters");
    assert_false(svc_valid_text(j, "nl", true, 0, 9, SVC_TEXT_LINE, &out, &rep));
    assert_error(&rep, 400, "invalid_field", NULL);
    assert_true(svc_valid_text(j, "nl", true, 0, 9, SVC_TEXT_MULTILINE, &out, &rep));
    assert_false(svc_valid_text(j, "missing", true, 0, 9, SVC_TEXT_LINE, &out, &rep));
    assert_error(&rep, 400, "invalid_field", "missing: is required");
    out = "kept";
    assert_true(svc_valid_text(j, "missing", false, 0, 9, SVC_TEXT_LINE, &out, &rep));
    assert_string_equal(out, "kept");
    json_decref(j);
}

static void numbers_check_type_and_range(void **state)
{
    struct svc_reply rep = {0};
    long long i = 0;
    double d = 0;
    json_t *j = obj("{\"stars\":5,\"half\":4.5,\"text\":\"5\",\"lat\":-90,\"big\":1e300}");
    (void)state;
    assert_true(svc_valid_int(j, "stars", true, 1, 5, &i, &rep));
    assert_int_equal(i, 5);
    assert_false(svc_valid_int(j, "stars", true, 1, 4, &i, &rep));
    assert_error(&rep, 400, "invalid_field", "stars: must be between 1 and 4");
    assert_false(svc_valid_int(j, "half", true, 1, 5, &i, &rep));
    assert_error(&rep, 400, "invalid_field", "half: must be an integer");
    assert_false(svc_valid_int(j, "text", true, 1, 5, &i, &rep));
    assert_error(&rep, 400, "invalid_field", "text: must be an integer");
    assert_true(svc_valid_number(j, "lat", true, -90, 90, &d, &rep));
    assert_true(d == -90);
    assert_true(svc_valid_number(j, "stars", true, -90, 90, &d, &rep)); /* integers are numbers */
    assert_false(svc_valid_number(j, "big", true, -90, 90, &d, &rep));
    assert_error(&rep, 400, "invalid_field", "big: must be between -90 and 90");
    assert_false(svc_valid_number(j, "text", true, -90, 90, &d, &rep));
    assert_error(&rep, 400, "invalid_field", "text: must be a number");
    json_decref(j);
}

static void unknown_fields_are_refused(void **state)
{
    static const char *const keys[] = {"a", "b", NULL};
    struct svc_reply rep = {0};
    json_t *j = obj("{\"a\":1,\"c\":2}");
    (void)state;
    assert_false(svc_valid_keys(j, keys, &rep));
    assert_error(&rep, 400, "invalid_field", "c: is not a known field");
    json_decref(j);
}

static void ids_and_numbers_parse_strictly(void **state)
{
    long long v;
    double d;
    (void)state;
    assert_true(svc_parse_id("42", &v));
    assert_int_equal(v, 42);
    assert_false(svc_parse_id("0", &v));
    assert_false(svc_parse_id("-1", &v));
    assert_false(svc_parse_id("+1", &v));
    assert_false(svc_parse_id("007", &v));
    assert_false(svc_parse_id("12abc", &v));
    assert_false(svc_parse_id("", &v));
    assert_false(svc_parse_id("99999999999999999999", &v));
    assert_false(svc_parse_id("9007199254740993", &v)); /* 2^53 + 1 */
    assert_true(svc_parse_double("48.8566", &d));
    assert_true(svc_parse_double("-1e-3", &d));
    assert_false(svc_parse_double("nan", &d));
    assert_false(svc_parse_double("inf", &d));
    assert_false(svc_parse_double("0x10", &d));
    assert_false(svc_parse_double(" 1", &d));
    assert_false(svc_parse_double("1e999", &d));
    assert_false(svc_parse_double("", &d));
}

static void query_parameters_use_defaults_and_bounds(void **state)
{
    struct svc_req req = {.nquery = 2, .query_keys = {"limit", "lat"}, .query_vals = {"100", "91"}};
    struct svc_reply rep = {0};
    long long limit, offset;
    double lat;
    (void)state;
    assert_true(svc_query_page(&req, &limit, &offset, &rep));
    assert_int_equal(limit, 100);
    assert_int_equal(offset, 0);
    assert_false(svc_query_double(&req, "lat", true, 0, -90, 90, &lat, &rep));
    assert_error(&rep, 400, "invalid_field", "lat: must be a number between -90 and 90");
    assert_false(svc_query_double(&req, "lon", true, 0, -180, 180, &lat, &rep));
    assert_error(&rep, 400, "invalid_field", "lon: is required");
    req.query_vals[0] = "101";
    assert_false(svc_query_page(&req, &limit, &offset, &rep));
    assert_error(&rep, 400, "invalid_field", "limit: must be an integer between 1 and 100");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_counts_characters_and_refuses_malformed_sequences),
        cmocka_unit_test(text_fields_check_type_length_and_control_characters),
        cmocka_unit_test(numbers_check_type_and_range),
        cmocka_unit_test(unknown_fields_are_refused),
        cmocka_unit_test(ids_and_numbers_parse_strictly),
        cmocka_unit_test(query_parameters_use_defaults_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
