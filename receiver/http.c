/* http.c: the libmicrohttpd daemon: connections and their limits, the access handler (per-request
 * state in req_cls, body consumed, replies queued once the body is in), the reaper, start and stop.
 */
#define _GNU_SOURCE 1 /* POLLRDHUP */
#include "http_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
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
         rt == R_MAINTENANCE || rt == R_ACTIONS) &&
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

/* Called under h->lock when every slot reads as taken. A slot is freed when the worker thread that
 * owns its connection notices the peer's close and libmicrohttpd calls on_connection(CLOSED); with
 * a thread pool, another worker can accept the next connection before that (a client that closed
 * all its connections and opens a new one was refused 503 while it held none). The kernel already
 * knows: a tracked connection whose peer closed (POLLRDHUP, POLLHUP, POLLERR) stops counting now,
 * and is not counted down again when its CLOSED notification comes. */
static void uncount_closed_peers(struct http *h)
{
    size_t n = 0, i = 0;

    for (const struct conn *k = h->conns; k; k = k->next)
        n += !k->over && !k->gone;
    struct pollfd *pf = n ? calloc(n, sizeof(*pf)) : NULL;
    struct conn **ks = n ? calloc(n, sizeof(*ks)) : NULL;
    if (pf && ks) {
        for (struct conn *k = h->conns; k && i < n; k = k->next) {
            if (k->over || k->gone)
                continue;
            pf[i] = (struct pollfd){.fd = k->fd, .events = POLLRDHUP};
            ks[i++] = k;
        }
        /* the fds stay open meanwhile: libmicrohttpd closes one only after on_connection(CLOSED),
         * which waits for h->lock */
        if (poll(pf, (nfds_t)i, 0) > 0) {
            for (size_t j = 0; j < i; j++) {
                if (pf[j].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
                    ks[j]->gone = true;
                    h->n_open--;
                }
            }
        }
    }
    free(pf);
    free(ks);
}

/* Links a new connection into h->conns with its deadline; one beyond --max-connections is marked
 * `over` (refused at its first request, closed after OVER_GRACE_MS if idle) and counted. */
static void conn_track(struct http *h, struct conn *k)
{
    int64_t now = clock_mono_ms(), refused = 0;
    int grace = h->cfg->connection_timeout_ms < OVER_GRACE_MS ? (int)h->cfg->connection_timeout_ms
                                                              : OVER_GRACE_MS;

    pthread_mutex_lock(&h->lock);
    if (h->n_open >= h->cfg->max_connections)
        uncount_closed_peers(h);
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
    http_ipc_notify(h, &(struct ipc_intent){.type = IPC_COUNT_REJECTED});
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
    if (!k->over && !k->gone)
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
        r->rt = rt;
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
        http_ipc_notify(h, &(struct ipc_intent){.type = IPC_COUNT_REQUEST,
                                                .route = (uint8_t)r->rt,
                                                .code = (uint16_t)(r->replied ? r->status : 499)});
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

static int resolve_listen(const struct config *cfg, struct sockaddr_storage *ss, socklen_t *sslen,
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
    *sslen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

http_code http_listen(const struct config *cfg, int *fd, uint16_t *port, struct http_err *err)
{
    struct sockaddr_storage ss = {0};
    socklen_t sslen = 0;
    int one = 1;

    *fd = -1;
    if (resolve_listen(cfg, &ss, &sslen, err) != 0)
        return HTTP_E_LISTEN;
    int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s >= 0) {
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ss.ss_family == AF_INET6) /* as libmicrohttpd does without MHD_USE_DUAL_STACK */
            setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (s < 0 || bind(s, (struct sockaddr *)&ss, sslen) != 0 || listen(s, SOMAXCONN) != 0) {
        if (err && err->code == HTTP_OK) {
            err->code = HTTP_E_LISTEN;
            snprintf(err->msg, sizeof(err->msg), "cannot listen on %.120s:%u: %.100s",
                     cfg->listen_host, cfg->listen_port, strerror(errno));
        }
        if (s >= 0)
            close(s);
        return HTTP_E_LISTEN;
    }
    sslen = sizeof(ss);
    getsockname(s, (struct sockaddr *)&ss, &sslen);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)(void *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)(void *)&ss)->sin_port);
    *fd = s;
    return HTTP_OK;
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

static int listen_family(int fd)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof(ss);

    return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 ? ss.ss_family : AF_INET;
}

http_code http_start_fd(const struct config *cfg, int ipc_fd, int listen_fd, struct http **out,
                        struct http_err *err)
{
    struct http *h;
    pthread_condattr_t ca;

    *out = NULL;
    h = calloc(1, sizeof(*h));
    if (!h) {
        if (err && err->code == HTTP_OK) {
            err->code = HTTP_E_NOMEM;
            snprintf(err->msg, sizeof(err->msg), "out of memory");
        }
        close(ipc_fd);
        close(listen_fd);
        return HTTP_E_NOMEM;
    }
    h->cfg = cfg;
    h->ipc_fd = ipc_fd;
    h->listen_fd = MHD_INVALID_SOCKET;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    bool ipc_up = http_ipc_open(h) == 0;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                         MHD_USE_ERROR_LOG | MHD_USE_AUTO |
                         (listen_family(listen_fd) == AF_INET6 ? MHD_USE_IPv6 : 0);
    h->d = !ipc_up ? NULL
                   : MHD_start_daemon(
                         flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                         NULL, MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_THREAD_POOL_SIZE,
                         (unsigned int)cfg->http_threads, MHD_OPTION_CONNECTION_LIMIT,
                         hard_limit(cfg), MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned int)((cfg->connection_timeout_ms + 999) / 1000),
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                         MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_END);
    if (!h->d) {
        if (err && err->code == HTTP_OK) {
            err->code = HTTP_E_LISTEN;
            snprintf(err->msg, sizeof(err->msg), "cannot serve on %.120s:%u: %.100s",
                     cfg->listen_host, cfg->listen_port, strerror(errno));
        }
        if (ipc_up)
            http_ipc_close(h);
        else
            close(ipc_fd);
        close(listen_fd);
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

http_code http_start(const struct config *cfg, struct engine *e, struct metrics *m,
                     struct http **out, struct http_err *err)
{
    int listen_fd, sv[2];
    uint16_t port;
    http_code rc;
    struct broker *b;

    *out = NULL;
    if ((rc = http_listen(cfg, &listen_fd, &port, err)) != HTTP_OK)
        return rc;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
        !(b = broker_start(cfg, e, m, sv[0]))) {
        if (err && err->code == HTTP_OK) {
            err->code = HTTP_E_NOMEM;
            snprintf(err->msg, sizeof(err->msg), "cannot start the broker: %s", strerror(errno));
        }
        close(listen_fd);
        return HTTP_E_NOMEM;
    }
    /* the broker's IPC_START waits in the socket: http_ipc.c's reader skips it */
    if ((rc = http_start_fd(cfg, sv[1], listen_fd, out, err)) != HTTP_OK) {
        broker_free(b);
        return rc;
    }
    (*out)->local = b;
    return HTTP_OK;
}

uint16_t http_port(const struct http *h)
{
    return h->port;
}

void http_quiesce(struct http *h)
{
    if (!h || __atomic_exchange_n(&h->quiesced, true, __ATOMIC_SEQ_CST))
        return;
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
    /* every handler returned: nothing waits on the channel but jobs' callbacks (503 now). The
     * channel's end that follows is this stop, not the privileged process dying (http_ipc.c) */
    __atomic_store_n(&h->quiesced, true, __ATOMIC_SEQ_CST);
    broker_stop(h->local);
    http_ipc_close(h);
    broker_free(h->local);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
