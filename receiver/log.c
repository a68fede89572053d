/* log.c: logfmt lines on stderr. */
#include "log.h"
#include "logfmt.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
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

const char *log_quote(char *buf, size_t size, const char *s)
{
    return logfmt_quote(buf, size, s);
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

/* A bounded line under construction; appends past the end are dropped. */
struct line {
    char *buf;
    size_t size;
    size_t n;
};

static void put(struct line *l, const char *s, size_t len)
{
    if (len > l->size - 1 - l->n)
        len = l->size - 1 - l->n;
    memcpy(l->buf + l->n, s, len);
    l->n += len;
    l->buf[l->n] = '\0';
}

/* True when s is one whole quoted logfmt value as log_quote() writes it (a caller quoted it). */
static bool is_quoted(const char *s)
{
    size_t len = strlen(s);

    if (len < 2 || s[0] != '"' || s[len - 1] != '"')
        return false;
    for (size_t i = 1; i < len - 1; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c < ' ' || c == 0x7f)
            return false;
        if (c == '\\') {
            if (i + 1 >= len - 1)
                return false;
            i++;
        }
    }
    return true;
}

/* Formats one conversion `spec` (e.g. "%" PRId64, "%.0f", "%.200s") taking its argument from ap;
 * a %s right after "key=" is a value and is quoted unless the caller quoted it already. */
static void put_conversion(struct line *l, const char *spec, char conv, const char *len_mod,
                           bool value, va_list *ap)
{
    char tmp[LINE_MAX_BYTES];
    char q[LINE_MAX_BYTES];
    int m = 0;

    switch (conv) {
    case 's': {
        const char *str = va_arg(*ap, const char *);
        m = snprintf(tmp, sizeof(tmp), spec, str ? str : "(null)");
        if (m >= 0 && value && !is_quoted(tmp)) {
            log_quote(q, sizeof(q), tmp);
            put(l, q, strlen(q));
            return;
        }
        break;
    }
    case 'd':
    case 'i':
    case 'u':
    case 'o':
    case 'x':
    case 'X':
        if (strcmp(len_mod, "ll") == 0 || strcmp(len_mod, "j") == 0)
            m = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, long long));
        else if (strcmp(len_mod, "l") == 0 || strcmp(len_mod, "z") == 0 ||
                 strcmp(len_mod, "t") == 0)
            m = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, long));
        else
            m = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, int));
        break;
    case 'c':
        m = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, int));
        break;
    case 'p':
        m = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, void *));
        break;
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G':
    case 'a':
    case 'A':
        if (strcmp(len_mod, "L") == 0)
            m = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, long double));
        else
            m = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, double));
        break;
    default: /* %n and unknown conversions are not formatted */
        return;
    }
    if (m > 0)
        put(l, tmp, strlen(tmp));
}

/* printf for the fields, except that every %s value is quoted (see log_write in log.h). Widths and
 * precisions given as `*` are not supported (none of our formats use them). */
static void put_fields(struct line *l, const char *fmt, va_list *ap)
{
    const char *p = fmt;

    while (*p) {
        if (*p != '%') {
            size_t run = strcspn(p, "%");
            put(l, p, run);
            p += run;
            continue;
        }
        if (p[1] == '%') {
            put(l, "%", 1);
            p += 2;
            continue;
        }
        const char *q = p + 1 + strspn(p + 1, "-+ #0123456789.");
        char len_mod[3] = "";
        size_t lm = strspn(q, "hljztL");
        if (lm > 2)
            return;
        memcpy(len_mod, q, lm);
        len_mod[lm] = '\0';
        q += lm;
        if (!*q)
            return;
        char spec[32];
        size_t slen = (size_t)(q + 1 - p);
        if (slen >= sizeof(spec))
            return;
        memcpy(spec, p, slen);
        spec[slen] = '\0';
        put_conversion(l, spec, *q, len_mod, p > fmt && p[-1] == '=', ap);
        p = q + 1;
    }
}

/* Last guard: no byte below space or DEL leaves the line raw (no forged line, no terminal escape
 * sequence), whatever a caller passed. */
static void escape_controls(struct line *l, size_t from)
{
    char out[LINE_MAX_BYTES];
    size_t n = 0;

    for (size_t i = from; i < l->n && n + 5 < sizeof(out); i++) {
        unsigned char c = (unsigned char)l->buf[i];
        if (c == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else if (c < ' ' || c == 0x7f) {
            n += (size_t)snprintf(out + n, sizeof(out) - n, "\\x%02x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    l->n = from;
    l->buf[from] = '\0';
    put(l, out, n);
}

void log_write(enum log_level level, const char *msg, const char *fmt, ...)
{
    char buf[LINE_MAX_BYTES];
    char ts[40];
    char qmsg[512];
    struct line l = {buf, sizeof(buf) - 1, 0}; /* room for the newline */
    va_list ap;

    if ((int)level > atomic_load(&max_level))
        return;
    format_time(ts, sizeof(ts));
    buf[0] = '\0';
    put(&l, "ts=", 3);
    put(&l, ts, strlen(ts));
    put(&l, " level=", 7);
    put(&l, level_names[level], strlen(level_names[level]));
    put(&l, " msg=", 5);
    log_quote(qmsg, sizeof(qmsg), msg);
    put(&l, qmsg, strlen(qmsg));
    if (fmt && *fmt) {
        size_t from = l.n;
        put(&l, " ", 1);
        va_start(ap, fmt);
        put_fields(&l, fmt, &ap);
        va_end(ap);
        escape_controls(&l, from);
    }
    buf[l.n++] = '\n';
    pthread_mutex_lock(&out_lock);
    FILE *f = out_stream ? out_stream : stderr;
    fwrite(buf, 1, l.n, f);
    fflush(f);
    pthread_mutex_unlock(&out_lock);
}
