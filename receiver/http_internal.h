/* http_internal.h: what the http*.c files share: the daemon, a request, a pending manual reply, a
 * tracked connection, the routes, and the helpers each file offers the others. Not for use outside
 * http*.c. Threads and locks: see http.h's DESIGN. */
#ifndef TRIP_HTTP_INTERNAL_H
#define TRIP_HTTP_INTERNAL_H

#include "http.h"
#include "ipc.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

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
    bool gone; /* its peer closed before libmicrohttpd noticed: no longer counted in n_open */
    char remote[64];
    struct conn *next;
};

/* A request waiting for the privileged process's reply (http_ipc.c). Either a thread waits for it
 * (done, rep) or, for a manual job, cb is called with the reply from the channel's reader. */
struct waiter {
    uint32_t id;
    bool done;
    unsigned *left; /* http_ipc_call_many's count of its waiters not yet done, or NULL */
    struct ipc_reply rep;
    void (*cb)(void *ud, struct ipc_reply *rep); /* takes rep->body */
    void *ud;
    struct waiter *next;
};

struct http {
    const struct config *cfg;
    struct broker *local; /* http_start(): the broker thread of the one-process mode */
    int ipc_fd;
    pthread_mutex_t ipc_lock;  /* waiters, next_id, ipc_closed */
    pthread_mutex_t ipc_wlock; /* one writer at a time on ipc_fd (never held with ipc_lock) */
    pthread_cond_t ipc_cond;
    struct waiter *waiters;
    uint32_t next_id;
    bool ipc_closed;
    pthread_t ipc_reader;
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
    const char *route; /* metrics label; NULL: not counted */
    unsigned int rt;   /* enum route, for the count the privileged process keeps */
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
    R_MAINTENANCE,
    R_UI,     /* the status page: /, /index.html, /ui/... */
    R_ACTIONS, /* GET /api/v1/actions */
    R_N
};

/* http_request.c */
enum MHD_Result http_queue(struct req *r, struct MHD_Connection *c, int status, const char *type,
                           const char *body, const char *const *headers);
enum MHD_Result http_queue_json(struct req *r, struct MHD_Connection *c, int status,
                                const char *body);
enum MHD_Result http_queue_error(struct req *r, struct MHD_Connection *c, int status,
                                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
enum MHD_Result http_queue_over(struct req *r, struct MHD_Connection *c);
bool http_auth_configured(const struct config *cfg);
bool http_authorized(const struct config *cfg, struct MHD_Connection *c);
enum MHD_Result http_queue_unauthorized(struct req *r, struct MHD_Connection *c);
bool http_json_content_type(struct MHD_Connection *c);
void http_remote_of(struct MHD_Connection *c, char *buf, size_t size);
enum route http_route_of(const char *url, char *name, size_t size);
const char *http_route_label(enum route rt);
bool http_route_is_post(enum route rt);

/* http_api.c */
enum MHD_Result http_handle_webhook(struct req *r, struct MHD_Connection *c);
void http_pending_unref(struct pending *p);
enum MHD_Result http_submit_and_suspend(struct req *r, struct MHD_Connection *c,
                                        struct ipc_intent *job);
enum MHD_Result reply_of(struct req *r, struct MHD_Connection *c, struct ipc_intent *in);
enum MHD_Result http_finish_pending(struct req *r, struct MHD_Connection *c);
enum MHD_Result http_handle_scale(struct req *r, struct MHD_Connection *c, const char *name);
enum MHD_Result http_handle_restart(struct req *r, struct MHD_Connection *c, const char *name);
enum MHD_Result http_handle_maintenance(struct req *r, struct MHD_Connection *c, const char *name);
enum MHD_Result http_handle_get(struct req *r, struct MHD_Connection *c, enum route rt,
                                const char *name);

/* http_ipc.c: the HTTP process's side of the channel */
int http_ipc_open(struct http *h);
void http_ipc_close(struct http *h);
/* Sends in (id set here) and waits for its reply; out->status 503 with a body when the channel is
 * closed. Caller clears out. */
void http_ipc_call(struct http *h, struct ipc_intent *in, struct ipc_reply *out);
/* http_ipc_call for n intents at once: all are sent, then their replies awaited, so the cost is
 * not n round trips (a webhook naming 1000 alerts). out[i] answers in[i]; caller clears each. */
void http_ipc_call_many(struct http *h, struct ipc_intent *in, struct ipc_reply *out, size_t n);
/* Sends in; cb(ud, reply) runs on the channel's reader when the reply comes (or with 503 when the
 * channel closes first). Returns -1 (cb never called) when it could not be sent. */
int http_ipc_call_async(struct http *h, struct ipc_intent *in,
                        void (*cb)(void *ud, struct ipc_reply *rep), void *ud);
/* Sends a counter intent (no reply). */
void http_ipc_notify(struct http *h, struct ipc_intent *in);

/* http_ui.c */
enum MHD_Result http_handle_ui(struct req *r, struct MHD_Connection *c);
enum MHD_Result http_handle_actions(struct req *r, struct MHD_Connection *c);

#endif
