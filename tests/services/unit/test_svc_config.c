/* test_svc_config.c: settings from the environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "svc_config.h"

static void clear(void)
{
    const char *keys[] = {"SVC_LISTEN",       "DB_HOST",  "DB_PORT",  "DB_USER",
                          "DB_PASSWORD_FILE", "DB_NAME",  "DB_POOL",  "USER_URL",
                          "PLACE_URL",        "PLACE_DB", "SVC_SEED", "LOG_LEVEL"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        unsetenv(keys[i]);
}

static void defaults_follow_the_contract(void **state)
{
    struct svc_config c;
    struct svc_config_err err = {{0}};
    (void)state;
    clear();
    assert_true(svc_config_load(&c, "review", &err));
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 8000);
    assert_string_equal(c.db_host, "db-mysql");
    assert_int_equal(c.db_port, 3306);
    assert_string_equal(c.db_user, "svc_review");
    assert_string_equal(c.db_name, "trip_review");
    assert_int_equal(c.db_pool, 8);
    assert_string_equal(c.user_url, "http://user:8000");
    assert_string_equal(c.place_url, "http://place:8000");
    assert_string_equal(c.db_password, "");
}

static void the_password_comes_from_a_file_and_bad_values_are_named(void **state)
{
    struct svc_config c;
    struct svc_config_err err = {{0}};
    char path[] = "/tmp/svc-config-test.XXXXXX";
    (void)state;
    clear();
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\nignored\n", 15), 15);
    close(fd);
    setenv("DB_PASSWORD_FILE", path, 1);
    assert_true(svc_config_load(&c, "user", &err));
    assert_string_equal(c.db_password, "s3cret");
    unlink(path);
    assert_false(svc_config_load(&c, "user", &err));
    assert_non_null(strstr(err.msg, "DB_PASSWORD_FILE"));
    clear();
    setenv("DB_POOL", "0", 1);
    assert_false(svc_config_load(&c, "user", &err));
    assert_string_equal(err.msg, "DB_POOL: expected an integer in 1..64");
    clear();
    setenv("PLACE_DB", "trip_place`; DROP", 1);
    assert_false(svc_config_load(&c, "nearspot", &err));
    assert_non_null(strstr(err.msg, "PLACE_DB"));
    clear();
    setenv("SVC_LISTEN", "8000", 1);
    assert_false(svc_config_load(&c, "user", &err));
}

static void listen_addresses_parse_with_ipv6_brackets(void **state)
{
    char host[64];
    int port;
    (void)state;
    assert_true(svc_config_parse_listen("127.0.0.1:18080", host, sizeof(host), &port));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 18080);
    assert_true(svc_config_parse_listen("[::]:8000", host, sizeof(host), &port));
    assert_string_equal(host, "::");
    assert_false(svc_config_parse_listen(":8000", host, sizeof(host), &port));
    assert_false(svc_config_parse_listen("a:0", host, sizeof(host), &port));
    assert_false(svc_config_parse_listen("a:65536", host, sizeof(host), &port));
    assert_false(svc_config_parse_listen("a:", host, sizeof(host), &port));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_follow_the_contract),
        cmocka_unit_test(the_password_comes_from_a_file_and_bad_values_are_named),
        cmocka_unit_test(listen_addresses_parse_with_ipv6_brackets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
