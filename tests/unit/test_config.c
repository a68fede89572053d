/* test_config.c: flags, TRIP_* environment, defaults, durations and sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "policy.h"

static void durations_accept_the_documented_forms(void **state)
{
    static const struct {
        const char *in;
        int64_t ms;
    } ok[] = {{"20s", 20000},     {"5m", 300000},   {"1h", 3600000},
              {"1h30m", 5400000}, {"500ms", 500},   {"2s500ms", 2500},
              {"45", 45000},      {"1d", 86400000}, {"0s", 0}};
    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t ms = -1;
        assert_int_equal(config_duration_parse(ok[i].in, &ms), 0);
        assert_int_equal(ms, ok[i].ms);
    }
}

static void durations_reject_garbage(void **state)
{
    static const char *const bad[] = {"",
                                      "s",
                                      "5x",
                                      "-5s",
                                      "5 m",
                                      "m5",
                                      "1h-3m",
                                      "99999999999999h",
                                      "1.5h",
                                      "9223372036854775807ms",
                                      "99999999999999999999s"};
    int64_t ms;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(config_duration_parse(bad[i], &ms), -1);
    assert_int_equal(config_duration_parse(NULL, &ms), -1);
}

static void durations_format_back(void **state)
{
    char buf[32];
    (void)state;
    assert_string_equal(config_duration_format(buf, sizeof(buf), 5400000), "1h30m");
    assert_string_equal(config_duration_format(buf, sizeof(buf), 2000), "2s");
    assert_string_equal(config_duration_format(buf, sizeof(buf), 300000), "5m");
    assert_string_equal(config_duration_format(buf, sizeof(buf), 1500), "1s500ms");
    assert_string_equal(config_duration_format(buf, sizeof(buf), 0), "0s");
    assert_string_equal(config_duration_format(buf, sizeof(buf), 1000800010), "278h10ms");
}

/* Found by fuzzing: every duration the parser accepts formats to text it reads back. */
static void durations_round_trip(void **state)
{
    static const char *const in[] = {"278h10ms", "1336333s99498927d5d", "1h30m",
                                     "500ms",    "9999999999d",         "1s999ms"};
    char buf[64];
    (void)state;
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        int64_t ms, back;
        assert_int_equal(config_duration_parse(in[i], &ms), 0);
        config_duration_format(buf, sizeof(buf), ms);
        assert_int_equal(config_duration_parse(buf, &back), 0);
        assert_int_equal(back, ms);
    }
}

static void sizes_use_binary_units(void **state)
{
    int64_t b;
    (void)state;
    assert_int_equal(config_size_parse("2g", &b), 0);
    assert_int_equal(b, 2147483648LL);
    assert_int_equal(config_size_parse("512m", &b), 0);
    assert_int_equal(b, 536870912LL);
    assert_int_equal(config_size_parse("512MiB", &b), 0);
    assert_int_equal(b, 536870912LL);
    assert_int_equal(config_size_parse("1073741824", &b), 0);
    assert_int_equal(b, 1073741824LL);
    assert_int_equal(config_size_parse("64k", &b), 0);
    assert_int_equal(b, 65536);
    assert_int_equal(config_size_parse("2q", &b), -1);
    assert_int_equal(config_size_parse("", &b), -1);
    assert_int_equal(config_size_parse("-1g", &b), -1);
    assert_int_equal(config_size_parse("99999999999t", &b), -1);
}

static void cpus_parse_decimal_cpus(void **state)
{
    int64_t n = 0;
    (void)state;
    assert_int_equal(config_cpus_parse("2", &n), 0);
    assert_int_equal(n, 2000000000LL);
    assert_int_equal(config_cpus_parse("1.5", &n), 0);
    assert_int_equal(n, 1500000000LL);
    assert_int_equal(config_cpus_parse("0.000000001", &n), 0);
    assert_int_equal(n, 1);
    const char *bad[] = {"",    ".5",  "1.", "1.0000000001", "-1",
                         "1e9", "1,5", " 1", "99999999",     NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(config_cpus_parse(bad[i], &n), -1);
}

static void defaults_match_the_seed_rules(void **state)
{
    struct config c;
    char *argv[] = {"trip-receiver", NULL};
    char *envp[] = {"TRIP_TOKEN=t0ken", NULL};
    (void)state;
    assert_int_equal(config_parse(&c, 1, argv, envp, NULL), CONFIG_OK);
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 9095);
    assert_int_equal(c.cpu_shares, 1024);
    assert_int_equal(c.memory, 2147483648LL);
    assert_int_equal(c.scale_duration_ms, 300000);
    assert_int_equal(c.n_container_labels, 2);
    assert_string_equal(c.container_labels[0], "name");
    assert_string_equal(c.container_labels[1], "service"); /* Swarm service alerts */
    assert_int_equal(c.max_nano_cpus, 8000000000LL);
    assert_int_equal(c.max_replicas, 10);
    assert_int_equal(c.replicas_step, 1);
    assert_string_equal(c.cpu_alert, "ContainerHighCpu");
    assert_string_equal(c.memory_alert, "ContainerHighMemory");
    assert_string_equal(c.down_alert, "ContainerDown");
    assert_false(c.manage_all);
    assert_true(c.heal);
    assert_false(c.dry_run);
    assert_int_equal(c.max_body, 1024 * 1024);
}

static void flags_override_environment(void **state)
{
    struct config c;
    char *envp[] = {"TRIP_LISTEN=127.0.0.1:1",
                    "TRIP_SCALE_DURATION=20s",
                    "TRIP_DRY_RUN=true",
                    "TRIP_CONTAINER_LABELS=container_label_com_docker_compose_service, name",
                    "PATH=/bin",
                    "TRIP_TOKEN=t0ken",
                    NULL};
    char *argv[] = {
        "trip-receiver",   "--listen", "127.0.0.1:19095", "--state-dir=/tmp/x", "--manage-all",
        "--dry-run=false", NULL};
    (void)state;
    assert_int_equal(config_parse(&c, 6, argv, envp, NULL), CONFIG_OK);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 19095);
    assert_string_equal(c.state_dir, "/tmp/x");
    assert_int_equal(c.scale_duration_ms, 20000);
    assert_true(c.manage_all);
    assert_false(c.dry_run);
    assert_int_equal(c.n_container_labels, 2);
    assert_string_equal(c.container_labels[0], "container_label_com_docker_compose_service");
    assert_string_equal(c.container_labels[1], "name");
}

static void errors_name_the_flag_or_variable(void **state)
{
    struct config c;
    struct config_err err = {0};
    char *argv1[] = {"trip-receiver", "--scale-duration", "soon", NULL};
    char *argv2[] = {"trip-receiver", "--bogus", NULL};
    char *argv3[] = {"trip-receiver", "--listen", NULL};
    char *envp[] = {"TRIP_MAX_BODY=lots", NULL};
    char *argv0[] = {"trip-receiver", NULL};
    (void)state;
    assert_int_equal(config_parse(&c, 3, argv1, NULL, &err), CONFIG_E_INVALID);
    assert_string_equal(err.msg, "--scale-duration: cannot parse \"soon\"");
    memset(&err, 0, sizeof(err));
    assert_int_equal(config_parse(&c, 2, argv2, NULL, &err), CONFIG_E_INVALID);
    assert_string_equal(err.msg, "unknown flag --bogus (see --help)");
    memset(&err, 0, sizeof(err));
    assert_int_equal(config_parse(&c, 2, argv3, NULL, &err), CONFIG_E_INVALID);
    assert_string_equal(err.msg, "--listen needs a value");
    memset(&err, 0, sizeof(err));
    assert_int_equal(config_parse(&c, 1, argv0, envp, &err), CONFIG_E_INVALID);
    assert_string_equal(err.msg, "TRIP_MAX_BODY: cannot parse \"lots\"");
}

static const char *kv_get(const void *ud, const char *key)
{
    for (const char *const *p = ud; *p; p += 2) {
        if (strcmp(p[0], key) == 0)
            return p[1];
    }
    return NULL;
}

/* --selector: repeatable, TRIP_SELECTOR a list, flags replace the variable's terms; policy
 * matches every term. --heal-label-filter stays a filter of event healing alone. */
static void selector_terms_from_flags_and_environment(void **state)
{
    struct config c;
    struct config_err err = {0};
    struct policy_limits lim;
    char *argv1[] = {"trip-receiver",      "--insecure-no-auth",
                     "--selector",         "com.docker.compose.project=trip",
                     "--selector=trip.tier", NULL};
    char *envp1[] = {"TRIP_SELECTOR=a=1, b\nc=x y", NULL};
    char *argv0[] = {"trip-receiver", "--insecure-no-auth", NULL};
    char *argv2[] = {"trip-receiver", "--insecure-no-auth", "--heal-label-filter", "x=1",
                     "--selector", "y", NULL};
    (void)state;
    assert_int_equal(config_parse(&c, 5, argv1, envp1, &err), CONFIG_OK);
    assert_int_equal(c.n_selector, 2); /* the flags replaced TRIP_SELECTOR's terms */
    assert_string_equal(c.selector[0], "com.docker.compose.project=trip");
    assert_string_equal(c.selector[1], "trip.tier");
    assert_int_equal(config_parse(&c, 2, argv0, envp1, &err), CONFIG_OK);
    assert_int_equal(c.n_selector, 3);
    assert_string_equal(c.selector[0], "a=1");
    assert_string_equal(c.selector[1], "b");
    assert_string_equal(c.selector[2], "c=x y");
    policy_limits_from_config(&lim, &c);
    const char *both[] = {"a", "1", "b", "", "c", "x y", "z", "9", NULL};
    const char *wrong[] = {"a", "2", "b", "", "c", "x y", NULL};
    const char *lacks[] = {"a", "1", "c", "x y", NULL};
    assert_true(policy_selected(&lim, kv_get, both));
    assert_false(policy_selected(&lim, kv_get, wrong));
    assert_false(policy_selected(&lim, kv_get, lacks));
    const char *f[POLICY_MAX_SELECTOR + 1];
    const char *const *filters = policy_selector_filters(&lim, f);
    assert_non_null(filters);
    assert_string_equal(filters[0], "a=1");
    assert_string_equal(filters[2], "c=x y");
    assert_null(filters[3]);
    char text[256];
    assert_string_equal(policy_selector_text(&lim, text, sizeof(text)), "a=1,b,c=x y");
    /* --heal-label-filter narrows event healing only: not a selector term */
    assert_int_equal(config_parse(&c, 6, argv2, NULL, &err), CONFIG_OK);
    assert_int_equal(c.n_selector, 1);
    assert_string_equal(c.selector[0], "y");
    assert_string_equal(c.heal_label_filter, "x=1");
    char *argv3[] = {"trip-receiver", "--insecure-no-auth", "--heal-label-filter", "a b", NULL};
    assert_int_equal(config_parse(&c, 4, argv3, NULL, &err), CONFIG_E_INVALID);
    assert_non_null(strstr(err.msg, "--heal-label-filter: label key"));
    /* none: the whole host, no Docker filter */
    assert_int_equal(config_parse(&c, 2, argv0, NULL, &err), CONFIG_OK);
    assert_int_equal(c.n_selector, 0);
    policy_limits_from_config(&lim, &c);
    assert_null(policy_selector_filters(&lim, f));
    assert_true(policy_selected(&lim, kv_get, lacks));
}

static void selector_syntax_errors_are_refused_at_start(void **state)
{
    static const struct {
        const char *v;
        const char *msg;
    } rows[] = {
        {"=trip", "--selector: a term has no label key"},
        {"a,,b", "--selector: empty term"},
        {"a,", "--selector: empty term"},
        {"bad key=1", "must be [A-Za-z0-9._/-]"},
        {"-x", "must be [A-Za-z0-9._/-]"},
        {"k\x01=1", "must be [A-Za-z0-9._/-]"},
        {"k=\x1b[31m", "holds a control byte"},
        {"k=caf\xc3\xa9", "holds a control byte, a comma or non-ASCII"},
        {"a,b,c,d,e,f,g,h,i", "more than 8 selector terms"},
        {"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
         "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk=1",
         "label key longer than 127 bytes"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct config c;
        struct config_err err = {0};
        char v[256];
        snprintf(v, sizeof(v), "%s", rows[i].v);
        char *argv[] = {"trip-receiver", "--insecure-no-auth", "--selector", v, NULL};
        assert_int_equal(config_parse(&c, 4, argv, NULL, &err), CONFIG_E_INVALID);
        if (!strstr(err.msg, rows[i].msg))
            fail_msg("%s: %s", rows[i].v, err.msg);
        for (const char *p = err.msg; *p; p++) /* the message never echoes a control byte */
            assert_true((unsigned char)*p >= ' ' && *p != 0x7f);
    }
    struct config c;
    struct config_err err = {0};
    char *envp[] = {"TRIP_SELECTOR=a b", NULL};
    char *argv[] = {"trip-receiver", "--insecure-no-auth", NULL};
    assert_int_equal(config_parse(&c, 2, argv, envp, &err), CONFIG_E_INVALID);
    assert_non_null(strstr(err.msg, "TRIP_SELECTOR: label key"));
}

static void bounds_are_enforced(void **state)
{
    struct config c;
    struct config_err err = {0};
    char *argv1[] = {"trip-receiver", "--cpu-shares", "1", NULL};
    char *argv2[] = {"trip-receiver", "--cpu-shares", "8192", NULL};
    char *argv3[] = {"trip-receiver", "--scale-duration", "48h", NULL};
    char *argv4[] = {"trip-receiver", "--listen", "0.0.0.0:70000", NULL};
    (void)state;
    assert_int_equal(config_parse(&c, 3, argv1, NULL, &err), CONFIG_E_INVALID);
    assert_string_equal(err.msg, "--cpu-shares: 1 is out of bounds [2, 262144]");
    memset(&err, 0, sizeof(err));
    assert_int_equal(config_parse(&c, 3, argv2, NULL, &err), CONFIG_E_INVALID);
    assert_string_equal(err.msg, "--cpu-shares is above --max-cpu-shares");
    memset(&err, 0, sizeof(err));
    assert_int_equal(config_parse(&c, 3, argv3, NULL, &err), CONFIG_E_INVALID);
    assert_string_equal(err.msg, "--scale-duration is outside [--min-duration, --max-duration]");
    assert_int_equal(config_parse(&c, 3, argv4, NULL, NULL), CONFIG_E_INVALID);
}

static void token_file_is_read_without_newline(void **state)
{
    char path[] = "/tmp/trip-config-XXXXXX";
    int fd = mkstemp(path);
    struct config c;
    struct config_err err = {0};
    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\n", 7), 7);
    close(fd);
    char *argv[] = {"trip-receiver", "--token-file", path, NULL};
    assert_int_equal(config_parse(&c, 3, argv, NULL, &err), CONFIG_OK);
    assert_string_equal(c.token, "s3cret");
    assert_false(c.secret_on_cmdline);
    unlink(path);
    assert_int_equal(config_parse(&c, 3, argv, NULL, &err), CONFIG_E_IO);
    assert_non_null(strstr(err.msg, "--token-file: cannot read"));
}

/* Writes text to a fresh temporary file whose path lands in path (a mkstemp template). */
static void secret_file(char *path, const char *text, size_t len)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void token_files_that_would_turn_auth_off_or_cut_it_are_refused(void **state)
{
    static const struct {
        const char *text;
        const char *msg;
    } rows[] = {
        {"", "is empty"},
        {" \n\t\n", "is empty"},
        {"\ns3cret\n", "its first line is empty"},
        {"s3cret\nsecond\n", "holds more than one line"},
        {"s3\x01cret", "holds a control byte"},
    };
    struct config c;
    struct config_err err = {0};
    char big[300];
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char path[] = "/tmp/trip-config-XXXXXX";
        secret_file(path, rows[i].text, strlen(rows[i].text));
        char *argv[] = {"trip-receiver", "--token-file", path, NULL};
        memset(&err, 0, sizeof(err));
        assert_int_equal(config_parse(&c, 3, argv, NULL, &err), CONFIG_E_INVALID);
        assert_non_null(strstr(err.msg, "--token-file: "));
        assert_non_null(strstr(err.msg, rows[i].msg));
        unlink(path);
    }
    /* 300 bytes: once its 255-byte prefix was accepted */
    memset(big, 'k', sizeof(big));
    char path[] = "/tmp/trip-config-XXXXXX";
    secret_file(path, big, sizeof(big));
    char *argv[] = {"trip-receiver", "--token-file", path, NULL};
    memset(&err, 0, sizeof(err));
    assert_int_equal(config_parse(&c, 3, argv, NULL, &err), CONFIG_E_INVALID);
    assert_non_null(strstr(err.msg, "is longer than 255 bytes"));
    unlink(path);
    /* surrounding white space is trimmed, the whole token kept */
    char ok[] = "/tmp/trip-config-XXXXXX";
    secret_file(ok, "  s3cret \r\n\n", 13);
    char *argv2[] = {"trip-receiver", "--token-file", ok, NULL};
    assert_int_equal(config_parse(&c, 3, argv2, NULL, &err), CONFIG_OK);
    assert_string_equal(c.token, "s3cret");
    unlink(ok);
}

static void no_auth_is_refused_unless_insecure_no_auth_then_loopback(void **state)
{
    struct config c;
    struct config_err err = {0};
    char *none[] = {"trip-receiver", NULL};
    char *blank[] = {"trip-receiver", "--token", "   ", NULL};
    char *insecure[] = {"trip-receiver", "--insecure-no-auth", NULL};
    char *listen[] = {"trip-receiver", "--insecure-no-auth", "--listen", "0.0.0.0:9", NULL};
    char *flag[] = {"trip-receiver", "--token", "t0ken", NULL};
    char *envp[] = {"TRIP_TOKEN=t0ken", NULL};
    (void)state;
    assert_int_equal(config_parse(&c, 1, none, NULL, &err), CONFIG_E_INVALID);
    assert_non_null(strstr(err.msg, "no authentication"));
    assert_non_null(strstr(err.msg, "--insecure-no-auth"));
    memset(&err, 0, sizeof(err));
    assert_int_equal(config_parse(&c, 3, blank, NULL, &err), CONFIG_E_INVALID);
    assert_string_equal(err.msg, "--token: blank or holds a control byte");
    assert_int_equal(config_parse(&c, 2, insecure, NULL, &err), CONFIG_OK);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 9095);
    assert_int_equal(config_parse(&c, 4, listen, NULL, &err), CONFIG_OK);
    assert_string_equal(c.listen_host, "0.0.0.0"); /* an explicit --listen wins */
    assert_int_equal(config_parse(&c, 3, flag, NULL, &err), CONFIG_OK);
    assert_true(c.secret_on_cmdline); /* main() warns: it shows in ps */
    assert_int_equal(config_parse(&c, 1, none, envp, &err), CONFIG_OK);
    assert_false(c.secret_on_cmdline);
}

static void url_credentials_are_redacted(void **state)
{
    char buf[256];
    (void)state;
    assert_string_equal(config_redact_url(buf, sizeof(buf), "http://u:p4ss@prom:9090/x?a=b@c"),
                        "http://***@prom:9090/x?a=b@c");
    assert_string_equal(config_redact_url(buf, sizeof(buf), "http://prom:9090"),
                        "http://prom:9090");
    assert_string_equal(config_redact_url(buf, sizeof(buf), "u:p@h:1"), "***@h:1");
}

static void help_lists_every_flag_with_env_and_default(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    char *argv[] = {"trip-receiver", "--help", NULL};
    struct config c;
    (void)state;
    assert_int_equal(config_parse(&c, 2, argv, NULL, NULL), CONFIG_HELP);
    config_usage(f, "trip-receiver");
    fclose(f);
    assert_non_null(strstr(buf, "--listen VALUE"));
    assert_non_null(strstr(buf, "env TRIP_LISTEN, default \"0.0.0.0:9095\""));
    assert_non_null(strstr(buf, "env TRIP_SCALE_DURATION, default \"5m\""));
    assert_non_null(strstr(buf, "--manage-all[=BOOL]"));
    assert_non_null(strstr(buf, "env TRIP_TOKEN_FILE"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations_accept_the_documented_forms),
        cmocka_unit_test(durations_reject_garbage),
        cmocka_unit_test(durations_format_back),
        cmocka_unit_test(durations_round_trip),
        cmocka_unit_test(sizes_use_binary_units),
        cmocka_unit_test(cpus_parse_decimal_cpus),
        cmocka_unit_test(defaults_match_the_seed_rules),
        cmocka_unit_test(flags_override_environment),
        cmocka_unit_test(errors_name_the_flag_or_variable),
        cmocka_unit_test(bounds_are_enforced),
        cmocka_unit_test(token_file_is_read_without_newline),
        cmocka_unit_test(token_files_that_would_turn_auth_off_or_cut_it_are_refused),
        cmocka_unit_test(no_auth_is_refused_unless_insecure_no_auth_then_loopback),
        cmocka_unit_test(url_credentials_are_redacted),
        cmocka_unit_test(help_lists_every_flag_with_env_and_default),
        cmocka_unit_test(selector_terms_from_flags_and_environment),
        cmocka_unit_test(selector_syntax_errors_are_refused_at_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
