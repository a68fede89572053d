/* http.c: libmicrohttpd handlers; per-request state in req_cls, replies queued once the body is in.
 */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alerts.h"
#include "docker_client.h"
#include "log.h"
#include "policy.h"
#include "utf8.h"

#ifndef TRIP_VERSION
#define TRIP_VERSION "dev"
#endif

#define REALM "trip-receiver"

/* Connections beyond --max-connections are still accepted, up to as many again (at least
 * OVERFLOW_MIN), and refused at once: 503 with Retry-After and Connection: close as soon as their
 * request line and headers are in, or closed after OVER_GRACE_MS when nothing came. Beyond that
 * hard limit libmicrohttpd stops accepting and new connections wait in the listen backlog, which
 * drains as fast as the refusals free slots. */
#define OVERFLOW_MIN 16
#define OVER_GRACE_MS 1000
#define OVER_WARN_EVERY_MS 10000

struct pending {
    struct http *h;
    struct MHD_Connection *conn;
    int refs;     /* the request and the engine job */
    bool resumed; /* MHD_resume_connection() called (by the engine, the reaper or http_free) */
    bool done;    /* the engine's reply arrived */
    int status;
    char *body;
    int64_t deadline_ms;
    struct pending *next;
};

/* One open connection. A client gets --connection-timeout to deliver each whole request (from the
 * accept, or from the end of the previous request on a keep-alive connection): libmicrohttpd's own
 * timeout only measures idleness, so a client sending one byte a second would hold a connection
 * slot forever. The reaper shuts such a socket down; libmicrohttpd then closes it. */
struct conn {
    MHD_socket fd;
    int64_t deadline_ms;
    bool busy; /* a whole request arrived and is being answered: no deadline */
    bool cut;  /* shut down by the reaper */
    bool over; /* accepted beyond --max-connections: refused with 503 (or closed if idle) */
    char remote[64];
    struct conn *next;
};

struct http {
    const struct config *cfg;
    struct engine *e;
    struct metrics *m;
    struct MHD_Daemon *d;
    uint16_t port;
    bool quiesced;
    MHD_socket listen_fd; /* returned by MHD_quiesce_daemon(), closed after MHD_stop_daemon() */
    pthread_mutex_t lock; /* pending list, every pending's fields, stopping */
    pthread_cond_t cond;
    struct pending *pending;
    bool stopping;
    pthread_t reaper;
    struct conn *conns; /* guarded by lock; entries removed before libmicrohttpd closes the fd */
    int n_open;         /* guarded by lock: tracked connections within --max-connections */
    int64_t over_warned_ms;  /* guarded by lock: last "connection limit reached" warning */
    int64_t over_since_warn; /* guarded by lock: refusals since that warning */
};

struct req {
    struct http *h;
    const char *route; /* metrics label */
    int status;
    bool mutating;
    char remote[64];
    char path[320];
    char method[12];
    int64_t t0;
    char *body;
    size_t len;
    size_t discarded; /* bytes dropped after the body went over --max-body */
    bool too_big;
    bool replied;
    struct pending *p;
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int http_secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t n = la > lb ? la : lb;
    unsigned char diff = (unsigned char)(la != lb);

    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < la ? (unsigned char)a[i] : 0;
        unsigned char y = i < lb ? (unsigned char)b[i] : 0;
        diff |= (unsigned char)(x ^ y);
    }
    return diff == 0;
}

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int http_base64_decode(const char *in, char *out, size_t size)
{
    size_t n = 0, len = strlen(in);
    uint32_t acc = 0;
    int bits = 0;

    while (len && in[len - 1] == '=')
        len--;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= size)
                return -1;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (size == 0)
        return -1;
    out[n] = '\0';
    return (int)n;
}

/* ---- replies ---- */

static enum MHD_Result queue(struct req *r, struct MHD_Connection *c, int status, const char *type,
                             const char *body, const char *const *headers)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    for (size_t i = 0; headers && headers[i]; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    ret = MHD_queue_response(c, (unsigned int)status, resp);
    MHD_destroy_response(resp);
    r->status = status;
    r->replied = true;
    return ret;
}

static enum MHD_Result queue_json(struct req *r, struct MHD_Connection *c, int status,
                                  const char *body)
{
    return queue(r, c, status, "application/json", body, NULL);
}

/* {"error": msg} */
static enum MHD_Result queue_error(struct req *r, struct MHD_Connection *c, int status,
                                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum MHD_Result queue_error(struct req *r, struct MHD_Connection *c, int status,
                                   const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s, s:i}", "error", utf8_trim(msg), "status", status);
    char *text = json_dumps(o, JSON_COMPACT);
    enum MHD_Result ret = queue_json(r, c, status, text ? text : "{}");
    free(text);
    json_decref(o);
    return ret;
}

/* 503 for a request on a connection accepted beyond --max-connections; the connection closes. */
static enum MHD_Result queue_over(struct req *r, struct MHD_Connection *c)
{
    static const char *const headers[] = {MHD_HTTP_HEADER_CONNECTION, "close",
                                          MHD_HTTP_HEADER_RETRY_AFTER, "1", NULL};
    char body[160];

    snprintf(body, sizeof(body),
             "{\"error\":\"too many connections (--max-connections %" PRId64 "); retry later\","
             "\"status\":503}",
             r->h->cfg->max_connections);
    return queue(r, c, 503, "application/json", body, headers);
}

/* ---- auth and headers ---- */

static bool auth_configured(const struct config *cfg)
{
    return cfg->token[0] || cfg->basic_user[0];
}

static bool authorized(const struct config *cfg, struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

    if (!auth_configured(cfg))
        return true;
    if (!a)
        return false;
    if (cfg->token[0] && strncasecmp(a, "Bearer ", 7) == 0) {
        const char *t = a + 7;
        while (*t == ' ')
            t++;
        return http_secret_equal(t, cfg->token);
    }
    if (cfg->basic_user[0] && strncasecmp(a, "Basic ", 6) == 0) {
        char want[512], got[512];
        snprintf(want, sizeof(want), "%s:%s", cfg->basic_user, cfg->basic_password);
        if (http_base64_decode(a + 6, got, sizeof(got)) < 0)
            return false;
        return http_secret_equal(got, want);
    }
    return false;
}

static enum MHD_Result queue_unauthorized(struct req *r, struct MHD_Connection *c)
{
    const struct config *cfg = r->h->cfg;
    const char *bearer = "Bearer realm=\"" REALM "\"";
    const char *basic = "Basic realm=\"" REALM "\", charset=\"UTF-8\"";
    const char *headers[5] = {NULL};
    size_t n = 0;

    if (cfg->token[0]) {
        headers[n++] = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
        headers[n++] = bearer;
    }
    if (cfg->basic_user[0]) {
        headers[n++] = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
        headers[n++] = basic;
    }
    return queue(
        r, c, 401, "application/json",
        "{\"error\":\"authentication required (Authorization: Bearer or Basic)\",\"status\":401}",
        headers);
}

static bool json_content_type(struct MHD_Connection *c)
{
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

    if (!t || strncasecmp(t, "application/json", 16) != 0)
        return false;
    return t[16] == '\0' || t[16] == ';' || t[16] == ' ';
}

static void remote_of(struct MHD_Connection *c, char *buf, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[INET6_ADDRSTRLEN] = "-";

    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, host,
                      sizeof(host));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, host,
                      sizeof(host));
    }
    snprintf(buf, size, "%s", host);
}

/* Docker names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, ids are hex; at most 128 bytes. */
static bool valid_name(const char *s, size_t len)
{
    if (len == 0 || len > 128 || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '_' && ch != '.' && ch != '-')
            return false;
    }
    return true;
}

/* ---- routing ---- */

enum route {
    R_NONE,
    R_HEALTHZ,
    R_READYZ,
    R_METRICS,
    R_WEBHOOK,
    R_LIST,
    R_SHOW,
    R_SCALE,
    R_RESTART,
    R_BADNAME,
    R_MAINTENANCE
};

/* Splits url; name gets the container for /api/v1/containers/{name}[/verb]. */
static enum route route_of(const char *url, char *name, size_t size)
{
    static const char prefix[] = "/api/v1/containers";
    size_t pl = sizeof(prefix) - 1;

    name[0] = '\0';
    if (strcmp(url, "/healthz") == 0)
        return R_HEALTHZ;
    if (strcmp(url, "/readyz") == 0)
        return R_READYZ;
    if (strcmp(url, "/metrics") == 0)
        return R_METRICS;
    if (strcmp(url, "/webhook") == 0)
        return R_WEBHOOK;
    if (strncmp(url, prefix, pl) != 0)
        return R_NONE;
    url += pl;
    if (*url == '\0' || strcmp(url, "/") == 0)
        return R_LIST;
    if (*url != '/')
        return R_NONE;
    url++;
    const char *slash = strchr(url, '/');
    size_t len = slash ? (size_t)(slash - url) : strlen(url);
    if (!valid_name(url, len) || len >= size)
        return R_BADNAME;
    memcpy(name, url, len);
    name[len] = '\0';
    if (!slash)
        return R_SHOW;
    if (strcmp(slash, "/scale") == 0)
        return R_SCALE;
    if (strcmp(slash, "/restart") == 0)
        return R_RESTART;
    if (strcmp(slash, "/maintenance") == 0)
        return R_MAINTENANCE;
    return R_NONE;
}

static const char *route_label(enum route rt)
{
    static const char *const names[] = {"not_found", "healthz",    "readyz",     "metrics",
                                        "webhook",   "containers", "container",  "scale",
                                        "restart",   "not_found",  "maintenance"};
    return names[rt];
}

static bool route_is_post(enum route rt)
{
    return rt == R_WEBHOOK || rt == R_SCALE || rt == R_RESTART || rt == R_MAINTENANCE;
}

/* ---- webhook ---- */

static json_t *webhook_one(struct http *h, const struct alerts_record *a, const char *remote,
                           int *status)
{
    struct policy_request req;
    struct policy_decision d;
    struct engine_cached cached;
    struct policy_container pc = {0};
    struct policy_limits lim;

    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "container", a->container, "alertname",
                          a->alertname, "fingerprint", a->fingerprint, "status",
                          alerts_status_name(a->status), "action", alerts_action_name(a->action));
    if (!o) /* alerts_parse() keeps strings valid UTF-8; never let a reply lose an alert anyway */
        o = json_object();
    if (a->problem[0]) {
        json_object_set_new(o, "result", json_string("ignored"));
        json_object_set_new(o, "reason", json_string(a->problem));
        return o;
    }
    if (!valid_name(a->container, strlen(a->container))) {
        /* never queued: no Docker name looks like this, so no container can be meant */
        json_object_set_new(o, "result", json_string("ignored"));
        json_object_set_new(
            o, "reason",
            json_string("invalid container name (Docker names match [a-zA-Z0-9][a-zA-Z0-9_.-]*)"));
        return o;
    }
    policy_request_from_alert(&req, a);
    if (engine_lookup(h->e, a->container, &cached))
        engine_cached_policy(&cached, &pc);
    policy_limits_from_config(&lim, h->cfg);
    policy_decide(&lim, &req, &pc, wall_ms(), &d);
    if (d.verdict == POLICY_ACCEPT) {
        struct engine_job job = {.kind = req.kind, .resource = req.resource, .from_alert = true};
        struct engine_err eerr = {0};
        snprintf(job.container, sizeof(job.container), "%s", a->container);
        snprintf(job.fingerprint, sizeof(job.fingerprint), "%s", a->fingerprint);
        snprintf(job.alertname, sizeof(job.alertname), "%s", a->alertname);
        snprintf(job.duration, sizeof(job.duration), "%s", a->duration);
        snprintf(job.remote, sizeof(job.remote), "%s", remote);
        if (engine_submit(h->e, &job, &eerr) != ENGINE_OK) {
            d.verdict = POLICY_IGNORE;
            snprintf(d.reason, sizeof(d.reason), "%.140s; retry later", eerr.msg);
            *status = 503;
        }
    }
    bool ok = d.verdict == POLICY_ACCEPT;
    json_object_set_new(o, "result", json_string(ok ? "accepted" : "ignored"));
    json_object_set_new(o, "reason",
                        json_string(d.reason[0] ? d.reason : policy_kind_name(d.kind)));
    if (ok && d.kind == POLICY_SCALE_OUT)
        json_object_set_new(o, "duration_ms", json_integer(d.duration_ms));
    return o;
}

static enum MHD_Result handle_webhook(struct req *r, struct MHD_Connection *c)
{
    struct http *h = r->h;
    const char *labels[CONFIG_MAX_LABELS];
    struct alerts_opts ao = {labels,
                             h->cfg->n_container_labels,
                             h->cfg->cpu_alert,
                             h->cfg->memory_alert,
                             h->cfg->down_alert,
                             1000};
    struct alerts_batch b;
    struct alerts_err aerr = {0};
    int status = 200, accepted = 0;
    char ql[700];

    for (size_t i = 0; i < h->cfg->n_container_labels; i++)
        labels[i] = h->cfg->container_labels[i];
    if (alerts_parse(r->body ? r->body : "", r->len, &ao, &b, &aerr) != ALERTS_OK) {
        log_warn("webhook rejected", "error=%s remote=%s", log_quote(ql, sizeof(ql), aerr.msg),
                 r->remote);
        return queue_error(r, c, aerr.code == ALERTS_E_NOMEM ? 500 : 400, "%s", aerr.msg);
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < b.n; i++) {
        json_t *one = webhook_one(h, &b.v[i], r->remote, &status);
        const char *res = json_string_value(json_object_get(one, "result"));
        bool ok = res && strcmp(res, "accepted") == 0;
        accepted += ok;
        metrics_alert(h->m, ok ? "accepted" : "ignored");
        log_info(ok ? "alert accepted" : "alert ignored",
                 "container=%s alertname=%s status=%s reason=%s remote=%s",
                 log_quote(ql, sizeof(ql), b.v[i].container),
                 b.v[i].alertname[0] ? b.v[i].alertname : "-", alerts_status_name(b.v[i].status),
                 log_quote((char[200]){0}, 200, json_string_value(json_object_get(one, "reason"))),
                 r->remote);
        json_array_append_new(arr, one);
    }
    json_t *o = json_pack("{s:i, s:i, s:o}", "accepted", accepted, "ignored", (int)b.n - accepted,
                          "alerts", arr);
    char *text = json_dumps(o, JSON_COMPACT);
    enum MHD_Result ret = queue_json(r, c, status, text ? text : "{}");
    free(text);
    json_decref(o);
    alerts_batch_free(&b);
    return ret;
}

/* ---- manual API ---- */

static void pending_unref(struct pending *p)
{
    /* lock held */
    if (--p->refs == 0) {
        free(p->body);
        free(p);
    }
}

static void on_engine_done(void *ud, int status, const char *body)
{
    struct pending *p = ud;
    struct http *h = p->h;

    pthread_mutex_lock(&h->lock);
    p->status = status;
    p->body = strdup(body);
    p->done = true;
    if (!p->resumed) {
        p->resumed = true;
        MHD_resume_connection(p->conn);
    }
    pending_unref(p);
    pthread_mutex_unlock(&h->lock);
}

/* Hands job to the engine and suspends the connection until it answers. */
static enum MHD_Result submit_and_suspend(struct req *r, struct MHD_Connection *c,
                                          struct engine_job *job)
{
    struct http *h = r->h;
    struct engine_err eerr = {0};
    struct pending *p = calloc(1, sizeof(*p));

    if (!p)
        return queue_error(r, c, 500, "out of memory");
    p->h = h;
    p->conn = c;
    p->refs = 2;
    p->deadline_ms = mono_ms() + h->cfg->request_timeout_ms;
    job->done = on_engine_done;
    job->done_ud = p;
    snprintf(job->remote, sizeof(job->remote), "%s", r->remote);
    pthread_mutex_lock(&h->lock);
    if (engine_submit(h->e, job, &eerr) != ENGINE_OK) {
        pthread_mutex_unlock(&h->lock);
        free(p);
        return queue_error(r, c, 503, "%s", eerr.msg);
    }
    p->next = h->pending;
    h->pending = p;
    r->p = p;
    MHD_suspend_connection(c);
    pthread_mutex_unlock(&h->lock);
    return MHD_YES;
}

/* Called when a suspended request is resumed: reply with what the engine said, or 504. */
static enum MHD_Result finish_pending(struct req *r, struct MHD_Connection *c)
{
    struct http *h = r->h;
    struct pending *p = r->p;
    enum MHD_Result ret;

    pthread_mutex_lock(&h->lock);
    for (struct pending **pp = &h->pending; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    bool done = p->done;
    int status = p->status;
    char *body = p->body ? strdup(p->body) : NULL;
    r->p = NULL;
    pending_unref(p);
    pthread_mutex_unlock(&h->lock);
    if (done)
        ret = queue_json(r, c, status, body ? body : "{}");
    else
        ret = queue_error(
            r, c, h->stopping ? 503 : 504,
            h->stopping
                ? "shutting down"
                : "the action did not finish within --request-timeout; it may still complete");
    free(body);
    return ret;
}

static enum MHD_Result handle_scale(struct req *r, struct MHD_Connection *c, const char *name)
{
    json_error_t jerr;
    struct engine_job job = {0};
    json_t *o = json_loadb(r->body ? r->body : "", r->len, 0, &jerr);

    if (!o || !json_is_object(o)) {
        json_decref(o);
        return queue_error(r, c, 400, "malformed JSON body: %s", o ? "not an object" : jerr.text);
    }
    const char *res = json_string_value(json_object_get(o, "resource"));
    const char *dir = json_string_value(json_object_get(o, "direction"));
    const json_t *dur = json_object_get(o, "duration");
    enum MHD_Result ret;
    if (!res || (strcmp(res, "cpu") != 0 && strcmp(res, "memory") != 0 &&
                 strcmp(res, "replicas") != 0)) {
        ret = queue_error(r, c, 400, "\"resource\" must be \"cpu\", \"memory\" or \"replicas\"");
    } else if (dir && strcmp(dir, "out") != 0 && strcmp(dir, "in") != 0) {
        ret = queue_error(r, c, 400, "\"direction\" must be \"out\" or \"in\"");
    } else if (dur && !json_is_string(dur)) {
        ret = queue_error(r, c, 400, "\"duration\" must be a string such as \"5m\"");
    } else if (dur && json_string_length(dur) >= sizeof(job.duration)) {
        ret = queue_error(r, c, 422, "\"duration\" is too long");
    } else {
        job.kind = dir && strcmp(dir, "in") == 0 ? POLICY_SCALE_IN : POLICY_SCALE_OUT;
        job.resource = strcmp(res, "cpu") == 0      ? POLICY_CPU
                       : strcmp(res, "memory") == 0 ? POLICY_MEMORY
                                                    : POLICY_REPLICAS;
        snprintf(job.container, sizeof(job.container), "%s", name);
        snprintf(job.duration, sizeof(job.duration), "%s", dur ? json_string_value(dur) : "");
        ret = submit_and_suspend(r, c, &job);
    }
    json_decref(o);
    return ret;
}

static enum MHD_Result handle_restart(struct req *r, struct MHD_Connection *c, const char *name)
{
    struct engine_job job = {.kind = POLICY_RESTART};
    json_error_t jerr;

    if (r->len > 0) {
        json_t *o = json_loadb(r->body, r->len, 0, &jerr);
        if (!o || !json_is_object(o)) {
            json_decref(o);
            return queue_error(r, c, 400, "malformed JSON body: %s",
                               o ? "not an object" : jerr.text);
        }
        const json_t *f = json_object_get(o, "force");
        if (f && !json_is_boolean(f)) {
            json_decref(o);
            return queue_error(r, c, 400, "\"force\" must be true or false");
        }
        job.force = json_is_true(f);
        json_decref(o);
    }
    snprintf(job.container, sizeof(job.container), "%s", name);
    return submit_and_suspend(r, c, &job);
}

/* POST .../maintenance {"enabled": true|false}: answered at once (no Docker call). */
static enum MHD_Result handle_maintenance(struct req *r, struct MHD_Connection *c, const char *name)
{
    json_error_t jerr;
    struct engine_err eerr = {0};
    json_t *o = json_loadb(r->body ? r->body : "", r->len, 0, &jerr);

    if (!o || !json_is_object(o)) {
        json_decref(o);
        return queue_error(r, c, 400, "malformed JSON body: %s", o ? "not an object" : jerr.text);
    }
    const json_t *en = json_object_get(o, "enabled");
    bool on = json_is_true(en), valid = json_is_boolean(en);
    json_decref(o);
    if (!valid)
        return queue_error(r, c, 400, "\"enabled\" must be true or false");
    if (engine_set_maintenance(r->h->e, name, on, &eerr) != ENGINE_OK)
        return queue_error(r, c, 404, "%s", eerr.msg);
    char *text = engine_state_json(r->h->e, name);
    if (!text)
        return queue_error(r, c, 404, "no state for container %s", name);
    enum MHD_Result ret = queue_json(r, c, 200, text);
    free(text);
    return ret;
}

/* ---- GET routes ---- */

static enum MHD_Result handle_get(struct req *r, struct MHD_Connection *c, enum route rt,
                                  const char *name)
{
    struct http *h = r->h;
    struct metrics_gauges g;
    char *text;
    enum MHD_Result ret;

    switch (rt) {
    case R_HEALTHZ:
        return queue_json(r, c, 200, "{\"status\":\"ok\"}");
    case R_READYZ: {
        struct docker_engine de; /* the engine, its version, the API in use (docker-client) */
        bool ready;
        docker_client_engine(engine_docker_client(h->e), &de);
        text = docker_engine_ready_json(&de, engine_ready(h->e), &ready);
        ret = text ? queue_json(r, c, ready ? 200 : 503, text)
                   : queue_error(r, c, 500, "out of memory");
        free(text);
        return ret;
    }
    case R_METRICS:
        engine_gauges(h->e, &g);
        metrics_request(h->m, "metrics",
                        200); /* counted before rendering so a scrape sees itself */
        text = metrics_render(h->m, &g, TRIP_VERSION);
        if (!text)
            return queue_error(r, c, 500, "out of memory");
        ret = queue(r, c, 200, "text/plain; version=0.0.4; charset=utf-8", text, NULL);
        r->route = NULL;
        free(text);
        return ret;
    case R_LIST:
    case R_SHOW:
        text = engine_state_json(h->e, rt == R_LIST ? NULL : name);
        if (!text)
            return queue_error(r, c, 404, "no state for container %s (unknown or not managed)",
                               name);
        ret = queue_json(r, c, 200, text);
        free(text);
        return ret;
    default:
        return queue_error(r, c, 404, "no such route");
    }
}

/* ---- the access handler ---- */

/* First call for a request: headers only. Returns MHD_YES with *replied set when answered. */
static enum MHD_Result first_call(struct req *r, struct MHD_Connection *c, enum route rt,
                                  const char *method)
{
    struct http *h = r->h;
    bool post = strcmp(method, "POST") == 0;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    static const char *const allow_post[] = {MHD_HTTP_HEADER_ALLOW, "POST", NULL};
    static const char *const allow_get[] = {MHD_HTTP_HEADER_ALLOW, "GET, HEAD", NULL};

    if (rt == R_NONE)
        return queue_error(r, c, 404, "no such route");
    if (rt == R_BADNAME)
        return queue_error(r, c, 400, "invalid container name");
    if (route_is_post(rt) && !post)
        return queue(r, c, 405, "application/json",
                     "{\"error\":\"method not allowed\",\"status\":405}", allow_post);
    if (!route_is_post(rt) && !get)
        return queue(r, c, 405, "application/json",
                     "{\"error\":\"method not allowed\",\"status\":405}", allow_get);
    if ((rt == R_WEBHOOK || rt == R_SCALE || rt == R_RESTART || rt == R_LIST || rt == R_SHOW ||
         rt == R_MAINTENANCE) &&
        !authorized(h->cfg, c))
        return queue_unauthorized(r, c);
    if (!post)
        return MHD_YES;
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > (unsigned long long)h->cfg->max_body)
        return queue_error(r, c, 413, "body of %s bytes is over the limit of %" PRId64 " bytes", cl,
                           h->cfg->max_body);
    bool empty = cl && strtoull(cl, NULL, 10) == 0;
    bool has_body =
        !empty &&
        (cl || MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING));
    if ((rt != R_RESTART || has_body) && !json_content_type(c))
        return queue_error(r, c, 415, "Content-Type must be application/json");
    return MHD_YES;
}

static enum MHD_Result take_body(struct req *r, const char *data, size_t *size)
{
    size_t n = *size;

    *size = 0;
    if (r->too_big) {
        /* libmicrohttpd 0.9.75 cannot answer in the middle of an upload: drop what follows and
         * answer 413 at its end, but close the connection once a sender keeps streaming far past
         * the limit. */
        r->discarded += n;
        return r->discarded > (size_t)r->h->cfg->max_body * 4 + 1024 * 1024 ? MHD_NO : MHD_YES;
    }
    if (r->len + n > (size_t)r->h->cfg->max_body) {
        r->too_big = true;
        free(r->body);
        r->body = NULL;
        r->len = 0;
        return MHD_YES;
    }
    char *nb = realloc(r->body, r->len + n + 1);
    if (!nb)
        return MHD_NO;
    memcpy(nb + r->len, data, n);
    r->body = nb;
    r->len += n;
    r->body[r->len] = '\0';
    return MHD_YES;
}

/* Marks the connection of c as answering a whole request (busy) or, when not busy, gives it a
 * new --connection-timeout to deliver the next one. */
static void conn_set_busy(struct http *h, struct MHD_Connection *c, bool busy)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *k = ci ? ci->socket_context : NULL;

    if (!k)
        return;
    pthread_mutex_lock(&h->lock);
    k->busy = busy;
    if (!busy)
        k->deadline_ms = mono_ms() + h->cfg->connection_timeout_ms;
    pthread_mutex_unlock(&h->lock);
}

/* Links a new connection into h->conns with its deadline; one beyond --max-connections is marked
 * `over` (refused at its first request, closed after OVER_GRACE_MS if idle) and counted. */
static void conn_track(struct http *h, struct conn *k)
{
    int64_t now = mono_ms(), refused = 0;
    int grace = h->cfg->connection_timeout_ms < OVER_GRACE_MS ? (int)h->cfg->connection_timeout_ms
                                                              : OVER_GRACE_MS;

    pthread_mutex_lock(&h->lock);
    k->over = h->n_open >= h->cfg->max_connections;
    k->deadline_ms = now + (k->over ? grace : h->cfg->connection_timeout_ms);
    if (!k->over)
        h->n_open++;
    else
        h->over_since_warn++;
    if (k->over && now - h->over_warned_ms >= OVER_WARN_EVERY_MS) {
        refused = h->over_since_warn;
        h->over_since_warn = 0;
        h->over_warned_ms = now;
    }
    k->next = h->conns;
    h->conns = k;
    pthread_mutex_unlock(&h->lock);
    if (!k->over)
        return;
    metrics_http_rejected(h->m, "connections");
    if (refused)
        log_warn("connection limit reached; refusing extra connections with 503",
                 "max_connections=%" PRId64 " refused=%" PRId64 " remote=%s",
                 h->cfg->max_connections, refused, k->remote);
}

/* True when c was accepted beyond --max-connections. */
static bool conn_over(struct http *h, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    const struct conn *k = ci ? ci->socket_context : NULL;
    bool over;

    if (!k)
        return false;
    pthread_mutex_lock(&h->lock);
    over = k->over;
    pthread_mutex_unlock(&h->lock);
    return over;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http *h = cls;
    struct conn *k = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        k = ci ? calloc(1, sizeof(*k)) : NULL;
        if (!k)
            return; /* not tracked: only libmicrohttpd's idle timeout applies */
        k->fd = ci->connect_fd;
        remote_of(c, k->remote, sizeof(k->remote));
        conn_track(h, k);
        *socket_context = k;
        return;
    }
    if (!k)
        return;
    pthread_mutex_lock(&h->lock);
    if (!k->over)
        h->n_open--;
    for (struct conn **pp = &h->conns; *pp; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
    free(k);
    *socket_context = NULL;
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *c, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **req_cls)
{
    struct http *h = cls;
    struct req *r = *req_cls;
    char name[256];
    enum route rt = route_of(url, name, sizeof(name));

    (void)version;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        r->h = h;
        r->t0 = mono_ms();
        r->route = route_label(rt);
        r->mutating = strcmp(method, "POST") == 0;
        snprintf(r->path, sizeof(r->path), "%s", url);
        snprintf(r->method, sizeof(r->method), "%s", method);
        remote_of(c, r->remote, sizeof(r->remote));
        *req_cls = r;
        if (conn_over(h, c))
            return queue_over(r, c);
        return first_call(r, c, rt, method);
    }
    if (r->replied)
        return MHD_YES;
    if (r->p)
        return finish_pending(r, c);
    if (*upload_data_size)
        return take_body(r, upload_data, upload_data_size);
    if (r->too_big)
        return queue_error(r, c, 413, "body is over the limit of %" PRId64 " bytes",
                           h->cfg->max_body);
    switch (rt) {
    case R_WEBHOOK:
        return handle_webhook(r, c);
    case R_SCALE:
        return handle_scale(r, c, name);
    case R_RESTART:
        return handle_restart(r, c, name);
    case R_MAINTENANCE:
        return handle_maintenance(r, c, name);
    default:
        return handle_get(r, c, rt, name);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    enum MHD_Result ret =
        handle_request(cls, c, url, method, version, upload_data, upload_data_size, req_cls);
    const struct req *r = *req_cls;

    if (r && (r->replied || r->p))
        conn_set_busy(cls, c, true);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http *h = cls;
    struct req *r = *req_cls;
    char qp[400];

    conn_set_busy(h, c, false);
    if (!r)
        return;
    if (r->route)
        metrics_request(h->m, r->route, r->replied ? r->status : 499);
    if (r->mutating)
        log_info("request", "method=%s path=%s status=%d duration_ms=%" PRId64 " remote=%s%s",
                 r->method, log_quote(qp, sizeof(qp), r->path), r->replied ? r->status : 499,
                 mono_ms() - r->t0, r->remote,
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=true");
    else
        log_debug("request", "method=%s path=%s status=%d remote=%s", r->method,
                  log_quote(qp, sizeof(qp), r->path), r->status, r->remote);
    if (r->p) { /* the connection died while suspended (only at shutdown) */
        pthread_mutex_lock(&h->lock);
        for (struct pending **pp = &h->pending; *pp; pp = &(*pp)->next) {
            if (*pp == r->p) {
                *pp = r->p->next;
                break;
            }
        }
        r->p->resumed = true;
        pending_unref(r->p);
        pthread_mutex_unlock(&h->lock);
    }
    free(r->body);
    free(r);
    *req_cls = NULL;
}

static void *reaper_main(void *arg)
{
    struct http *h = arg;
    struct timespec ts;

    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        int64_t now = mono_ms();
        for (struct pending *p = h->pending; p; p = p->next) {
            if (!p->resumed && now >= p->deadline_ms) {
                p->resumed = true;
                MHD_resume_connection(p->conn);
            }
        }
        for (struct conn *k = h->conns; k; k = k->next) {
            if (!k->busy && !k->cut && now >= k->deadline_ms) {
                k->cut = true;
                shutdown(k->fd, SHUT_RDWR);
                if (k->over) /* counted and warned about at the accept */
                    log_debug("connection over --max-connections closed: no request", "remote=%s",
                              k->remote);
                else
                    log_warn("connection closed: no complete request within --connection-timeout",
                             "remote=%s timeout_ms=%" PRId64, k->remote,
                             h->cfg->connection_timeout_ms);
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 100 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&h->cond, &h->lock, &ts);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512], q[600];

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warn("libmicrohttpd", "error=%s", log_quote(q, sizeof(q), msg));
}

static int resolve_listen(const struct config *cfg, struct sockaddr_storage *ss,
                          struct http_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[8];

    snprintf(port, sizeof(port), "%u", cfg->listen_port);
    int rc = getaddrinfo(cfg->listen_host[0] ? cfg->listen_host : NULL, port, &hints, &ai);
    if (rc != 0 || !ai) {
        if (err) {
            err->code = HTTP_E_LISTEN;
            snprintf(err->msg, sizeof(err->msg), "listen address %.120s: %.100s", cfg->listen_host,
                     gai_strerror(rc));
        }
        return -1;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

/* libmicrohttpd's own connection limit: --max-connections plus as many again (at least
 * OVERFLOW_MIN) to refuse with 503, within the file descriptors the process may open (64 kept for
 * Docker, the state file and logs), never below --max-connections. */
static unsigned int hard_limit(const struct config *cfg)
{
    int64_t max = cfg->max_connections;
    int64_t want = max + (max > OVERFLOW_MIN ? max : OVERFLOW_MIN);
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (int64_t)rl.rlim_cur - 64 < want)
        want = (int64_t)rl.rlim_cur - 64 > max ? (int64_t)rl.rlim_cur - 64 : max;
    return (unsigned int)want;
}

http_code http_start(const struct config *cfg, struct engine *e, struct metrics *m,
                     struct http **out, struct http_err *err)
{
    struct sockaddr_storage ss = {0};
    struct http *h;
    pthread_condattr_t ca;

    *out = NULL;
    if (resolve_listen(cfg, &ss, err) != 0)
        return HTTP_E_LISTEN;
    h = calloc(1, sizeof(*h));
    if (!h) {
        if (err && err->code == HTTP_OK) {
            err->code = HTTP_E_NOMEM;
            snprintf(err->msg, sizeof(err->msg), "out of memory");
        }
        return HTTP_E_NOMEM;
    }
    h->cfg = cfg;
    h->e = e;
    h->m = m;
    h->listen_fd = MHD_INVALID_SOCKET;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                         MHD_USE_ERROR_LOG | MHD_USE_AUTO |
                         (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    h->d = MHD_start_daemon(
        flags, cfg->listen_port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)cfg->http_threads, MHD_OPTION_CONNECTION_LIMIT, hard_limit(cfg),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)((cfg->connection_timeout_ms + 999) / 1000),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        h, MHD_OPTION_END);
    if (!h->d) {
        if (err && err->code == HTTP_OK) {
            err->code = HTTP_E_LISTEN;
            snprintf(err->msg, sizeof(err->msg), "cannot listen on %.120s:%u: %.100s",
                     cfg->listen_host, cfg->listen_port, strerror(errno));
        }
        pthread_cond_destroy(&h->cond);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return HTTP_E_LISTEN;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : cfg->listen_port;
    pthread_create(&h->reaper, NULL, reaper_main, h);
    *out = h;
    return HTTP_OK;
}

uint16_t http_port(const struct http *h)
{
    return h->port;
}

void http_quiesce(struct http *h)
{
    if (!h || h->quiesced)
        return;
    h->quiesced = true;
    /* libmicrohttpd's threads may still use the listening socket: it is closed in http_free(),
     * after MHD_stop_daemon(), as its manual asks. */
    h->listen_fd = MHD_quiesce_daemon(h->d);
}

void http_free(struct http *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    for (struct pending *p = h->pending; p; p = p->next) {
        if (!p->resumed) {
            p->resumed = true;
            MHD_resume_connection(p->conn);
        }
    }
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->reaper, NULL);
    MHD_stop_daemon(h->d);
    if (h->listen_fd != MHD_INVALID_SOCKET)
        close(h->listen_fd);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
