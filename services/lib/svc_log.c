/* svc_log.c: logfmt lines on stderr. */
#include "svc_log.h"
#include "logfmt.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LINE_MAX_BYTES 2048

static atomic_int max_level = SVC_LOG_INFO;
static char service_name[32] = "svc";
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void svc_log_init(const char *service, enum svc_log_level level)
{
    snprintf(service_name, sizeof(service_name), "%s", service ? service : "svc");
    atomic_store(&max_level, (int)level);
}

int svc_log_level_parse(const char *s)
{
    for (size_t i = 0; s && i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

const char *svc_log_quote(char *buf, size_t size, const char *s)
{
    return logfmt_quote(buf, size, s);
}

void svc_log_write(enum svc_log_level level, const char *msg, const char *fmt, ...)
{
    char line[LINE_MAX_BYTES];
    char ts[40];
    char qmsg[512];
    struct timespec now;
    struct tm tm;
    va_list ap;

    if ((int)level > atomic_load(&max_level))
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t t = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + t, sizeof(ts) - t, ".%03ldZ", now.tv_nsec / 1000000);
    int n = snprintf(line, sizeof(line), "ts=%s level=%s svc=%s msg=%s", ts, level_names[level],
                     service_name, svc_log_quote(qmsg, sizeof(qmsg), msg));
    if (n < 0)
        return;
    if (fmt && *fmt && (size_t)n < sizeof(line) - 2) {
        line[n++] = ' ';
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
    }
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    pthread_mutex_lock(&out_lock);
    fwrite(line, 1, (size_t)n, stderr);
    fflush(stderr);
    pthread_mutex_unlock(&out_lock);
}
