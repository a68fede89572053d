/* test_log.c: logfmt lines, and that no outside value can add a field, a line or an escape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static char *buf;
static size_t len;
static FILE *mem;

static int setup(void **state)
{
    (void)state;
    mem = open_memstream(&buf, &len);
    log_set_stream(mem);
    log_set_level(LOG_LEVEL_DEBUG);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_set_stream(NULL);
    fclose(mem);
    free(buf);
    buf = NULL;
    len = 0;
    return 0;
}

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void newline_in_an_alertname_stays_one_line_without_a_forged_level(void **state)
{
    const char *alertname = "Evil\nts=2026-01-01T00:00:00.000Z level=error msg=\"forged\"";
    (void)state;
    log_info("alert ignored", "container=web alertname=%s reason=%s", alertname,
             "unknown alertname \"Evil\nlevel=error\"");
    fflush(mem);
    assert_int_equal(lines(buf), 1);
    /* the only level a logfmt reader sees is info: the forged one is inside a quoted value */
    assert_ptr_equal(strstr(buf, " level="), strstr(buf, " level=info "));
    assert_non_null(strstr(buf,
                           " level=info msg=\"alert ignored\" container=web alertname=\"Evil\\n"
                           "ts=2026-01-01T00:00:00.000Z level=error msg=\\\"forged\\\"\""));
    assert_non_null(strstr(buf, " reason=\"unknown alertname \\\"Evil\\nlevel=error\\\"\"\n"));
}

static void a_space_or_equals_sign_cannot_add_a_field(void **state)
{
    (void)state;
    log_warn("x", "name=%s n=%d", "web level=error", 3);
    fflush(mem);
    assert_non_null(strstr(buf, "msg=x name=\"web level=error\" n=3\n"));
}

static void escape_sequences_and_c1_controls_never_reach_a_terminal(void **state)
{
    (void)state;
    /* ESC [2J clears a terminal; U+009B is the 8-bit CSI; a lone 0x9b byte is not UTF-8 */
    log_info("x", "label=%s error=%s",
             "\x1b[2J\xc2\x9b"
             "31m",
             "bad\x9b byte \xc3\xa9");
    fflush(mem);
    assert_null(strchr(buf, 0x1b));
    assert_null(strstr(buf, "\xc2\x9b"));
    assert_null(strchr(buf, (char)0x9b));
    assert_non_null(
        strstr(buf, "label=\"\\x1b[2J\\xc2\\x9b31m\" error=\"bad\\x9b byte \xc3\xa9\"\n"));
}

static void plain_values_stay_bare_and_quoted_values_are_kept(void **state)
{
    char q[64];
    (void)state;
    log_info("x", "container=%s call=%s ms=%" PRId64 " ratio=%.1f pct=%%",
             log_quote(q, sizeof(q), "my app"), "inspect", (int64_t)42, 0.5);
    fflush(mem);
    assert_non_null(strstr(buf, "msg=x container=\"my app\" call=inspect ms=42 ratio=0.5 pct=%\n"));
}

static void a_fragment_after_a_value_is_not_quoted_but_control_bytes_are_escaped(void **state)
{
    (void)state;
    log_info("request", "remote=%s%s", "127.0.0.1", " aborted=true\r");
    fflush(mem);
    assert_non_null(strstr(buf, "remote=127.0.0.1 aborted=true\\x0d\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            newline_in_an_alertname_stays_one_line_without_a_forged_level, setup, teardown),
        cmocka_unit_test_setup_teardown(a_space_or_equals_sign_cannot_add_a_field, setup, teardown),
        cmocka_unit_test_setup_teardown(escape_sequences_and_c1_controls_never_reach_a_terminal,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(plain_values_stay_bare_and_quoted_values_are_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            a_fragment_after_a_value_is_not_quoted_but_control_bytes_are_escaped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
