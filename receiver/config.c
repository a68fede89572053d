/* config.c: table of options; defaults < TRIP_* environment < flags. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

enum opt_type {
    OPT_STR,
    OPT_DURATION,
    OPT_SIZE,
    OPT_INT,
    OPT_CPUS,
    OPT_BOOL,
    OPT_LIST,
    OPT_LISTEN,
    OPT_FILE,
    OPT_SECRET,  /* OPT_STR for a secret: not blank, no control bytes */
    OPT_SELECTOR /* terms separated by ',' or newlines, added to cfg->selector */
};

struct opt {
    const char *flag; /* without "--" */
    const char *env;
    enum opt_type type;
    size_t off;  /* offset in struct config */
    size_t size; /* OPT_STR / OPT_FILE: buffer size */
    int64_t min; /* numeric bounds */
    int64_t max;
    const char *def; /* default as text, for --help and config_defaults */
    const char *help;
};

#define OFF(f) offsetof(struct config, f)
#define SZ(f) sizeof(((struct config *)0)->f)
#define KIB 1024LL
#define MIB (1024LL * KIB)
#define GIB (1024LL * MIB)
#define TIB (1024LL * GIB)
#define DAY_MS (24LL * 3600 * 1000)

static const struct opt opts[] = {
    {"listen", "TRIP_LISTEN", OPT_LISTEN, 0, 0, 0, 0, "0.0.0.0:9095",
     "address and port to listen on (127.0.0.1:9095 by default with --insecure-no-auth)"},
    {"state-dir", "TRIP_STATE_DIR", OPT_STR, OFF(state_dir), SZ(state_dir), 0, 0,
     "/var/lib/trip-receiver", "directory of the persisted state table (state.json)"},
    {"scale-duration", "TRIP_SCALE_DURATION", OPT_DURATION, OFF(scale_duration_ms), 0, 1,
     365 * DAY_MS, "5m", "how long a scale-out lasts at least (extended while the alert fires)"},
    {"max-hold", "TRIP_MAX_HOLD", OPT_DURATION, OFF(max_hold_ms), 0, 1, 365 * DAY_MS, "1h",
     "scale in after this long even if no resolved notification arrives"},
    {"min-duration", "TRIP_MIN_DURATION", OPT_DURATION, OFF(min_duration_ms), 0, 1, 365 * DAY_MS,
     "1s", "smallest scale duration accepted from labels and requests"},
    {"max-duration", "TRIP_MAX_DURATION", OPT_DURATION, OFF(max_duration_ms), 0, 1, 365 * DAY_MS,
     "24h", "largest scale duration accepted from labels and requests"},
    {"cpu-shares", "TRIP_CPU_SHARES", OPT_INT, OFF(cpu_shares), 0, 2, 262144, "1024",
     "CpuShares set by a CPU scale-out"},
    {"memory", "TRIP_MEMORY", OPT_SIZE, OFF(memory), 0, 6 * MIB, 64 * TIB, "2g",
     "memory limit set by a memory scale-out"},
    {"max-cpu-shares", "TRIP_MAX_CPU_SHARES", OPT_INT, OFF(max_cpu_shares), 0, 2, 262144, "4096",
     "largest CpuShares accepted from labels"},
    {"max-memory", "TRIP_MAX_MEMORY", OPT_SIZE, OFF(max_memory), 0, 6 * MIB, 64 * TIB, "16g",
     "largest memory limit accepted from labels"},
    {"max-cpus", "TRIP_MAX_CPUS", OPT_CPUS, OFF(max_nano_cpus), 0, 10000000, 1024000000000LL, "8",
     "largest CPU limit (trip.cpus) of a Swarm service's CPU scale-out"},
    {"max-replicas", "TRIP_MAX_REPLICAS", OPT_INT, OFF(max_replicas), 0, 1, 10000, "10",
     "replicas a Swarm service is scaled out to at most (trip.max-replicas lowers it)"},
    {"replicas-step", "TRIP_REPLICAS_STEP", OPT_INT, OFF(replicas_step), 0, 1, 1000, "1",
     "replicas added per horizontal scale-out step (trip.replicas-step overrides)"},
    {"container-labels", "TRIP_CONTAINER_LABELS", OPT_LIST, 0, 0, 0, 0, "name,service",
     "comma-separated alert labels naming the container or Swarm service, first present wins"},
    {"cpu-alert", "TRIP_CPU_ALERT", OPT_STR, OFF(cpu_alert), SZ(cpu_alert), 0, 0,
     "ContainerHighCpu", "alertname meaning scale-cpu when the alert has no action label"},
    {"memory-alert", "TRIP_MEMORY_ALERT", OPT_STR, OFF(memory_alert), SZ(memory_alert), 0, 0,
     "ContainerHighMemory", "alertname meaning scale-memory when the alert has no action label"},
    {"down-alert", "TRIP_DOWN_ALERT", OPT_STR, OFF(down_alert), SZ(down_alert), 0, 0,
     "ContainerDown", "alertname meaning restart when the alert has no action label"},
    {"manage-all", "TRIP_MANAGE_ALL", OPT_BOOL, OFF(manage_all), 0, 0, 0, "false",
     "manage every container except those labelled trip.enable=false"},
    {"heal", "TRIP_HEAL", OPT_BOOL, OFF(heal), 0, 0, 0, "true",
     "start stopped containers on restart actions (label trip.heal overrides)"},
    {"heal-events", "TRIP_HEAL_EVENTS", OPT_BOOL, OFF(heal_events), 0, 0, 0, "true",
     "watch Docker events and start a stopped managed container at once"},
    {"heal-operator-stops", "TRIP_HEAL_OPERATOR_STOPS", OPT_BOOL, OFF(heal_operator_stops), 0, 0, 0,
     "true",
     "also start containers stopped by docker stop/kill (label trip.heal-operator-stops "
     "overrides)"},
    {"heal-backoff", "TRIP_HEAL_BACKOFF", OPT_DURATION, OFF(heal_backoff_ms), 0, 1, 3600 * 1000,
     "100ms", "delay before the 2nd heal of a container that did not run stably, doubling"},
    {"heal-backoff-max", "TRIP_HEAL_BACKOFF_MAX", OPT_DURATION, OFF(heal_backoff_max_ms), 0, 1,
     DAY_MS, "1m", "cap of the heal backoff"},
    {"heal-stable", "TRIP_HEAL_STABLE", OPT_DURATION, OFF(heal_stable_ms), 0, 1, DAY_MS, "10s",
     "a container running this long after a heal starts a new streak"},
    {"crashloop-heals", "TRIP_CRASHLOOP_HEALS", OPT_INT, OFF(crashloop_heals), 0, 1, 1000, "5",
     "heals in one streak that flag a container crash-looping"},
    {"selector", "TRIP_SELECTOR", OPT_SELECTOR, 0, 0, 0, 0, "",
     "manage only containers and services carrying this label (key or key=value; repeatable, "
     "all must match; the variable takes a comma-separated list; empty: the whole host)"},
    {"heal-label-filter", "TRIP_HEAL_LABEL_FILTER", OPT_STR, OFF(heal_label_filter),
     SZ(heal_label_filter), 0, 0, "",
     "heal from events only containers with this label too (key or key=value), inside "
     "--selector, which limits everything"},
    {"dry-run", "TRIP_DRY_RUN", OPT_BOOL, OFF(dry_run), 0, 0, 0, "false",
     "decide and log everything, change nothing in Docker"},
    {"token", "TRIP_TOKEN", OPT_SECRET, OFF(token), SZ(token), 0, 0, "",
     "bearer token required on /webhook and /api/ (on the command line it shows in ps: prefer "
     "--token-file or TRIP_TOKEN)"},
    {"token-file", "TRIP_TOKEN_FILE", OPT_FILE, OFF(token), SZ(token), 0, 0, "",
     "read the bearer token from this file (whole file, trimmed; empty or too long is an error)"},
    {"basic-auth-user", "TRIP_BASIC_AUTH_USER", OPT_SECRET, OFF(basic_user), SZ(basic_user), 0, 0,
     "", "basic auth user required on /webhook and /api/"},
    {"basic-auth-password", "TRIP_BASIC_AUTH_PASSWORD", OPT_SECRET, OFF(basic_password),
     SZ(basic_password), 0, 0, "",
     "basic auth password (on the command line it shows in ps: prefer the file)"},
    {"basic-auth-password-file", "TRIP_BASIC_AUTH_PASSWORD_FILE", OPT_FILE, OFF(basic_password),
     SZ(basic_password), 0, 0, "", "read the basic auth password from this file"},
    {"insecure-no-auth", "TRIP_INSECURE_NO_AUTH", OPT_BOOL, OFF(insecure_no_auth), 0, 0, 0, "false",
     "start without a token or basic auth (anyone who reaches the port may scale and restart); "
     "the default --listen becomes 127.0.0.1:9095"},
    {"privsep-user", "TRIP_PRIVSEP_USER", OPT_STR, OFF(privsep_user), SZ(privsep_user), 0, 0,
     "nobody",
     "user the HTTP process (which parses requests, and holds no Docker socket) runs as, when "
     "started as root or with CAP_SETUID and CAP_SETGID; otherwise it keeps the starting user "
     "without its privileges"},
    {"user", "TRIP_USER", OPT_STR, OFF(user), SZ(user), 0, 0, "",
     "user (name, or uid[:gid]) the privileged process changes to after forking the HTTP "
     "process, keeping the Docker socket's group as its only other group (needs root or "
     "CAP_SETUID and CAP_SETGID: a container started as root with only those); empty keeps the "
     "starting user"},
    {"max-body", "TRIP_MAX_BODY", OPT_SIZE, OFF(max_body), 0, 1024, 64 * MIB, "1m",
     "largest request body accepted (413 beyond)"},
    {"max-connections", "TRIP_MAX_CONNECTIONS", OPT_INT, OFF(max_connections), 0, 4, 10000, "128",
     "concurrent HTTP connections"},
    {"connection-timeout", "TRIP_CONNECTION_TIMEOUT", OPT_DURATION, OFF(connection_timeout_ms), 0,
     1000, 3600 * 1000, "10s",
     "idle HTTP connection timeout; also the time to send a whole request"},
    {"http-threads", "TRIP_HTTP_THREADS", OPT_INT, OFF(http_threads), 0, 1, 64, "2",
     "HTTP polling threads"},
    {"workers", "TRIP_WORKERS", OPT_INT, OFF(workers), 0, 1, 64, "4",
     "engine workers (a container's actions run one at a time, in order)"},
    {"request-timeout", "TRIP_REQUEST_TIMEOUT", OPT_DURATION, OFF(request_timeout_ms), 0, 100,
     3600 * 1000, "30s", "how long a manual API call waits for its action (504 beyond)"},
    {"shutdown-timeout", "TRIP_SHUTDOWN_TIMEOUT", OPT_DURATION, OFF(shutdown_timeout_ms), 0, 0,
     3600 * 1000, "15s", "bound on finishing in-flight actions at SIGTERM"},
    {"refresh-interval", "TRIP_REFRESH_INTERVAL", OPT_DURATION, OFF(refresh_interval_ms), 0, 100,
     3600 * 1000, "60s",
     "full container list period (Docker's events keep the list fresh in between)"},
    {"docker-host", "TRIP_DOCKER_HOST", OPT_STR, OFF(docker_host), SZ(docker_host), 0, 0, "",
     "Docker daemon (unix:///path or tcp://host:port; empty: $DOCKER_HOST, then the default "
     "socket)"},
    {"docker-api-version", "TRIP_DOCKER_API_VERSION", OPT_STR, OFF(docker_api_version),
     SZ(docker_api_version), 0, 0, "",
     "pin the Docker API version (empty: $DOCKER_API_VERSION, else negotiate up to 1.56)"},
    {"docker-timeout", "TRIP_DOCKER_TIMEOUT", OPT_DURATION, OFF(docker_timeout_ms), 0, 100,
     3600 * 1000, "10s", "timeout of one Docker API call"},
    {"prometheus-url", "TRIP_PROMETHEUS_URL", OPT_STR, OFF(prometheus_url), SZ(prometheus_url), 0,
     0, "",
     "Prometheus base URL; when set, scale-in also needs Prometheus to report the alert inactive"},
    {"log-level", "TRIP_LOG_LEVEL", OPT_STR, OFF(log_level), SZ(log_level), 0, 0, "info",
     "error, warn, info or debug"},
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

int config_bool_parse(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};

    for (size_t i = 0; s && i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int64_t unit_ms(const char **p)
{
    const char *s = *p;

    if (strncmp(s, "ms", 2) == 0) {
        *p += 2;
        return 1;
    }
    *p += 1;
    switch (*s) {
    case 's':
        return 1000;
    case 'm':
        return 60 * 1000;
    case 'h':
        return 3600 * 1000;
    case 'd':
        return DAY_MS;
    default:
        return -1;
    }
}

int config_duration_parse(const char *s, int64_t *ms)
{
    int64_t total = 0;

    if (!s || !*s)
        return -1;
    if (strspn(s, "0123456789") == strlen(s) && strlen(s) <= 12) {
        *ms = strtoll(s, NULL, 10) * 1000;
        return 0;
    }
    while (*s) {
        if (!isdigit((unsigned char)*s))
            return -1;
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno)
            return -1;
        s = end;
        int64_t mult = unit_ms(&s);
        if (mult < 0 || v > (INT64_MAX / 2 - total) / mult)
            return -1;
        total += v * mult;
    }
    *ms = total;
    return 0;
}

const char *config_duration_format(char *buf, size_t size, int64_t ms)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } parts[] = {{3600 * 1000, "h"}, {60 * 1000, "m"}, {1000, "s"}, {1, "ms"}};
    size_t n = 0;

    if (size == 0)
        return buf;
    buf[0] = '\0';
    if (ms <= 0) {
        snprintf(buf, size, ms == 0 ? "0s" : "%lldms", (long long)ms);
        return buf;
    }
    /* "278h10ms": every unit below hours is < its next, so config_duration_parse() reads it back */
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && n < size; i++) {
        int64_t v = i == 0 ? ms / parts[i].ms : ms % parts[i - 1].ms / parts[i].ms;
        if (v)
            n += (size_t)snprintf(buf + n, size - n, "%lld%s", (long long)v, parts[i].unit);
    }
    return buf;
}

int config_size_parse(const char *s, int64_t *bytes)
{
    static const struct {
        const char *suffix;
        int64_t mult;
    } units[] = {{"", 1},      {"b", 1},    {"k", KIB},   {"kb", KIB}, {"kib", KIB},
                 {"m", MIB},   {"mb", MIB}, {"mib", MIB}, {"g", GIB},  {"gb", GIB},
                 {"gib", GIB}, {"t", TIB},  {"tb", TIB},  {"tib", TIB}};
    char *end;

    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || v < 0)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (v > INT64_MAX / units[i].mult)
                return -1;
            *bytes = v * units[i].mult;
            return 0;
        }
    }
    return -1;
}

static int parse_listen(struct config *cfg, const char *v)
{
    const char *colon = strrchr(v, ':');
    char *end;

    if (!colon || colon == v || (size_t)(colon - v) >= sizeof(cfg->listen_host))
        return -1;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
        return -1;
    const char *host = v;
    size_t len = (size_t)(colon - v);
    if (*host == '[' && len >= 2 && host[len - 1] == ']') {
        host++;
        len -= 2;
    }
    memcpy(cfg->listen_host, host, len);
    cfg->listen_host[len] = '\0';
    cfg->listen_port = (uint16_t)port;
    return 0;
}

static int parse_list(struct config *cfg, const char *v)
{
    size_t n = 0;
    const char *p = v;

    while (*p) {
        size_t len = strcspn(p, ",");
        while (len && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        size_t tl = len;
        while (tl && isspace((unsigned char)p[tl - 1]))
            tl--;
        if (tl == 0 || tl >= sizeof(cfg->container_labels[0]) || n == CONFIG_MAX_LABELS)
            return -1;
        memcpy(cfg->container_labels[n], p, tl);
        cfg->container_labels[n][tl] = '\0';
        n++;
        p += len;
        if (*p == ',')
            p++;
    }
    if (n == 0)
        return -1;
    cfg->n_container_labels = n;
    return 0;
}

int config_selector_split(const char *term, char key[CONFIG_SELECTOR_PART],
                          char value[CONFIG_SELECTOR_PART], bool *has_value, char *why, size_t size)
{
    const char *eq = strchr(term, '=');
    size_t klen = eq ? (size_t)(eq - term) : strlen(term);

    *has_value = eq != NULL;
    if (klen == 0) {
        snprintf(why, size, "a term has no label key (expected key or key=value)");
        return -1;
    }
    if (klen >= CONFIG_SELECTOR_PART) {
        snprintf(why, size, "label key longer than %d bytes", CONFIG_SELECTOR_PART - 1);
        return -1;
    }
    for (size_t i = 0; i < klen; i++) {
        unsigned char ch = (unsigned char)term[i];
        if (!isalnum(ch) && (i == 0 || !strchr("._/-", ch))) {
            snprintf(why, size,
                     "label key \"%.*s\" must be [A-Za-z0-9._/-] starting with a letter or digit",
                     (int)(klen > 60 ? 60 : klen), term);
            for (char *p = why; *p; p++) /* never echo a control byte */
                if ((unsigned char)*p < ' ' || *p == 0x7f)
                    *p = '?';
            return -1;
        }
    }
    const char *val = eq ? eq + 1 : "";
    if (strlen(val) >= CONFIG_SELECTOR_PART) {
        snprintf(why, size, "label value longer than %d bytes", CONFIG_SELECTOR_PART - 1);
        return -1;
    }
    for (const char *p = val; *p; p++) {
        if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f || *p == ',') {
            snprintf(why, size, "label value of \"%.*s\" holds a control byte, a comma or "
                                "non-ASCII",
                     (int)klen, term);
            return -1;
        }
    }
    memcpy(key, term, klen);
    key[klen] = '\0';
    memcpy(value, val, strlen(val) + 1);
    return 0;
}

/* Adds the terms of v (separated by ',' or newlines, surrounding blanks trimmed) to the selector.
 * A --selector flag first drops what TRIP_SELECTOR gave (flags win). An empty v adds nothing. */
static config_code add_selector(struct config *cfg, const char *v, const char *src,
                                struct config_err *err)
{
    if (strncmp(src, "--", 2) == 0 && !cfg->selector_flag) {
        cfg->selector_flag = true;
        cfg->n_selector = 0;
    }
    size_t vl = strlen(v);
    while (vl && isspace((unsigned char)v[vl - 1]))
        vl--;
    if (vl && v[vl - 1] == ',')
        return ERR_SET(err, CONFIG_E_INVALID, "%s: empty term in \"%.100s\"", src, v);
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, ",\n");
        const char *t = p;
        bool comma = p[len] == ',' || (p > v && p[-1] == ',');
        p += len;
        if (*p)
            p++;
        while (len && isspace((unsigned char)*t)) {
            t++;
            len--;
        }
        while (len && isspace((unsigned char)t[len - 1]))
            len--;
        if (len == 0 && comma) /* "a,,b" or "a,": a mistake, not nothing; blank lines are skipped */
            return ERR_SET(err, CONFIG_E_INVALID, "%s: empty term in \"%.100s\"", src, v);
        if (len == 0)
            continue;
        char term[2 * CONFIG_SELECTOR_PART], key[CONFIG_SELECTOR_PART], val[CONFIG_SELECTOR_PART];
        char why[160];
        bool has;
        if (len >= sizeof(term))
            return ERR_SET(err, CONFIG_E_INVALID, "%s: term longer than %zu bytes", src,
                           sizeof(term) - 1);
        memcpy(term, t, len);
        term[len] = '\0';
        if (config_selector_split(term, key, val, &has, why, sizeof(why)) != 0)
            return ERR_SET(err, CONFIG_E_INVALID, "%s: %s", src, why);
        if (cfg->n_selector == CONFIG_MAX_SELECTOR)
            return ERR_SET(err, CONFIG_E_INVALID, "%s: more than %d selector terms", src,
                           CONFIG_MAX_SELECTOR);
        memcpy(cfg->selector[cfg->n_selector++], term, len + 1);
    }
    return CONFIG_OK;
}

/* Reads a whole secret file into buf, surrounding white space trimmed. Refuses (message in err)
 * a file that cannot be read, is empty or blank, starts with an empty line, holds more than one
 * line or control bytes, or does not fit: a secret is never cut nor silently dropped. */
static config_code read_secret(const char *path, char *buf, size_t size, const char *src,
                               struct config_err *err)
{
    char raw[CONFIG_STR_MAX * 4];
    FILE *f = fopen(path, "r");

    if (!f) {
        ERR_SET(err, CONFIG_E_IO, "%s: cannot read %s: %s", src, path, strerror(errno));
        return CONFIG_E_IO;
    }
    size_t n = fread(raw, 1, sizeof(raw) - 1, f);
    bool more = !ferror(f) && fgetc(f) != EOF;
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        ERR_SET(err, CONFIG_E_IO, "%s: cannot read %s", src, path);
        return CONFIG_E_IO;
    }
    raw[n] = '\0';
    char *p = raw;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t len = strlen(p);
    while (len && isspace((unsigned char)p[len - 1]))
        len--;
    p[len] = '\0';
    if (len == 0 && !more) {
        ERR_SET(err, CONFIG_E_INVALID, "%s: %s is empty", src, path);
        return CONFIG_E_INVALID;
    }
    if (*p == '\r' || *p == '\n') {
        ERR_SET(err, CONFIG_E_INVALID, "%s: %s: its first line is empty", src, path);
        return CONFIG_E_INVALID;
    }
    if (more || len >= size) {
        ERR_SET(err, CONFIG_E_INVALID, "%s: %s is longer than %zu bytes", src, path, size - 1);
        return CONFIG_E_INVALID;
    }
    if (strlen(p) != len || strpbrk(p, "\r\n")) {
        ERR_SET(err, CONFIG_E_INVALID, "%s: %s holds more than one line", src, path);
        return CONFIG_E_INVALID;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)p[i] < ' ' || p[i] == 0x7f) {
            ERR_SET(err, CONFIG_E_INVALID, "%s: %s holds a control byte", src, path);
            return CONFIG_E_INVALID;
        }
    }
    memcpy(buf, p, len + 1);
    return CONFIG_OK;
}

/* A secret given as a value: empty means unset, blank or control bytes are refused. */
static int check_secret(const char *v)
{
    bool blank = true;

    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return -1;
        if (!isspace((unsigned char)*p))
            blank = false;
    }
    return *v && blank ? -1 : 0;
}

static int parse_int(const char *v, int64_t *out)
{
    char *end;

    if (!v || !*v)
        return -1;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end)
        return -1;
    *out = x;
    return 0;
}

/* Applies one value; `src` names the flag or variable for messages. */
static config_code apply(struct config *cfg, const struct opt *o, const char *v, const char *src,
                         struct config_err *err)
{
    char *field = (char *)cfg + o->off;
    int64_t num = 0;
    int rc = 0;

    switch (o->type) {
    case OPT_SECRET:
        if (check_secret(v) != 0) {
            ERR_SET(err, CONFIG_E_INVALID, "%s: blank or holds a control byte", src);
            return CONFIG_E_INVALID;
        }
        if (strlen(v) >= o->size) {
            ERR_SET(err, CONFIG_E_INVALID, "%s: value longer than %zu bytes", src, o->size - 1);
            return CONFIG_E_INVALID;
        }
        memcpy(field, v, strlen(v) + 1);
        return CONFIG_OK;
    case OPT_STR:
        if (strlen(v) >= o->size) {
            ERR_SET(err, CONFIG_E_INVALID, "%s: value longer than %zu bytes", src, o->size - 1);
            return CONFIG_E_INVALID;
        }
        memcpy(field, v, strlen(v) + 1);
        return CONFIG_OK;
    case OPT_FILE:
        return *v ? read_secret(v, field, o->size, src, err) : CONFIG_OK;
    case OPT_SELECTOR:
        return add_selector(cfg, v, src, err);
    case OPT_BOOL:
        rc = config_bool_parse(v, (bool *)field);
        break;
    case OPT_LISTEN:
        rc = parse_listen(cfg, v);
        cfg->listen_set = true;
        break;
    case OPT_LIST:
        rc = parse_list(cfg, v);
        break;
    case OPT_DURATION:
        rc = config_duration_parse(v, &num);
        break;
    case OPT_SIZE:
        rc = config_size_parse(v, &num);
        break;
    case OPT_INT:
        rc = parse_int(v, &num);
        break;
    case OPT_CPUS:
        rc = config_cpus_parse(v, &num);
        break;
    }
    if (rc != 0) {
        ERR_SET(err, CONFIG_E_INVALID, "%s: cannot parse \"%s\"", src, v);
        return CONFIG_E_INVALID;
    }
    if (o->type == OPT_DURATION || o->type == OPT_SIZE || o->type == OPT_INT ||
        o->type == OPT_CPUS) {
        if (num < o->min || num > o->max) {
            ERR_SET(err, CONFIG_E_INVALID, "%s: %s is out of bounds [%lld, %lld]", src, v,
                    (long long)o->min, (long long)o->max);
            return CONFIG_E_INVALID;
        }
        memcpy(field, &num, sizeof(num));
    }
    return CONFIG_OK;
}

int config_cpus_parse(const char *s, int64_t *nano)
{
    int64_t whole = 0, frac = 0, scale = 1000000000;
    const char *p = s;

    if (!p || !*p || *p == '.')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > 1000000)
            return -1;
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        if (!p[1])
            return -1;
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (scale == 1)
                return -1;
            scale /= 10;
            frac += (*p - '0') * scale;
        }
    }
    if (*p)
        return -1;
    *nano = whole * 1000000000 + frac;
    return 0;
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < N_OPTS; i++) {
        if (opts[i].type != OPT_FILE)
            (void)apply(cfg, &opts[i], opts[i].def, opts[i].flag, NULL);
    }
    cfg->listen_set = false;
}

static const struct opt *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        if (strlen(opts[i].flag) == len && strncmp(opts[i].flag, name, len) == 0)
            return &opts[i];
    }
    return NULL;
}

static const char *env_get(char *const *envp, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; envp && envp[i]; i++) {
        if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
            return envp[i] + len + 1;
    }
    return NULL;
}

static config_code apply_env(struct config *cfg, char *const *envp, struct config_err *err)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        const char *v = env_get(envp, opts[i].env);
        if (v && apply(cfg, &opts[i], v, opts[i].env, err) != CONFIG_OK)
            return err ? err->code : CONFIG_E_INVALID;
    }
    return CONFIG_OK;
}

/* Handles argv[*i]; advances *i past a consumed value. */
static config_code apply_flag(struct config *cfg, int argc, char *const *argv, int *i,
                              struct config_err *err)
{
    const char *arg = argv[*i];
    char src[96];

    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
        return CONFIG_HELP;
    if (strcmp(arg, "--version") == 0)
        return CONFIG_VERSION;
    if (strncmp(arg, "--", 2) != 0) {
        ERR_SET(err, CONFIG_E_INVALID, "unexpected argument \"%s\" (see --help)", arg);
        return CONFIG_E_INVALID;
    }
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct opt *o = find_flag(name, len);
    if (!o) {
        ERR_SET(err, CONFIG_E_INVALID, "unknown flag --%.*s (see --help)", (int)len, name);
        return CONFIG_E_INVALID;
    }
    snprintf(src, sizeof(src), "--%s", o->flag);
    if (o->type == OPT_SECRET && o->off != OFF(basic_user))
        cfg->secret_on_cmdline = true;
    if (eq)
        return apply(cfg, o, eq + 1, src, err);
    if (o->type == OPT_BOOL)
        return apply(cfg, o, "true", src, err);
    if (*i + 1 >= argc) {
        ERR_SET(err, CONFIG_E_INVALID, "%s needs a value", src);
        return CONFIG_E_INVALID;
    }
    *i += 1;
    return apply(cfg, o, argv[*i], src, err);
}

static config_code check(const struct config *cfg, struct config_err *err)
{
    if (cfg->min_duration_ms > cfg->max_duration_ms) {
        ERR_SET(err, CONFIG_E_INVALID, "--min-duration is above --max-duration");
        return CONFIG_E_INVALID;
    }
    if (cfg->scale_duration_ms < cfg->min_duration_ms ||
        cfg->scale_duration_ms > cfg->max_duration_ms) {
        ERR_SET(err, CONFIG_E_INVALID,
                "--scale-duration is outside [--min-duration, --max-duration]");
        return CONFIG_E_INVALID;
    }
    if (cfg->cpu_shares > cfg->max_cpu_shares) {
        ERR_SET(err, CONFIG_E_INVALID, "--cpu-shares is above --max-cpu-shares");
        return CONFIG_E_INVALID;
    }
    if (cfg->memory > cfg->max_memory) {
        ERR_SET(err, CONFIG_E_INVALID, "--memory is above --max-memory");
        return CONFIG_E_INVALID;
    }
    if (cfg->basic_password[0] && !cfg->basic_user[0]) {
        ERR_SET(err, CONFIG_E_INVALID, "a basic auth password needs --basic-auth-user");
        return CONFIG_E_INVALID;
    }
    if (cfg->basic_user[0] && !cfg->basic_password[0]) {
        ERR_SET(err, CONFIG_E_INVALID, "--basic-auth-user needs a password");
        return CONFIG_E_INVALID;
    }
    char key[CONFIG_SELECTOR_PART], val[CONFIG_SELECTOR_PART], why[160];
    bool has;
    if (cfg->heal_label_filter[0] &&
        config_selector_split(cfg->heal_label_filter, key, val, &has, why, sizeof(why)) != 0) {
        ERR_SET(err, CONFIG_E_INVALID, "--heal-label-filter: %s", why);
        return CONFIG_E_INVALID;
    }
    if (!cfg->state_dir[0]) {
        ERR_SET(err, CONFIG_E_INVALID, "--state-dir must not be empty");
        return CONFIG_E_INVALID;
    }
    return CONFIG_OK;
}

/* Closed by default: no token and no basic auth is refused unless --insecure-no-auth, which then
 * listens on loopback unless --listen says otherwise. */
static config_code check_auth(struct config *cfg, struct config_err *err)
{
    if (cfg->token[0] || cfg->basic_user[0])
        return CONFIG_OK;
    if (!cfg->insecure_no_auth) {
        ERR_SET(err, CONFIG_E_INVALID,
                "no authentication: give --token-file (or TRIP_TOKEN_FILE, TRIP_TOKEN) or "
                "--basic-auth-user with --basic-auth-password-file; --insecure-no-auth runs "
                "without (on 127.0.0.1 unless --listen)");
        return CONFIG_E_INVALID;
    }
    if (!cfg->listen_set)
        snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
    return CONFIG_OK;
}

const char *config_redact_url(char *buf, size_t size, const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *end = host + strcspn(host, "/?#");
    const char *at = NULL;

    for (const char *p = host; p < end; p++) {
        if (*p == '@')
            at = p;
    }
    if (!at) {
        snprintf(buf, size, "%s", url);
        return buf;
    }
    snprintf(buf, size, "%.*s***@%s", (int)(host - url), url, at + 1);
    return buf;
}

config_code config_parse(struct config *cfg, int argc, char *const *argv, char *const *envp,
                         struct config_err *err)
{
    config_code rc;

    config_defaults(cfg);
    rc = apply_env(cfg, envp, err);
    if (rc != CONFIG_OK)
        return rc;
    for (int i = 1; i < argc; i++) {
        rc = apply_flag(cfg, argc, argv, &i, err);
        if (rc != CONFIG_OK)
            return rc;
    }
    rc = check(cfg, err);
    return rc == CONFIG_OK ? check_auth(cfg, err) : rc;
}

void config_usage(FILE *f, const char *prog)
{
    fprintf(
        f,
        "Usage: %s [flags]\n"
        "Takes Alertmanager webhooks and operator requests and scales, restarts and scales back\n"
        "in Docker containers. Every flag may also be set by the environment variable shown.\n\n",
        prog);
    for (size_t i = 0; i < N_OPTS; i++) {
        const struct opt *o = &opts[i];
        const char *arg = o->type == OPT_BOOL       ? "[=BOOL]"
                          : o->type == OPT_DURATION ? " DURATION"
                          : o->type == OPT_SIZE     ? " SIZE"
                          : o->type == OPT_INT      ? " N"
                          : o->type == OPT_CPUS     ? " CPUS"
                          : o->type == OPT_FILE     ? " PATH"
                          : o->type == OPT_SECRET   ? " SECRET"
                          : o->type == OPT_SELECTOR ? " LABEL[=VALUE]"
                                                    : " VALUE";
        fprintf(f, "  --%s%s\n      %s (env %s, default \"%s\")\n", o->flag, arg, o->help, o->env,
                o->def);
    }
    fprintf(f, "  --help     this text\n  --version  print the version\n\n"
               "DURATION: 500ms, 20s, 5m, 1h, 1h30m. SIZE: bytes or 512m, 2g (binary units).\n");
}
