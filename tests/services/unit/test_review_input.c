/* test_review_input.c: review bodies and the rating arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "review.h"

static bool parse(const char *text, struct review_input *in)
{
    struct svc_reply rep = {0};
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    bool ok = review_input_parse(j, in, &rep);
    if (!ok)
        assert_int_equal(rep.status, 400);
    svc_reply_free(&rep);
    json_decref(j);
    return ok;
}

static void stars_are_an_integer_from_1_to_5_and_text_is_optional(void **state)
{
    struct review_input in;
    (void)state;
    assert_true(parse("{\"stars\":1}", &in));
    assert_string_equal(in.text, "");
    assert_true(parse("{\"stars\":5,\"text\":\"two\\nlines\\tand a tab\"}", &in));
    assert_int_equal(in.stars, 5);
    const char *bad[] = {"{\"stars\":0}",
                         "{\"stars\":6}",
                         "{\"stars\":4.5}",
                         "{\"stars\":\"4\"}",
                         "{\"stars\":null}",
                         "{\"text\":\"x\"}",
                         "{\"stars\":3,\"text\":3}",
                         "{\"stars\":3,\"user_id\":1}",
                         "{\"stars\":3,\"text\":\"\\u001b[31m\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(parse(bad[i], &in));
}

static void text_is_bounded_in_characters(void **state)
{
    struct review_input in;
    char *body = malloc(REVIEW_TEXT_MAX * 2 + 64);
    (void)state;
    strcpy(body, "{\"stars\":3,\"text\":\"");
    for (int i = 0; i < REVIEW_TEXT_MAX; i++)
        strcat(body, "\xc3\xa9"); /* 2 bytes, 1 character */
    strcat(body, "\"}");
    assert_true(parse(body, &in));
    body[strlen(body) - 2] = '\0';
    strcat(body, "x\"}");
    assert_false(parse(body, &in));
    free(body);
}

static void the_average_is_rounded_to_two_decimals(void **state)
{
    (void)state;
    assert_true(review_average(0, 0) == 0);
    assert_true(review_average(13, 3) == 4.33);
    assert_true(review_average(14, 3) == 4.67);
    assert_true(review_average(5, 1) == 5);
    assert_true(review_average(600000001, 200000000) == 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stars_are_an_integer_from_1_to_5_and_text_is_optional),
        cmocka_unit_test(text_is_bounded_in_characters),
        cmocka_unit_test(the_average_is_rounded_to_two_decimals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
