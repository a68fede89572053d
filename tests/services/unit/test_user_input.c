/* test_user_input.c: account fields, yescrypt passwords and session tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "user.h"

static void emails_are_checked_and_lower_cased(void **state)
{
    struct svc_reply rep = {0};
    struct user_input in;
    (void)state;
    assert_true(user_email_valid("ann@example.org"));
    const char *bad[] = {"ann",          "@example.org",     "ann@",
                         "ann@example",  "ann@@example.org", "a b@example.org",
                         "ann@example.", "ann@.org",         "a\"b@c.de"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(user_email_valid(bad[i]));
    json_t *j = json_loads("{\"email\":\"Ann@Example.ORG\",\"password\":\"12345678\","
                           "\"name\":\"Ann\"}",
                           0, NULL);
    assert_true(user_input_parse(j, false, &in, &rep));
    assert_string_equal(in.email, "ann@example.org");
    json_decref(j);
}

static void passwords_have_bounds_and_profile_changes_need_a_field(void **state)
{
    struct svc_reply rep = {0};
    struct user_input in;
    (void)state;
    json_t *j =
        json_loads("{\"email\":\"a@b.cd\",\"password\":\"1234567\",\"name\":\"A\"}", 0, NULL);
    assert_false(user_input_parse(j, false, &in, &rep));
    assert_string_equal(json_string_value(json_object_get(rep.json, "message")),
                        "password: must be 8 to 128 characters long");
    svc_reply_free(&rep);
    json_decref(j);
    j = json_loads("{}", 0, NULL);
    assert_false(user_input_parse(j, true, &in, &rep));
    svc_reply_free(&rep);
    json_decref(j);
    j = json_loads("{\"email\":\"a@b.cd\"}", 0, NULL);
    assert_false(user_input_parse(j, true, &in, &rep)); /* email cannot be changed */
    svc_reply_free(&rep);
    json_decref(j);
}

static void yescrypt_hashes_verify_and_the_demo_hash_matches_the_documented_password(void **state)
{
    char hash[256];
    (void)state;
    assert_true(user_password_hash("correct horse", hash, sizeof(hash)));
    assert_memory_equal(hash, "$y$", 3);
    assert_null(strstr(hash, "correct horse"));
    assert_true(user_password_check("correct horse", hash));
    assert_false(user_password_check("correct horsE", hash));
    assert_true(user_password_check(USER_DEMO_PASSWORD, USER_DEMO_HASH));
    assert_false(user_password_check("", USER_DEMO_HASH));
    assert_false(user_password_check("x", "not a hash"));
}

static void tokens_are_random_hex_and_stored_as_sha256(void **state)
{
    char a[USER_TOKEN_HEX + 1], b[USER_TOKEN_HEX + 1], ts[32];
    unsigned char h[32];
    static const unsigned char abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                          0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                          0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                          0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    (void)state;
    assert_true(user_token_new(a));
    assert_true(user_token_new(b));
    assert_int_equal(strlen(a), 64);
    assert_string_not_equal(a, b);
    assert_int_equal(strspn(a, "0123456789abcdef"), 64);
    user_token_hash("abc", h);
    assert_memory_equal(h, abc, 32);
    user_time_format(0, ts);
    assert_string_equal(ts, "1970-01-01T00:00:00Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(emails_are_checked_and_lower_cased),
        cmocka_unit_test(passwords_have_bounds_and_profile_changes_need_a_field),
        cmocka_unit_test(yescrypt_hashes_verify_and_the_demo_hash_matches_the_documented_password),
        cmocka_unit_test(tokens_are_random_hex_and_stored_as_sha256),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
