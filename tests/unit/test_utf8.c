/* test_utf8.c: cutting text on character boundaries (JSON replies and the state file need valid
 * UTF-8; fuzzing found labels cut in the middle of a character). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "utf8.h"

static void copy_never_splits_a_character(void **state)
{
    char buf[4];
    (void)state;
    assert_int_equal(utf8_copy(buf, sizeof(buf), "ab\xc3\xa9"), 2); /* "abé" needs 5 bytes */
    assert_string_equal(buf, "ab");
    assert_int_equal(utf8_copy(buf, sizeof(buf), "a\xc3\xa9"), 3);
    assert_string_equal(buf, "a\xc3\xa9");
    assert_int_equal(utf8_copy(buf, sizeof(buf), NULL), 0);
    assert_string_equal(buf, "");
    assert_int_equal(utf8_copy(buf, 1, "abc"), 0);
    assert_string_equal(buf, "");
}

static void trim_drops_a_cut_tail(void **state)
{
    char s[] = "caf\xc3\xa9\xe2\x82"; /* "café" + the first two bytes of "€" */
    (void)state;
    assert_string_equal(utf8_trim(s), "caf\xc3\xa9");
}

static void invalid_sequences_end_the_valid_prefix(void **state)
{
    static const struct {
        const char *s;
        size_t valid;
    } t[] = {
        {"plain", 5},
        {"\xe2\x82\xac", 3},       /* € */
        {"\xf0\x9f\x98\x80x", 5},  /* emoji then x */
        {"a\xc0\xafz", 1},         /* overlong '/' */
        {"a\xed\xa0\x80z", 1},     /* surrogate */
        {"a\xf4\x90\x80\x80z", 1}, /* past U+10FFFF */
        {"a\xffz", 1},
        {"a\x80z", 1}, /* stray continuation byte */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        assert_int_equal(utf8_valid_prefix(t[i].s, strlen(t[i].s)), t[i].valid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(copy_never_splits_a_character),
        cmocka_unit_test(trim_drops_a_cut_tail),
        cmocka_unit_test(invalid_sequences_end_the_valid_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
