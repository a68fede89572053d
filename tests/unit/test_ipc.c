/* test_ipc.c: the privilege-separation channel: every intent round-trips through its encoding; the
 * privileged process's decoder and re-check refuse each kind of malformed or out-of-range intent
 * (a subverted HTTP process's bytes); and a broker that receives one closes the channel instead of
 * acting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "http.h"
#include "ipc.h"
#include "log.h"

static size_t encode(const struct ipc_intent *in, uint8_t *buf)
{
    return ipc_encode_intent(in, buf, IPC_HDR_SIZE + IPC_MAX_INTENT);
}

static void every_intent_round_trips(void **state)
{
    static uint8_t buf[IPC_HDR_SIZE + IPC_MAX_INTENT];
    const struct ipc_intent ins[] = {
        {.type = IPC_ALERT, .id = 1, .status = 1, .action = 2, .container = "web",
         .fingerprint = "ab12", .alertname = "ContainerHighMemory", .duration = "10m",
         .remote = "10.0.0.9", .problem = ""},
        {.type = IPC_JOB, .id = 2, .kind = 1, .resource = 1, .flag = true, .container = "db",
         .duration = "1h", .remote = "::1"},
        {.type = IPC_MAINTENANCE, .id = 3, .flag = true, .container = "x.y-z_1"},
        {.type = IPC_STATE, .id = 4, .container = ""},
        {.type = IPC_READY, .id = 5},
        {.type = IPC_METRICS, .id = 6},
        {.type = IPC_ACTIONS,
         .id = 7,
         .since_seq = 1ull << 40,
         .since_ms = 1700000000000,
         .limit = 1000},
        {.type = IPC_COUNT_REQUEST, .route = 4, .code = 503},
        {.type = IPC_COUNT_REJECTED},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
        struct ipc_intent out;
        struct ipc_err err = {0};
        char why[160];
        size_t n = encode(&ins[i], buf);
        assert_true(n >= IPC_HDR_SIZE);
        assert_int_equal(ipc_decode_intent(buf, n, &out, &err), IPC_OK);
        assert_memory_equal(&out, &ins[i], sizeof(out));
        assert_int_equal(broker_check(&out, why, sizeof(why)), 0);
    }
}

/* One intent's bytes, changed by f, must be refused by the decoder. */
static void refused(const struct ipc_intent *in, void (*f)(uint8_t *buf, size_t *n),
                    const char *what)
{
    static uint8_t buf[IPC_HDR_SIZE + IPC_MAX_INTENT + 64];
    struct ipc_intent out;
    struct ipc_err err = {0};
    size_t n = encode(in, buf);

    assert_true(n > 0);
    f(buf, &n);
    ipc_code rc = ipc_decode_intent(buf, n, &out, &err);
    if (rc == IPC_OK)
        fail_msg("accepted: %s", what);
    assert_true(err.msg[0] != '\0');
}

static void set_len(uint8_t *buf, size_t n)
{
    uint32_t len = (uint32_t)(n - IPC_HDR_SIZE);
    for (int i = 0; i < 4; i++)
        buf[8 + i] = (uint8_t)(len >> (8 * i));
}
static void bad_version(uint8_t *b, size_t *n)
{
    (void)n;
    b[0] = 2;
}
static void bad_reserved(uint8_t *b, size_t *n)
{
    (void)n;
    b[3] = 1;
}
static void bad_type(uint8_t *b, size_t *n)
{
    (void)n;
    b[1] = 65;
}
static void trailing(uint8_t *b, size_t *n)
{
    b[(*n)++] = 0;
    set_len(b, *n);
}
static void truncated(uint8_t *b, size_t *n)
{
    (*n)--;
    set_len(b, *n);
}
static void length_lies(uint8_t *b, size_t *n)
{
    (void)n;
    b[8]++;
}
static void nul_in_string(uint8_t *b, size_t *n)
{
    (void)n;
    b[IPC_HDR_SIZE + 2] = '\0';
}
static void not_utf8(uint8_t *b, size_t *n)
{
    (void)n;
    b[IPC_HDR_SIZE + 2] = 0xff;
}
static void bool_two(uint8_t *b, size_t *n)
{
    (void)n;
    b[IPC_HDR_SIZE] = 2;
}
static void too_big(uint8_t *b, size_t *n)
{
    memset(b + *n, 'a', 64);
    *n = IPC_HDR_SIZE + IPC_MAX_INTENT + 1;
    set_len(b, *n);
}

static void malformed_intents_are_refused(void **state)
{
    const struct ipc_intent state_one = {.type = IPC_STATE, .id = 9, .container = "web"};
    const struct ipc_intent maint = {.type = IPC_MAINTENANCE, .id = 9, .flag = true,
                                     .container = "web"};
    static uint8_t buf[IPC_HDR_SIZE + IPC_MAX_INTENT];
    struct ipc_intent big = {.type = IPC_STATE};
    (void)state;
    refused(&state_one, bad_version, "version 2");
    refused(&state_one, bad_reserved, "reserved byte set");
    refused(&state_one, bad_type, "a reply's type from the HTTP process");
    refused(&state_one, trailing, "a byte after the last field");
    refused(&state_one, truncated, "a field cut short");
    refused(&state_one, length_lies, "a header length that does not match");
    refused(&state_one, nul_in_string, "a NUL inside a string");
    refused(&state_one, not_utf8, "a string that is not UTF-8");
    refused(&maint, bool_two, "a boolean of 2");
    /* a string as long as its field (no room for the NUL) cannot even be encoded */
    memset(big.container, 'a', sizeof(big.container));
    assert_int_equal(encode(&big, buf), 0);
    const struct ipc_intent small = {.type = IPC_READY};
    static uint8_t large[IPC_HDR_SIZE + IPC_MAX_INTENT + 64];
    struct ipc_intent out;
    struct ipc_err err = {0};
    size_t n = encode(&small, large);
    too_big(large, &n);
    assert_int_equal(ipc_decode_intent(large, n, &out, &err), IPC_E_TOOBIG);
}

static void out_of_range_intents_fail_the_recheck(void **state)
{
    char why[160];
    const struct ipc_intent bad[] = {
        {.type = IPC_ALERT, .status = 2},
        {.type = IPC_ALERT, .action = 99},
        {.type = IPC_JOB, .kind = 3 /* resolve: an alert's, never a manual call's */,
         .container = "web"},
        {.type = IPC_JOB, .kind = 1, .resource = 200, .container = "web"},
        {.type = IPC_JOB, .kind = 1, .container = "../../etc"},
        {.type = IPC_JOB, .kind = 1, .container = ""},
        {.type = IPC_MAINTENANCE, .container = "-web"},
        {.type = IPC_STATE, .container = "a/b"},
        {.type = IPC_ACTIONS, .limit = 0},
        {.type = IPC_ACTIONS, .limit = 1001},
        {.type = IPC_ACTIONS, .limit = 10, .since_ms = -1},
        {.type = IPC_COUNT_REQUEST, .route = 200, .code = 200},
        {.type = IPC_COUNT_REQUEST, .route = 1, .code = 99},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (broker_check(&bad[i], why, sizeof(why)) == 0)
            fail_msg("re-check accepted bad intent %zu", i);
        assert_true(why[0] != '\0');
    }
}

/* A broker that reads a malformed intent acts on nothing (it has no engine here: any action
 * would crash) and closes the channel: the HTTP process sees EOF after IPC_START. */
static void broker_closes_the_channel_on_a_malformed_intent(void **state)
{
    int sv[2];
    uint8_t garbage[IPC_HDR_SIZE + 4] = {IPC_VERSION, IPC_JOB, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0,
                                          9, 9, 9, 9};
    uint8_t *msg = NULL, type = 0;
    size_t len;
    uint32_t id;
    struct ipc_err err = {0};
    (void)state;
    log_set_level(LOG_LEVEL_ERROR);
    FILE *devnull = fopen("/dev/null", "w");
    log_set_stream(devnull);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct broker *b = broker_start(NULL, NULL, NULL, sv[0]);
    assert_non_null(b);
    assert_int_equal(ipc_read(sv[1], 0, &msg, &len, &type, &id, &err), IPC_OK);
    assert_int_equal(type, IPC_START);
    free(msg);
    assert_int_equal(ipc_write(sv[1], garbage, sizeof(garbage)), IPC_OK);
    assert_int_equal(ipc_read(sv[1], IPC_MAX_REPLY, &msg, &len, &type, &id, &err), IPC_E_EOF);
    broker_free(b);
    close(sv[1]);
    log_set_stream(NULL);
    fclose(devnull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_intent_round_trips),
        cmocka_unit_test(malformed_intents_are_refused),
        cmocka_unit_test(out_of_range_intents_fail_the_recheck),
        cmocka_unit_test(broker_closes_the_channel_on_a_malformed_intent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
