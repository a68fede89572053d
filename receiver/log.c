/* log.c: logfmt lines on stderr. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define LINE_MAX_BYTES 2048

static atomic_int max_level = LOG_LEVEL_INFO;
static FILE *out_stream;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level)
{
    atomic_store(&max_level, (int)level);
}

int log_level_parse(const char *s)
{
    for (size_t i = 0; s && i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

void log_set_stream(FILE *f)
{
    pthread_mutex_lock(&out_lock);
    out_stream = f;
    pthread_mutex_unlock(&out_lock);
}

static int is_bare(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
            return 0;
    }
    return 1;
}

const char *log_quote(char *buf, size_t size, const char *s)
{
    size_t n = 0;

    if (size == 0)
        return buf;
    if (!s)
        s = "";
    if (is_bare(s)) {
        snprintf(buf, size, "%s", s);
        return buf;
    }
    buf[n++] = '"';
    for (; *s && n + 6 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c == '\n') {
            buf[n++] = '\\';
            buf[n++] = 'n';
        } else if (c == '\t') {
            buf[n++] = '\\';
            buf[n++] = 't';
        } else if (c < ' ' || c == 0x7f) {
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
        } else {
            buf[n++] = (char)c;
        }
    }
    if (n < size - 1)
        buf[n++] = '"';
    buf[n < size ? n : size - 1] = '\0';
    return buf;
}

static size_t format_time(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return n;
}

void log_write(enum log_level level, const char *msg, const char *fmt, ...)
{
    char line[LINE_MAX_BYTES];
    char ts[40];
    char qmsg[512];
    va_list ap;
    int n;

    if ((int)level > atomic_load(&max_level))
        return;
    format_time(ts, sizeof(ts));
    n = snprintf(line, sizeof(line), "ts=%s level=%s msg=%s", ts, level_names[level],
                 log_quote(qmsg, sizeof(qmsg), msg));
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
    FILE *f = out_stream ? out_stream : stderr;
    fwrite(line, 1, (size_t)n, f);
    fflush(f);
    pthread_mutex_unlock(&out_lock);
}
