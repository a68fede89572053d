/* ts_common.c: small helpers every test shares. */
#include "ts_common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The lowest port of the kernel's ephemeral range: outgoing connections and Docker's published
 * ports (docker-proxy) take their ports from there, so a port picked inside it can be taken between
 * the pick and the bind (seen in CI: "cannot listen on 127.0.0.1:39198: Address already in use"). */
static unsigned ephemeral_low(void)
{
    unsigned low = 32768, high;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

    if (f) {
        if (fscanf(f, "%u %u", &low, &high) != 2)
            low = 32768;
        fclose(f);
    }
    return low;
}

uint16_t ts_free_port(void)
{
    static unsigned seed;
    unsigned low = ephemeral_low(), span;

    if (low <= TS_PORT_FLOOR + 1000)
        low = 65536; /* an unusual range: fall back to above the floor */
    span = low - TS_PORT_FLOOR;
    if (!seed)
        seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
    for (int i = 0; i < 200; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        unsigned port = TS_PORT_FLOOR + (unsigned)rand_r(&seed) % span;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int ok;

        if (fd < 0)
            return 0;
        a.sin_port = htons((uint16_t)port);
        /* No SO_REUSEADDR: a port with a socket in TIME_WAIT is refused too. */
        ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok)
            return (uint16_t)port;
    }
    return 0;
}

char *ts_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out_close;
    buf = malloc((size_t)size + 1);
    if (!buf)
        goto out_close;
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
        goto out_close;
    }
    buf[size] = '\0';
    if (len)
        *len = (size_t)size;
out_close:
    fclose(f);
    return buf;
}

const char *ts_fixture(const char *name)
{
    static char path[4096];
    const char *dir = getenv("TRIP_SAMPLES_DIR");

    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/fixtures", name);
    return path;
}

int ts_in_ci(void)
{
    const char *ci = getenv("CI");
    return ci && strcmp(ci, "true") == 0;
}

static int skipped;
static int failed_outside;

static void vskip(bool allowed_in_ci, const char *fmt, va_list ap)
    __attribute__((noreturn, format(printf, 2, 0)));

static void vskip(bool allowed_in_ci, const char *fmt, va_list ap)
{
    char why[512];

    vsnprintf(why, sizeof(why), fmt, ap);
    if (!allowed_in_ci && ts_in_ci())
        fail_msg("%s (CI=true: a missing dependency fails the test, never skips it)", why);
    fprintf(stderr, "skipping: %s\n", why);
    fflush(stderr);
    skipped++;
    skip();
    abort(); /* skip() does not return; this keeps the noreturn promise if it ever did */
}

void ts_skip(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vskip(false, fmt, ap);
    va_end(ap);
}

void ts_skip_on_this_machine(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vskip(true, fmt, ap);
    va_end(ap);
}

void ts_fail_outside_tests(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "FAILED: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    failed_outside++;
}

int ts_exit_status(int failed_tests)
{
    if (failed_tests != 0 || failed_outside != 0)
        return 1;
    return skipped ? TS_SKIP_CODE : 0;
}
