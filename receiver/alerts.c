/* alerts.c: webhook payload v4 parsing with jansson. */
#include "alerts.h"

#include "err.h"
#include "utf8.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *alerts_action_name(enum alerts_action a)
{
    switch (a) {
    case ALERTS_SCALE_CPU:
        return "scale-cpu";
    case ALERTS_SCALE_MEMORY:
        return "scale-memory";
    case ALERTS_RESTART:
        return "restart";
    case ALERTS_SCALE_REPLICAS:
        return "scale-replicas";
    case ALERTS_SCALE_CPUS:
        return "scale-cpus";
    default:
        return "none";
    }
}

const char *alerts_status_name(enum alerts_status s)
{
    return s == ALERTS_FIRING ? "firing" : "resolved";
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int alerts_time_parse(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, used = 0;
    int64_t frac_ms = 0;

    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6 ||
        used != 19)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    const char *p = s + used;
    if (*p == '.') {
        int digits = 0;
        for (p++; isdigit((unsigned char)*p); p++, digits++) {
            if (digits < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
        }
        if (digits == 0)
            return -1;
        for (; digits < 3; digits++)
            frac_ms *= 10;
    }
    int offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        /* exactly [+-]HH:MM: check each byte before moving past them */
        if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]) || p[3] != ':' ||
            !isdigit((unsigned char)p[4]) || !isdigit((unsigned char)p[5]))
            return -1;
        int oh = (p[1] - '0') * 10 + (p[2] - '0');
        int om = (p[4] - '0') * 10 + (p[5] - '0');
        if (oh > 23 || om > 59)
            return -1;
        offset_s = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    if (y <= 1) {
        *ms = 0;
        return 0;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    *ms = secs * 1000 + frac_ms;
    return 0;
}

/* Copies without splitting a UTF-8 character (the reply and the state file are JSON). */
static void copy_str(char *dst, size_t size, const char *src)
{
    utf8_copy(dst, size, src);
}

static enum alerts_action action_from(const json_t *labels, const struct alerts_opts *o,
                                      const char *alertname, char *problem, size_t psize)
{
    const char *a = json_string_value(json_object_get(labels, "action"));

    if (a) {
        if (strcmp(a, "scale-cpu") == 0)
            return ALERTS_SCALE_CPU;
        if (strcmp(a, "scale-memory") == 0)
            return ALERTS_SCALE_MEMORY;
        if (strcmp(a, "restart") == 0)
            return ALERTS_RESTART;
        if (strcmp(a, "scale-replicas") == 0)
            return ALERTS_SCALE_REPLICAS;
        if (strcmp(a, "scale-cpus") == 0)
            return ALERTS_SCALE_CPUS;
        snprintf(problem, psize, "unknown action label \"%.60s\"", a);
        return ALERTS_ACTION_NONE;
    }
    if (strcmp(alertname, o->cpu_alert ? o->cpu_alert : "ContainerHighCpu") == 0)
        return ALERTS_SCALE_CPU;
    if (strcmp(alertname, o->memory_alert ? o->memory_alert : "ContainerHighMemory") == 0)
        return ALERTS_SCALE_MEMORY;
    if (strcmp(alertname, o->down_alert ? o->down_alert : "ContainerDown") == 0)
        return ALERTS_RESTART;
    snprintf(problem, psize, "no action label and alertname \"%.60s\" maps to no action",
             alertname);
    return ALERTS_ACTION_NONE;
}

/* Fills dst from the first container label present ("" when none). -1 when the name is too long. */
static int container_from(const json_t *labels, const struct alerts_opts *o, char *dst, size_t size)
{
    static const char *const def[] = {"name"};
    const char *const *names = o->n_container_labels ? o->container_labels : def;
    size_t n = o->n_container_labels ? o->n_container_labels : 1;

    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_object_get(labels, names[i]));
        if (v && *v) {
            const char *name = v[0] == '/' ? v + 1 : v;
            /* never cut a container name: a prefix could name another container */
            if (strlen(name) >= size) {
                dst[0] = '\0';
                return -1;
            }
            copy_str(dst, size, name);
            return 0;
        }
    }
    dst[0] = '\0';
    return 0;
}

/* Stable stand-in when Alertmanager sent no fingerprint: FNV-1a of the sorted labels. */
static void derive_fingerprint(const json_t *labels, char *dst, size_t size)
{
    uint64_t h = 1469598103934665603ULL;
    char *dump = json_dumps(labels, JSON_SORT_KEYS | JSON_COMPACT);

    for (const char *p = dump ? dump : ""; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    free(dump);
    snprintf(dst, size, "%016llx", (unsigned long long)h);
}

static void parse_times(const json_t *a, struct alerts_record *r)
{
    const char *s = json_string_value(json_object_get(a, "startsAt"));
    if (s && alerts_time_parse(s, &r->starts_at_ms) != 0 && !r->problem[0])
        snprintf(r->problem, sizeof(r->problem), "malformed startsAt \"%.40s\"", s);
    s = json_string_value(json_object_get(a, "endsAt"));
    if (s && alerts_time_parse(s, &r->ends_at_ms) != 0 && !r->problem[0])
        snprintf(r->problem, sizeof(r->problem), "malformed endsAt \"%.40s\"", s);
}

/* Copies the label `key` into dst; a value that does not fit is refused (r->problem), never cut
 * into another meaning ("000...005ms" must not become "000...00"). */
static void copy_label(struct alerts_record *r, const json_t *labels, const char *key, char *dst,
                       size_t size)
{
    const char *v = json_string_value(json_object_get(labels, key));

    if (v && strlen(v) >= size) {
        if (!r->problem[0])
            snprintf(r->problem, sizeof(r->problem), "label %s is longer than %zu bytes", key,
                     size - 1);
        return;
    }
    copy_str(dst, size, v);
}

static void parse_one(const json_t *a, const struct alerts_opts *o, struct alerts_record *r)
{
    const json_t *labels = json_object_get(a, "labels");
    const char *status = json_string_value(json_object_get(a, "status"));

    memset(r, 0, sizeof(*r));
    if (!json_is_object(a)) {
        copy_str(r->problem, sizeof(r->problem), "alert is not an object");
        return;
    }
    if (status && strcmp(status, "resolved") == 0) {
        r->status = ALERTS_RESOLVED;
    } else if (!status || strcmp(status, "firing") != 0) {
        snprintf(r->problem, sizeof(r->problem), "status must be firing or resolved");
    }
    if (!json_is_object(labels)) {
        if (!r->problem[0])
            copy_str(r->problem, sizeof(r->problem), "alert has no labels object");
        return;
    }
    copy_label(r, labels, "alertname", r->alertname, sizeof(r->alertname));
    copy_label(r, labels, "scale_duration", r->duration, sizeof(r->duration));
    const char *fp = json_string_value(json_object_get(a, "fingerprint"));
    if (fp && *fp)
        copy_str(r->fingerprint, sizeof(r->fingerprint), fp);
    else
        derive_fingerprint(labels, r->fingerprint, sizeof(r->fingerprint));
    bool too_long = container_from(labels, o, r->container, sizeof(r->container)) != 0;
    char problem[128] = "";
    r->action = action_from(labels, o, r->alertname, problem, sizeof(problem));
    if (!r->problem[0] && problem[0])
        copy_str(r->problem, sizeof(r->problem), problem);
    if (!r->problem[0] && too_long)
        snprintf(r->problem, sizeof(r->problem), "container label longer than %zu bytes",
                 sizeof(r->container) - 1);
    if (!r->problem[0] && !r->container[0])
        snprintf(r->problem, sizeof(r->problem), "no container label (tried %s%s)",
                 o->n_container_labels ? o->container_labels[0] : "name",
                 o->n_container_labels > 1 ? ", ..." : "");
    parse_times(a, r);
    utf8_trim(r->problem); /* "%.60s" of a label may have split a character */
}

alerts_code alerts_parse(const char *body, size_t len, const struct alerts_opts *opts,
                         struct alerts_batch *out, struct alerts_err *err)
{
    static const struct alerts_opts none = {0};
    const struct alerts_opts *o = opts ? opts : &none;
    size_t max = o->max_alerts ? o->max_alerts : 1000;
    json_error_t jerr;
    alerts_code rc = ALERTS_OK;

    out->v = NULL;
    out->n = 0;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        ERR_SET(err, ALERTS_E_JSON, "malformed JSON at line %d column %d: %s", jerr.line,
                jerr.column, jerr.text);
        return ALERTS_E_JSON;
    }
    const json_t *alerts = json_object_get(root, "alerts");
    const char *version = json_string_value(json_object_get(root, "version"));
    if (!json_is_object(root) || !json_is_array(alerts)) {
        ERR_SET(err, ALERTS_E_PAYLOAD, "not an Alertmanager webhook payload: no \"alerts\" array");
        rc = ALERTS_E_PAYLOAD;
        goto out_decref;
    }
    if (version && strcmp(version, "4") != 0) {
        ERR_SET(err, ALERTS_E_PAYLOAD, "unsupported webhook payload version \"%.20s\" (want \"4\")",
                version);
        rc = ALERTS_E_PAYLOAD;
        goto out_decref;
    }
    if (json_array_size(alerts) > max) {
        ERR_SET(err, ALERTS_E_TOOMANY, "%zu alerts in one payload, at most %zu",
                json_array_size(alerts), max);
        rc = ALERTS_E_TOOMANY;
        goto out_decref;
    }
    out->v = calloc(json_array_size(alerts) + 1, sizeof(*out->v));
    if (!out->v) {
        ERR_SET(err, ALERTS_E_NOMEM, "out of memory");
        rc = ALERTS_E_NOMEM;
        goto out_decref;
    }
    for (size_t i = 0; i < json_array_size(alerts); i++)
        parse_one(json_array_get(alerts, i), o, &out->v[out->n++]);
out_decref:
    json_decref(root);
    return rc;
}

void alerts_batch_free(struct alerts_batch *b)
{
    if (!b)
        return;
    free(b->v);
    b->v = NULL;
    b->n = 0;
}
