/* test_svc_log.c: the services' log values are quoted with the receiver's rules (common/logfmt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "svc_log.h"

static void plain_token_stays_bare(void **state)
{
    char q[64];
    (void)state;
    assert_string_equal(svc_log_quote(q, sizeof(q), "place-42"), "place-42");
}

static void newline_and_tab_are_escaped_so_a_value_stays_on_its_line(void **state)
{
    char q[64];
    (void)state;
    assert_string_equal(svc_log_quote(q, sizeof(q), "a\nb\tc \"d\""), "\"a\\nb\\tc \\\"d\\\"\"");
}

static void invalid_utf8_and_8bit_csi_are_hex_valid_utf8_is_kept(void **state)
{
    char q[64];
    (void)state;
    assert_string_equal(svc_log_quote(q, sizeof(q),
                                      "caf\xc3\xa9 \xff\xc2\x9b"
                                      "2J"),
                        "\"caf\xc3\xa9 \\xff\\xc2\\x9b2J\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_token_stays_bare),
        cmocka_unit_test(newline_and_tab_are_escaped_so_a_value_stays_on_its_line),
        cmocka_unit_test(invalid_utf8_and_8bit_csi_are_hex_valid_utf8_is_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
