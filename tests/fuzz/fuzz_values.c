/* fuzz_values.c: the values users and alerts hand in as text: durations, sizes, booleans, RFC 3339
 * times, trip.* container labels (through policy_decide) and log quoting of outside strings (as
 * log_quote() and as a key=%s value of a whole log line).
 * Input: fields separated by '\n': duration, size, bool/time, trip.cpu-shares, trip.memory,
 * trip.scale-duration, trip.enable, trip.heal (missing fields are absent labels). */
#include "alerts.h"
#include "config.h"
#include "docker_client.h"
#include "fuzz_policy_check.h"
#include "log.h"

#define NFIELDS 8

static void check_duration(const char *s)
{
    int64_t ms = -1;
    int64_t back = -1;
    char buf[64];

    if (config_duration_parse(s, &ms) != 0)
        return;
    FUZZ_CHECK(ms >= 0);
    /* what we print for a duration reads back as the same duration */
    config_duration_format(buf, sizeof(buf), ms);
    FUZZ_CHECK(config_duration_parse(buf, &back) == 0);
    FUZZ_CHECK(back == ms);
}

static void check_size(const char *s)
{
    int64_t bytes = -1;

    if (config_size_parse(s, &bytes) == 0)
        FUZZ_CHECK(bytes >= 0);
}

static void check_bool_time_quote(const char *s)
{
    bool b;
    int64_t ms;
    char q[96];

    if (config_bool_parse(s, &b) == 0)
        FUZZ_CHECK(b == true || b == false);
    (void)alerts_time_parse(s, &ms);
    /* a quoted value never breaks the logfmt line */
    log_quote(q, sizeof(q), s);
    FUZZ_CHECK(FUZZ_TERMINATED(q));
    for (const char *p = q; *p; p++)
        FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

/* an outside value logged as key=%s leaves one line whose only level is the real one, and no
 * control byte (the log module quotes and escapes it) */
static void check_log_line(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return;
    log_set_stream(f);
    log_info("fuzz", "value=%s next=%s", s, "ok");
    log_set_stream(NULL);
    fclose(f);
    FUZZ_CHECK(len > 0 && buf[len - 1] == '\n');
    for (size_t i = 0; i + 1 < len; i++)
        FUZZ_CHECK((unsigned char)buf[i] >= 0x20 && buf[i] != 0x7f);
    FUZZ_CHECK(strstr(buf, " level=") == strstr(buf, " level=info msg=fuzz value="));
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"trip.cpu-shares", "trip.memory", "trip.scale-duration",
                                       "trip.enable", "trip.heal"};
    char *text = fuzz_strndup(data, size);
    char *f[NFIELDS] = {0};
    struct policy_kv kv[5];
    size_t n_kv = 0;
    struct policy_container c;
    size_t n = 0;

    if (!text)
        return 0;
    for (char *p = text; p && n < NFIELDS; n++) {
        f[n] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    check_duration(f[0] ? f[0] : "");
    check_size(f[1] ? f[1] : "");
    check_bool_time_quote(f[2] ? f[2] : "");
    check_log_line(f[2] ? f[2] : "");
    for (size_t i = 3; i < NFIELDS; i++) {
        if (f[i]) {
            kv[n_kv].key = keys[i - 3];
            kv[n_kv].value = f[i];
            n_kv++;
        }
    }
    policy_container_from_labels(&c, kv, n_kv, (size & 1) != 0);
    for (int r = 0; r < 2; r++) {
        struct policy_request req = {.kind = POLICY_SCALE_OUT, .resource = r ? POLICY_MEMORY : POLICY_CPU,
                                     .duration = f[0]};

        fuzz_decide_and_check(&req, &c);
        req.duration = NULL;
        req.from_alert = true;
        fuzz_decide_and_check(&req, &c);
    }
    free(text);
    return 0;
}
