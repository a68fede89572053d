/* http.c: the libmicrohttpd daemon: connections and their limits, the access handler (per-request
 * state in req_cls, body consumed, replies queued once the body is in), the reaper, start and stop.
 */
#include "http_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

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
        return http_queue_error(r, c, 404, "no such route");
    if (rt == R_BADNAME)
        return http_queue_error(r, c, 400, "invalid container name");
    if (http_route_is_post(rt) && !post)
        return http_queue(r, c, 405, "application/json",
                          "{\"error\":\"method not allowed\",\"status\":405}", allow_post);
    if (!http_route_is_post(rt) && !get)
        return http_queue(r, c, 405, "application/json",
                          "{\"error\":\"method not allowed\",\"status\":405}", allow_get);
    if ((rt == R_WEBHOOK || rt == R_SCALE || rt == R_RESTART || rt == R_LIST || rt == R_SHOW ||
         rt == R_MAINTENANCE) &&
        !http_authorized(h->cfg, c))
        return http_queue_unauthorized(r, c);
    if (!post)
        return MHD_YES;
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > (unsigned long long)h->cfg->max_body)
        return http_queue_error(r, c, 413,
                                "body of %s bytes is over the limit of %" PRId64 " bytes", cl,
                                h->cfg->max_body);
    bool empty = cl && strtoull(cl, NULL, 10) == 0;
    bool has_body =
        !empty &&
        (cl || MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING));
    if ((rt != R_RESTART || has_body) && !http_json_content_type(c))
        return http_queue_error(r, c, 415, "Content-Type must be application/json");
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
        k->deadline_ms = clock_mono_ms() + h->cfg->connection_timeout_ms;
    pthread_mutex_unlock(&h->lock);
}

/* Links a new connection into h->conns with its deadline; one beyond --max-connections is marked
 * `over` (refused at its first request, closed after OVER_GRACE_MS if idle) and counted. */
static void conn_track(struct http *h, struct conn *k)
{
    int64_t now = clock_mono_ms(), refused = 0;
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
        http_remote_of(c, k->remote, sizeof(k->remote));
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
    enum route rt = http_route_of(url, name, sizeof(name));

    (void)version;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        r->h = h;
        r->t0 = clock_mono_ms();
        r->route = http_route_label(rt);
        r->mutating = strcmp(method, "POST") == 0;
        snprintf(r->path, sizeof(r->path), "%s", url);
        snprintf(r->method, sizeof(r->method), "%s", method);
        http_remote_of(c, r->remote, sizeof(r->remote));
        *req_cls = r;
        if (conn_over(h, c))
            return http_queue_over(r, c);
        return first_call(r, c, rt, method);
    }
    if (r->replied)
        return MHD_YES;
    if (r->p)
        return http_finish_pending(r, c);
    if (*upload_data_size)
        return take_body(r, upload_data, upload_data_size);
    if (r->too_big)
        return http_queue_error(r, c, 413, "body is over the limit of %" PRId64 " bytes",
                                h->cfg->max_body);
    switch (rt) {
    case R_WEBHOOK:
        return http_handle_webhook(r, c);
    case R_SCALE:
        return http_handle_scale(r, c, name);
    case R_RESTART:
        return http_handle_restart(r, c, name);
    case R_MAINTENANCE:
        return http_handle_maintenance(r, c, name);
    default:
        return http_handle_get(r, c, rt, name);
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
                 clock_mono_ms() - r->t0, r->remote,
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
        http_pending_unref(r->p);
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
        int64_t now = clock_mono_ms();
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
        clock_deadline_in(&ts, 100);
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
