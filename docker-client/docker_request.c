/* docker_request.c: request building (endpoints, paths, query filters, bodies) and error mapping;
 * pure functions, no I/O. */
#include "docker_internal.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *docker_code_name(docker_code code)
{
    switch (code) {
    case DOCKER_OK:
        return "ok";
    case DOCKER_E_INVALID:
        return "invalid";
    case DOCKER_E_NOMEM:
        return "nomem";
    case DOCKER_E_UNREACHABLE:
        return "unreachable";
    case DOCKER_E_TIMEOUT:
        return "timeout";
    case DOCKER_E_TRANSPORT:
        return "transport";
    case DOCKER_E_CANCELLED:
        return "cancelled";
    case DOCKER_E_NOT_MODIFIED:
        return "not_modified";
    case DOCKER_E_BAD_REQUEST:
        return "bad_request";
    case DOCKER_E_NOT_FOUND:
        return "not_found";
    case DOCKER_E_CONFLICT:
        return "conflict";
    case DOCKER_E_SERVER:
        return "server";
    case DOCKER_E_MALFORMED:
        return "malformed";
    case DOCKER_E_TOOBIG:
        return "toobig";
    case DOCKER_E_NO_SWARM:
        return "no_swarm";
    case DOCKER_E_API_VERSION:
        return "api_version";
    case DOCKER_E_UNSUPPORTED:
        return "unsupported";
    }
    return "unknown";
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when p does not start one (stray or
 * truncated continuation bytes, overlong forms, surrogates, beyond U+10FFFF). p is NUL-terminated. */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    size_t n;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        n = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        n = 3;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        n = 4;
    else
        return 0;
    if (p[0] == 0xE0)
        lo = 0xA0;
    else if (p[0] == 0xED)
        hi = 0x9F;
    else if (p[0] == 0xF0)
        lo = 0x90;
    else if (p[0] == 0xF4)
        hi = 0x8F;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    }
    return n;
}

/* Replaces every byte that is not part of valid UTF-8 with '?': messages hold the daemon's text,
 * names from outside and cuts made by truncation, and end up in JSON, which must be UTF-8. */
static void utf8_sanitize(char *s)
{
    unsigned char *p = (unsigned char *)s;

    while (*p) {
        size_t n = utf8_seq(p);

        if (n == 0) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

docker_code docker_err_set(struct docker_err *err, docker_code code, int http_status,
                           const char *fmt, ...)
{
    va_list ap;

    if (!err || err->code != DOCKER_OK)
        return code;
    err->code = code;
    err->http_status = http_status;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    utf8_sanitize(err->msg);
    return code;
}

docker_code docker_endpoint_parse(const char *host, struct docker_endpoint *out,
                                  struct docker_err *err)
{
    const char *rest;

    memset(out, 0, sizeof(*out));
    if (!host || !*host)
        host = "unix://" DOCKER_DEFAULT_SOCKET;
    if (strncmp(host, "unix://", 7) == 0) {
        rest = host + 7;
        if (*rest != '/' || strlen(rest) >= sizeof(out->socket_path))
            return docker_err_set(err, DOCKER_E_INVALID, 0,
                                  "docker host %.200s: want unix:///absolute/path", host);
        snprintf(out->socket_path, sizeof(out->socket_path), "%s", rest);
        snprintf(out->base_url, sizeof(out->base_url), "http://localhost");
        return DOCKER_OK;
    }
    if (strncmp(host, "tcp://", 6) == 0) {
        rest = host + 6;
        if (!*rest || *rest == '/' || strlen(rest) >= sizeof(out->base_url) - 8 ||
            strpbrk(rest, "/?#@ \t\r\n"))
            return docker_err_set(err, DOCKER_E_INVALID, 0,
                                  "docker host %.200s: want tcp://host:port", host);
        snprintf(out->base_url, sizeof(out->base_url), "http://%s", rest);
        return DOCKER_OK;
    }
    return docker_err_set(err, DOCKER_E_INVALID, 0,
                          "docker host %.200s: scheme must be unix:// or tcp://", host);
}

/* Parses "MAJOR.MINOR" into numbers; false if it is not that. */
static bool api_split(const char *v, long *major, long *minor)
{
    char *end;

    if (!v || !isdigit((unsigned char)v[0]) || strlen(v) > 10)
        return false;
    *major = strtol(v, &end, 10);
    if (*end != '.' || !isdigit((unsigned char)end[1]))
        return false;
    *minor = strtol(end + 1, &end, 10);
    return *end == '\0';
}

bool docker_api_valid(const char *v)
{
    long major;
    long minor;

    return api_split(v, &major, &minor);
}

int docker_api_cmp(const char *a, const char *b)
{
    long amaj = 0;
    long amin = 0;
    long bmaj = 0;
    long bmin = 0;

    api_split(a, &amaj, &amin);
    api_split(b, &bmaj, &bmin);
    if (amaj != bmaj)
        return amaj < bmaj ? -1 : 1;
    return amin < bmin ? -1 : amin > bmin;
}

docker_code docker_api_negotiate(const char *daemon_max, const char *daemon_min, char *out,
                                 size_t len, struct docker_err *err)
{
    bool has_min = daemon_min && daemon_min[0];
    const char *pick;

    if (!docker_api_valid(daemon_max) || (has_min && !docker_api_valid(daemon_min)))
        return docker_err_set(err, DOCKER_E_MALFORMED, 0,
                              "negotiate API version: daemon sent \"%.32s\"..\"%.32s\"",
                              daemon_min ? daemon_min : "", daemon_max ? daemon_max : "");
    pick = docker_api_cmp(daemon_max, DOCKER_API_MAX) < 0 ? daemon_max : DOCKER_API_MAX;
    if ((has_min && docker_api_cmp(pick, daemon_min) < 0) ||
        docker_api_cmp(pick, DOCKER_API_MIN) < 0)
        return docker_err_set(err, DOCKER_E_API_VERSION, 0,
                              "negotiate API version: the daemon speaks %s..%s, this client "
                              "%s..%s; no version in common",
                              has_min ? daemon_min : "?", daemon_max, DOCKER_API_MIN,
                              DOCKER_API_MAX);
    snprintf(out, len, "%s", pick);
    return DOCKER_OK;
}

docker_code docker_escape(const char *s, char *out, size_t len, struct docker_err *err)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    if (!s || !*s)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "escape: empty name or id");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~';

        if (o + (plain ? 1 : 3) >= len)
            return docker_err_set(err, DOCKER_E_TOOBIG, 0, "escape: \"%.64s\" too long", s);
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return DOCKER_OK;
}

/* "/v<ver>/<kind>s/<escaped id>[/<action>][?<query>]"; kind names the object in messages. */
static docker_code object_path(const char *ver, const char *kind, const char *id,
                               const char *action, const char *query, const char *what, char *out,
                               size_t len, struct docker_err *err)
{
    char esc[DOCKER_PATH_MAX];
    docker_code code;
    int n;

    /* "." and ".." survive escaping unchanged and are dot segments; the daemon decodes "%2F" and
     * redirects the cleaned path. No container or service name or id holds a '/': refuse those
     * outright. */
    if (!id || !*id || strcmp(id, ".") == 0 || strcmp(id, "..") == 0 || strchr(id, '/'))
        return docker_err_set(err, DOCKER_E_INVALID, 0, "%s: invalid %s name or id",
                              what ? what : action, kind);
    code = docker_escape(id, esc, sizeof(esc), err);
    if (code != DOCKER_OK)
        return code;
    n = snprintf(out, len, "/v%s/%ss/%s%s%s%s%s", ver, kind, esc, action ? "/" : "",
                 action ? action : "", query ? "?" : "", query ? query : "");
    if (n < 0 || (size_t)n >= len)
        return docker_err_set(err, DOCKER_E_TOOBIG, 0, "%s: request path too long",
                              what ? what : action);
    return DOCKER_OK;
}

docker_code docker_container_path(const char *ver, const char *id, const char *action,
                                  const char *query, const char *what, char *out, size_t len,
                                  struct docker_err *err)
{
    return object_path(ver, "container", id, action, query, what, out, len, err);
}

docker_code docker_service_path(const char *ver, const char *id, const char *action,
                                const char *query, const char *what, char *out, size_t len,
                                struct docker_err *err)
{
    return object_path(ver, "service", id, action, query, what ? what : "service", out, len,
                       err);
}

/* Appends every string of a NULL-terminated list to a new JSON array under key in obj. */
static docker_code add_list(json_t *obj, const char *key, const char *const *list)
{
    json_t *arr;

    if (!list || !list[0])
        return DOCKER_OK;
    arr = json_array();
    if (!arr || json_object_set_new(obj, key, arr) != 0)
        return DOCKER_E_NOMEM;
    for (size_t i = 0; list[i]; i++) {
        if (!*list[i])
            return DOCKER_E_INVALID;
        if (json_array_append_new(arr, json_string(list[i])) != 0)
            return DOCKER_E_INVALID; /* not UTF-8, or out of memory */
    }
    return DOCKER_OK;
}

/* Serializes obj when it has members; NULL when empty or on error (code says which). */
static char *dump_filters(json_t *obj, docker_code *code)
{
    char *s = NULL;

    if (*code == DOCKER_OK && json_object_size(obj) > 0) {
        s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
        if (!s)
            *code = DOCKER_E_NOMEM;
    }
    json_decref(obj);
    return s;
}

char *docker_list_filters_json(const char *const *label_filters, docker_code *code)
{
    json_t *obj = json_object();

    *code = obj ? add_list(obj, "label", label_filters) : DOCKER_E_NOMEM;
    return obj ? dump_filters(obj, code) : NULL;
}

/* "filters=<escaped json>" appended to a path; json may be NULL (nothing appended). */
static docker_code append_filters(char *out, size_t len, const char *sep, const char *json,
                                  struct docker_err *err)
{
    char esc[DOCKER_PATH_MAX];
    size_t used = strlen(out);
    docker_code code;
    int n;

    if (!json)
        return DOCKER_OK;
    code = docker_escape(json, esc, sizeof(esc), err);
    if (code != DOCKER_OK)
        return code;
    n = snprintf(out + used, len - used, "%sfilters=%s", sep, esc);
    if (n < 0 || (size_t)n >= len - used)
        return docker_err_set(err, DOCKER_E_TOOBIG, 0, "filters: request path too long");
    return DOCKER_OK;
}

docker_code docker_list_path(const char *ver, const char *const *label_filters, bool all, char *out,
                             size_t len, struct docker_err *err)
{
    docker_code code;
    char *json = docker_list_filters_json(label_filters, &code);

    if (code != DOCKER_OK)
        return docker_err_set(err, code, 0, "list: %s label filter",
                              code == DOCKER_E_NOMEM ? "cannot build" : "empty or invalid");
    snprintf(out, len, "/v%s/containers/json?all=%d", ver, all ? 1 : 0);
    code = append_filters(out, len, "&", json, err);
    free(json);
    return code;
}

docker_code docker_service_list_path(const char *ver, const char *const *label_filters, char *out,
                                     size_t len, struct docker_err *err)
{
    docker_code code;
    char *json = docker_list_filters_json(label_filters, &code);

    if (code != DOCKER_OK)
        return docker_err_set(err, code, 0, "list services: %s label filter",
                              code == DOCKER_E_NOMEM ? "cannot build" : "empty or invalid");
    snprintf(out, len, "/v%s/services", ver);
    code = append_filters(out, len, "?", json, err);
    free(json);
    return code;
}

docker_code docker_tasks_path(const char *ver, const char *service, char *out, size_t len,
                              struct docker_err *err)
{
    const char *const svc[] = {service, NULL};
    const char *const running[] = {"running", NULL};
    json_t *obj;
    docker_code code;
    char *json;

    if (!service || !*service)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "tasks: empty service name or id");
    obj = json_object();
    code = obj ? add_list(obj, "service", svc) : DOCKER_E_NOMEM;
    if (code == DOCKER_OK)
        code = add_list(obj, "desired-state", running);
    json = obj ? dump_filters(obj, &code) : NULL;
    if (code != DOCKER_OK)
        return docker_err_set(err, code, 0, "tasks %.64s: %s filter", service,
                              code == DOCKER_E_NOMEM ? "cannot build" : "invalid");
    snprintf(out, len, "/v%s/tasks", ver);
    code = append_filters(out, len, "?", json, err);
    free(json);
    return code;
}

docker_code docker_events_path(const char *ver, const struct docker_events_filter *f, char *out,
                               size_t len, struct docker_err *err)
{
    json_t *obj = json_object();
    docker_code code = obj ? DOCKER_OK : DOCKER_E_NOMEM;
    char *json;
    int n;

    if (f && code == DOCKER_OK)
        code = add_list(obj, "type", f->types);
    if (f && code == DOCKER_OK)
        code = add_list(obj, "event", f->events);
    if (f && code == DOCKER_OK)
        code = add_list(obj, "label", f->labels);
    json = obj ? dump_filters(obj, &code) : NULL;
    if (code != DOCKER_OK)
        return docker_err_set(err, code, 0, "events: %s filter",
                              code == DOCKER_E_NOMEM ? "cannot build" : "empty or invalid");
    if (f && f->since > 0)
        n = snprintf(out, len, "/v%s/events?since=%lld", ver, (long long)f->since);
    else
        n = snprintf(out, len, "/v%s/events", ver);
    if (n < 0 || (size_t)n >= len) {
        free(json);
        return docker_err_set(err, DOCKER_E_TOOBIG, 0, "events: request path too long");
    }
    code = append_filters(out, len, strchr(out, '?') ? "&" : "?", json, err);
    free(json);
    return code;
}

docker_code docker_update_body(const struct docker_update *u, char **out, struct docker_err *err)
{
    json_t *obj;

    *out = NULL;
    if (!u || !(u->has_cpu_shares || u->has_memory || u->has_memory_swap || u->has_nano_cpus))
        return docker_err_set(err, DOCKER_E_INVALID, 0, "update: no field to change");
    if ((u->has_cpu_shares && u->cpu_shares < 0) || (u->has_memory && u->memory < 0) ||
        (u->has_memory_swap && u->memory_swap < -1) || (u->has_nano_cpus && u->nano_cpus < 0))
        return docker_err_set(err, DOCKER_E_INVALID, 0, "update: negative value");
    obj = json_object();
    if (!obj)
        return docker_err_set(err, DOCKER_E_NOMEM, 0, "update: out of memory");
    if (u->has_cpu_shares)
        json_object_set_new(obj, "CpuShares", json_integer(u->cpu_shares));
    if (u->has_memory)
        json_object_set_new(obj, "Memory", json_integer(u->memory));
    if (u->has_memory_swap)
        json_object_set_new(obj, "MemorySwap", json_integer(u->memory_swap));
    if (u->has_nano_cpus)
        json_object_set_new(obj, "NanoCpus", json_integer(u->nano_cpus));
    *out = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(obj);
    if (!*out)
        return docker_err_set(err, DOCKER_E_NOMEM, 0, "update: out of memory");
    return DOCKER_OK;
}

docker_code docker_code_for_status(long status)
{
    if (status >= 200 && status < 300)
        return DOCKER_OK;
    switch (status) {
    case 304:
        return DOCKER_E_NOT_MODIFIED;
    case 400:
        return DOCKER_E_BAD_REQUEST;
    case 404:
        return DOCKER_E_NOT_FOUND;
    case 409:
        return DOCKER_E_CONFLICT;
    default:
        return DOCKER_E_SERVER;
    }
}

/* Copies the first line of body (printable bytes only) into out. */
static void first_line(const char *body, size_t len, char *out, size_t outlen)
{
    size_t o = 0;

    for (size_t i = 0; i < len && o + 1 < outlen && body[i] != '\n'; i++) {
        unsigned char ch = (unsigned char)body[i];

        if (ch >= 0x20 && ch != 0x7f)
            out[o++] = (char)ch;
    }
    out[o] = '\0';
}

docker_code docker_reply_error(long status, const char *body, size_t len, const char *what,
                               struct docker_err *err)
{
    docker_code code = docker_code_for_status(status);
    char text[200] = "";
    json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(root, "message"));

    if (msg)
        snprintf(text, sizeof(text), "%s", msg);
    else if (!root && body && len)
        first_line(body, len, text, sizeof(text));
    if (!text[0] && status == 304)
        snprintf(text, sizeof(text), "not modified (already in that state)");
    else if (!text[0])
        snprintf(text, sizeof(text), "HTTP %ld", status);
    json_decref(root);
    /* Docker: "client version 1.41 is too old. Minimum supported API version is 1.44, ..." and
     * "client version 1.99 is too new. Maximum supported API version is 1.41" */
    if (status == 400 && strstr(text, "client version ") &&
        (strstr(text, " is too old") || strstr(text, " is too new")))
        code = DOCKER_E_API_VERSION;
    /* Podman: a container removed between its lookup and the call (`rm -f` racing a start) is
     * 500 "container <id> does not exist in database: no such container", which Docker says
     * with 404 */
    size_t tl = strlen(text), nl = strlen(": no such container");
    if (status == 500 && tl >= nl && strcmp(text + tl - nl, ": no such container") == 0)
        code = DOCKER_E_NOT_FOUND;
    return docker_err_set(err, code, (int)status, "%s: %s", what, text);
}

docker_code docker_service_reply_error(long status, const char *body, size_t len, const char *what,
                                       struct docker_err *err)
{
    struct docker_err e = {0};
    docker_code code = docker_reply_error(status, body, len, what, &e);

    /* measured on Docker 20.10 (docs/docker-engine.md): a stale or future ?version= is refused
     * with 500 "rpc error: code = Unknown desc = update out of sequence"; a node that is not a
     * manager answers every service call with 503 */
    if (status == 503)
        code = DOCKER_E_NO_SWARM;
    else if (status == 500 && strstr(e.msg, "update out of sequence"))
        code = DOCKER_E_CONFLICT;
    return docker_err_set(err, code, (int)status, "%s", e.msg);
}

/* Sets obj[key] to v, or removes it when v is 0. */
static int set_or_del(json_t *obj, const char *key, int64_t v)
{
    if (v == 0) {
        json_object_del(obj, key); /* fails only when absent: nothing to remove */
        return 0;
    }
    return json_object_set_new(obj, key, json_integer(v));
}

/* res[key] = {NanoCPUs: cpus, MemoryBytes: mem}, other members of res[key] kept; an object left
 * empty is removed. -1 on allocation failure or when res[key] is not an object. */
static int set_pair(json_t *res, const char *key, int64_t cpus, int64_t mem)
{
    json_t *obj = json_object_get(res, key);

    if (obj && json_is_null(obj)) {
        json_object_del(res, key);
        obj = NULL;
    }
    if (!obj && cpus == 0 && mem == 0)
        return 0;
    if (!obj) {
        obj = json_object();
        if (!obj || json_object_set_new(res, key, obj) != 0)
            return -1;
    }
    if (!json_is_object(obj) || set_or_del(obj, "NanoCPUs", cpus) != 0 ||
        set_or_del(obj, "MemoryBytes", mem) != 0)
        return -1;
    if (json_object_size(obj) == 0)
        json_object_del(res, key);
    return 0;
}

/* The object at parent[key], created when absent or null; NULL when it is something else. */
static json_t *child_object(json_t *parent, const char *key)
{
    json_t *obj = json_object_get(parent, key);

    if (obj && !json_is_null(obj))
        return json_is_object(obj) ? obj : NULL;
    obj = json_object();
    if (!obj || json_object_set_new(parent, key, obj) != 0)
        return NULL;
    return obj;
}

static docker_code apply_resources(json_t *spec, const struct docker_service_resources *r)
{
    json_t *res = child_object(child_object(spec, "TaskTemplate"), "Resources");

    if (!res || set_pair(res, "Limits", r->limit_nano_cpus, r->limit_memory) != 0 ||
        set_pair(res, "Reservations", r->reserve_nano_cpus, r->reserve_memory) != 0)
        return DOCKER_E_MALFORMED;
    return DOCKER_OK;
}

/* Refusals that need no request: nothing to change, negative values, scaling a global service. */
static docker_code check_change(const struct docker_service *cur,
                                const struct docker_service_change *chg, struct docker_err *err)
{
    const struct docker_service_resources *r = &chg->res;
    const char *name = cur->name[0] ? cur->name : cur->id;

    if (!chg->has_replicas && !chg->has_resources)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "update service %.64s: no field to change",
                              name);
    if (chg->has_replicas && cur->global)
        return docker_err_set(err, DOCKER_E_INVALID, 0,
                              "update service %.64s: a global service has no replica count", name);
    if ((chg->has_replicas && chg->replicas < 0) ||
        (chg->has_resources && (r->limit_nano_cpus < 0 || r->limit_memory < 0 ||
                                r->reserve_nano_cpus < 0 || r->reserve_memory < 0)))
        return docker_err_set(err, DOCKER_E_INVALID, 0, "update service %.64s: negative value",
                              name);
    if (!cur->spec)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "update service %.64s: no spec read",
                              name);
    return DOCKER_OK;
}

docker_code docker_service_spec_apply(const struct docker_service *cur,
                                      const struct docker_service_change *chg, char **out,
                                      struct docker_err *err)
{
    docker_code code = DOCKER_OK;
    json_t *spec;
    json_t *rep;

    *out = NULL;
    if (!cur || !chg)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "update service: no service or change");
    code = check_change(cur, chg, err);
    if (code != DOCKER_OK)
        return code;
    spec = json_loads(cur->spec, 0, NULL);
    if (!json_is_object(spec)) {
        json_decref(spec);
        return docker_err_set(err, DOCKER_E_MALFORMED, 0, "update service %.64s: invalid spec",
                              cur->name);
    }
    rep = json_object_get(json_object_get(spec, "Mode"), "Replicated");
    if (chg->has_replicas && !json_is_object(rep))
        code = docker_err_set(err, DOCKER_E_INVALID, 0,
                              "update service %.64s: not a replicated service", cur->name);
    else if (chg->has_replicas && json_object_set_new(rep, "Replicas", json_integer(chg->replicas)))
        code = docker_err_set(err, DOCKER_E_NOMEM, 0, "update service %.64s: out of memory",
                              cur->name);
    if (code == DOCKER_OK && chg->has_resources && apply_resources(spec, &chg->res) != DOCKER_OK)
        code = docker_err_set(err, DOCKER_E_MALFORMED, 0,
                              "update service %.64s: spec has no usable TaskTemplate.Resources",
                              cur->name);
    if (code == DOCKER_OK) {
        *out = json_dumps(spec, JSON_COMPACT);
        if (!*out)
            code = docker_err_set(err, DOCKER_E_NOMEM, 0, "update service %.64s: out of memory",
                                  cur->name);
    }
    json_decref(spec);
    return code;
}
