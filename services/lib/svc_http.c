/* svc_http.c: libmicrohttpd the documented way: per-request state in req_cls on the first call,
 * the body consumed (bounded) by setting *upload_data_size = 0, the reply queued once the body is
 * complete, the state freed in the completion callback. */
#include "svc_http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "svc_log.h"

struct svc_http {
    struct MHD_Daemon *d;
    struct svc_app *app;
};

struct conn_state {
    struct timespec start;
    char *body;
    size_t len;
    bool too_big;
};

static double since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct svc_req *req = cls;
    (void)kind;
    if (req->nquery >= SVC_MAX_QUERY)
        return MHD_NO;
    req->query_keys[req->nquery] = key;
    req->query_vals[req->nquery] = value ? value : "";
    req->nquery++;
    return MHD_YES;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct svc_reply *rep)
{
    char *text =
        rep->json ? json_dumps(rep->json, JSON_COMPACT | JSON_REAL_PRECISION(10)) : rep->text;
    const char *type = rep->json ? "application/json" : rep->content_type;
    size_t len = text ? strlen(text) : 0;
    struct MHD_Response *r;

    if (rep->json && text) {
        /* newline-terminated JSON, as curl users expect */
        char *nl = realloc(text, len + 2);
        if (nl) {
            text = nl;
            text[len++] = '\n';
            text[len] = '\0';
        }
    }
    r = MHD_create_response_from_buffer(len, text ? text : (char *)"", MHD_RESPMEM_MUST_COPY);
    if (rep->json)
        free(text);
    if (!r)
        return MHD_NO;
    if (type && len)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)rep->status, r);
    MHD_destroy_response(r);
    return ret;
}

static bool body_type_ok(struct MHD_Connection *c)
{
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    return !t || strncasecmp(t, "application/json", 16) == 0;
}

static enum MHD_Result answer(struct svc_http *h, struct MHD_Connection *c, const char *url,
                              const char *method, struct conn_state *st)
{
    struct svc_req req = {.method = method, .path = url, .app = h->app};
    struct svc_reply rep = {.status = 500};
    size_t route = 0;

    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, &req);
    req.authorization =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    req.body = st->len ? st->body : NULL;
    req.body_len = st->len;
    if (st->too_big) {
        svc_reply_error(&rep, 413, "body_too_large", "the body exceeds %d bytes", SVC_BODY_MAX);
        route = (size_t)-1;
    } else if (st->len && !body_type_ok(c)) {
        svc_reply_error(&rep, 415, "unsupported_media_type", "send Content-Type: application/json");
        route = (size_t)-1;
    } else {
        svc_dispatch(h->app, &req, &rep, &route);
    }
    if (route == (size_t)-1) {
        bool wrong;
        struct svc_req tmp = {0};
        int i =
            svc_route_match(h->app->svc->routes, h->app->svc->nroutes, method, url, &tmp, &wrong);
        route = i >= 0 ? (size_t)i : h->app->svc->nroutes + 3;
    }
    enum MHD_Result ret = send_reply(c, &rep);
    svc_metrics_observe(h->app->metrics, route, rep.status, since(&st->start));
    if (rep.status >= 500 && route < h->app->svc->nroutes)
        svc_log_warn("request failed", "method=%s route=%s status=%d", method,
                     svc_route_label(h->app->svc, route), rep.status);
    svc_reply_free(&rep);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct svc_http *h = cls;
    struct conn_state *st = *req_cls;
    (void)version;

    if (!st) {
        st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &st->start);
        *req_cls = st;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->too_big || st->len + n > SVC_BODY_MAX) {
            st->too_big = true;
            free(st->body);
            st->body = NULL;
            st->len = 0;
            return MHD_YES;
        }
        char *b = realloc(st->body, st->len + n + 1);
        if (!b)
            return MHD_NO;
        memcpy(b + st->len, upload_data, n);
        st->body = b;
        st->len += n;
        st->body[st->len] = '\0';
        return MHD_YES;
    }
    return answer(h, c, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn_state *st = *req_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (st)
        free(st->body);
    free(st);
    *req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    char q[300];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    svc_log_warn("http", "detail=%s", svc_log_quote(q, sizeof(q), msg));
}

struct svc_http *svc_http_start(struct svc_app *app, char *errmsg, size_t size)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char port[8];

    snprintf(port, sizeof(port), "%d", app->cfg.listen_port);
    int rc = getaddrinfo(app->cfg.listen_host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(errmsg, size, "SVC_LISTEN %s: %s", app->cfg.listen_host, gai_strerror(rc));
        return NULL;
    }
    struct svc_http *h = calloc(1, sizeof(*h));
    if (!h) {
        freeaddrinfo(ai);
        snprintf(errmsg, size, "out of memory");
        return NULL;
    }
    h->app = app;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    h->d = MHD_start_daemon(flags, (uint16_t)app->cfg.listen_port, NULL, NULL, on_request, h,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
                            ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                            MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        snprintf(errmsg, size, "cannot listen on %s:%d", app->cfg.listen_host,
                 app->cfg.listen_port);
        free(h);
        return NULL;
    }
    return h;
}

void svc_http_stop(struct svc_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
