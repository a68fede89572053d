/* docker_internal.h: the docker-client's pure parts (request building, reply parsing, error
 * mapping, the event line splitter), shared by its .c files and exercised by the unit tests. */
#ifndef TRIP_DOCKER_INTERNAL_H
#define TRIP_DOCKER_INTERNAL_H

#include "docker_client.h"

#include <pthread.h>
#include <stdarg.h>

#define DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"
#define DOCKER_PATH_MAX 2048

/* Fills err (NULL-safe) unless it already holds an error: the first error wins. Returns code so a
 * caller can `return docker_err_set(...)`. msg is printf-formatted, truncated to fit, and always
 * valid UTF-8 (bytes that are not, including a sequence cut by the truncation, become '?'). */
docker_code docker_err_set(struct docker_err *err, docker_code code, int http_status,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Where the daemon is. */
struct docker_endpoint {
    char socket_path[256]; /* "" for tcp */
    char base_url[256];    /* "http://localhost" for unix, "http://host:port" for tcp */
};
/* Parses "unix:///path" or "tcp://host:port" (NULL or "": unix:///var/run/docker.sock).
 * DOCKER_E_INVALID for any other scheme, an empty path/host or one too long. */
docker_code docker_endpoint_parse(const char *host, struct docker_endpoint *out,
                                  struct docker_err *err);

/* The version to use with a daemon speaking [daemon_min, daemon_max] (daemon_min may be "":
 * unknown): min(daemon_max, DOCKER_API_MAX), compared numerically ("1.9" < "1.41"), into out
 * (len >= 16). DOCKER_E_API_VERSION naming both ranges when that is below daemon_min or below
 * DOCKER_API_MIN; DOCKER_E_MALFORMED when a version is not "MAJOR.MINOR". */
docker_code docker_api_negotiate(const char *daemon_max, const char *daemon_min, char *out,
                                 size_t len, struct docker_err *err);
/* Compares two valid versions numerically: <0, 0, >0. */
int docker_api_cmp(const char *a, const char *b);
/* True when v is "MAJOR.MINOR" with small decimal numbers. */
bool docker_api_valid(const char *v);

/* Percent-encodes every byte of s except RFC 3986 unreserved characters (so '/', '.', ' ', '?',
 * '%', '#' cannot change a path) into out. DOCKER_E_TOOBIG when it does not fit, E_INVALID for
 * NULL or "". */
docker_code docker_escape(const char *s, char *out, size_t len, struct docker_err *err);

/* "/v<ver>/containers/<escaped id>/<action>[?<query>]" into out; what ("inspect foo", or NULL
 * for action) starts the error message. query is appended verbatim (the
 * caller escapes its values). DOCKER_E_INVALID for an empty id, ".", ".." or one holding '/'
 * (no container name or id can), E_TOOBIG when it does not fit. */
docker_code docker_container_path(const char *ver, const char *id, const char *action,
                                  const char *query, const char *what, char *out, size_t len,
                                  struct docker_err *err);

/* "/v<ver>/services/<escaped id>[/<action>][?<query>]" (action may be NULL) into out; the same
 * refusals as docker_container_path(). */
docker_code docker_service_path(const char *ver, const char *id, const char *action,
                                const char *query, const char *what, char *out, size_t len,
                                struct docker_err *err);
/* Full path for GET /services with label filters, URL-escaped, into out. */
docker_code docker_service_list_path(const char *ver, const char *const *label_filters, char *out,
                                     size_t len, struct docker_err *err);
/* Full path for GET /tasks?filters={"desired-state":["running"],"service":[service]}. */
docker_code docker_tasks_path(const char *ver, const char *service, char *out, size_t len,
                              struct docker_err *err);
/* Body of POST /services/{id}/update: cur->spec with only what chg names replaced
 * (Mode.Replicated.Replicas; TaskTemplate.Resources.{Limits,Reservations}.{NanoCPUs,MemoryBytes},
 * 0 removing the key); every other member is sent back as read. Caller frees *out.
 * DOCKER_E_INVALID for no change, a negative value, replicas on a global (or otherwise not
 * replicated) service, or no spec; E_MALFORMED when cur->spec is not a usable JSON object. */
docker_code docker_service_spec_apply(const struct docker_service *cur,
                                      const struct docker_service_change *chg, char **out,
                                      struct docker_err *err);

/* JSON filters {"label":[...]} for GET /containers/json, or NULL when label_filters is NULL or
 * empty. Caller frees. *code gets DOCKER_E_INVALID for an empty entry, E_NOMEM on allocation. */
char *docker_list_filters_json(const char *const *label_filters, docker_code *code);
/* Full path for GET /containers/json with all and label filters, URL-escaped, into out. */
docker_code docker_list_path(const char *ver, const char *const *label_filters, bool all, char *out,
                             size_t len, struct docker_err *err);
/* Full path for GET /events with the filter f (may be NULL), URL-escaped, into out. */
docker_code docker_events_path(const char *ver, const struct docker_events_filter *f, char *out,
                               size_t len, struct docker_err *err);
/* JSON body of POST /containers/{id}/update: only the fields whose has_ flag is set. Caller frees.
 * DOCKER_E_INVALID when no field is set or a value is out of range (cpu_shares < 0, memory < 0,
 * memory_swap < -1). */
docker_code docker_update_body(const struct docker_update *u, char **out, struct docker_err *err);

/* Maps an HTTP status to a code: 2xx OK, 304 NOT_MODIFIED, 400 BAD_REQUEST, 404 NOT_FOUND,
 * 409 CONFLICT, anything else SERVER. (docker_reply_error() refines 400 for the API version.) */
docker_code docker_code_for_status(long status);
/* Sets err for a non-2xx reply: "<what>: <daemon message>" where the message is the reply's JSON
 * "message", else its first line of text, else "HTTP <status>". Returns the mapped code, except
 * DOCKER_E_API_VERSION for a 400 whose message is the daemon's refusal of the client's version
 * ("client version 1.41 is too old. Minimum supported API version is 1.44, ..."). */
docker_code docker_reply_error(long status, const char *body, size_t len, const char *what,
                               struct docker_err *err);

/* docker_reply_error() for service calls: 503 (not a swarm manager) is DOCKER_E_NO_SWARM, and
 * 500 "... update out of sequence" (a stale Version.Index) is DOCKER_E_CONFLICT. */
docker_code docker_service_reply_error(long status, const char *body, size_t len, const char *what,
                                       struct docker_err *err);

/* Reply parsers: body need not be NUL-terminated. DOCKER_E_MALFORMED (with what failed) for
 * invalid or truncated JSON or a missing required field; out is left empty (nothing to free). */
docker_code docker_parse_inspect(const char *body, size_t len, struct docker_container *out,
                                 struct docker_err *err);
docker_code docker_parse_list(const char *body, size_t len, struct docker_summary_list *out,
                              struct docker_err *err);
docker_code docker_parse_version(const char *body, size_t len, struct docker_version *out,
                                 struct docker_err *err);
/* GET /version reply into the identity part of *out (name, version, api_min, api_max, podman);
 * the other fields are left as they are. DOCKER_E_MALFORMED as docker_parse_version(). */
docker_code docker_parse_engine(const char *body, size_t len, struct docker_engine *out,
                                struct docker_err *err);
docker_code docker_parse_info(const char *body, size_t len, struct docker_info *out,
                              struct docker_err *err);
docker_code docker_parse_stats(const char *body, size_t len, struct docker_stats *out,
                               struct docker_err *err);

/* GET /services/{id}, GET /services and GET /tasks replies. Spec is kept as compact JSON. */
docker_code docker_parse_service(const char *body, size_t len, struct docker_service *out,
                                 struct docker_err *err);
docker_code docker_parse_service_list(const char *body, size_t len, struct docker_service_list *out,
                                      struct docker_err *err);
docker_code docker_parse_tasks(const char *body, size_t len, struct docker_service_tasks *out,
                               struct docker_err *err);

/* Frees the strings and array of l; leaves it empty. NULL-safe. */
void docker_labels_free(struct docker_labels *l);

/* Parses one /events line and calls fn with it. Returns DOCKER_OK and *stop = fn's result, or
 * DOCKER_E_MALFORMED. */
docker_code docker_parse_event(const char *line, size_t len, docker_event_fn fn, void *ud,
                               int *stop, struct docker_err *err);

/* Splits a byte stream into '\n'-terminated lines whatever the chunking; bounded: a line longer
 * than max is an error. Caller-owned (init/free). */
struct docker_linebuf {
    char *buf;
    size_t len;
    size_t cap;
    size_t max;
};
void docker_linebuf_init(struct docker_linebuf *lb, size_t max);
void docker_linebuf_free(struct docker_linebuf *lb);
/* Return 0 to go on, a positive value to stop feeding (the value is passed back by feed). */
typedef int (*docker_line_fn)(const char *line, size_t len, void *ud);
/* Appends data; calls fn for every complete line (without its '\n'; a trailing '\r' and empty lines
 * are skipped). Returns 0, fn's positive result (the rest of data is dropped), -1 when a line
 * exceeds max, or -2 on allocation failure. */
int docker_linebuf_feed(struct docker_linebuf *lb, const char *data, size_t n, docker_line_fn fn,
                        void *ud);

/* Transport (docker_transport.c). One request, with its own easy handle. */
struct docker_reply {
    long status;
    char *body; /* NUL-terminated; caller frees */
    size_t len;
    char api_version[16]; /* the Api-Version header, "" when absent */
};
struct docker_request {
    const char *method; /* "GET", "POST" */
    const char *path;   /* from one of the path builders */
    const char *body;   /* JSON or NULL */
    long timeout_ms;    /* total; 0: none (streams) */
    const char *what;   /* for messages: "inspect foo" */
};
struct docker_client {
    struct docker_endpoint ep;
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_reply;
    char pinned[16];      /* set at creation, then read-only: "" to negotiate */
    pthread_mutex_t lock; /* guards engine (and engine.api, the version in use) */
    struct docker_engine engine;
    _Atomic int negotiated; /* 1 while engine.api is current; cleared to negotiate again */
    _Atomic int refused;    /* 1 while engine.code records a refusal of the version */
};
/* Sends req; on any HTTP reply returns DOCKER_OK with *rep filled (status may be any value);
 * transport failures map to UNREACHABLE / TIMEOUT / TOOBIG / TRANSPORT. */
docker_code docker_http(struct docker_client *c, const struct docker_request *req,
                        struct docker_reply *rep, struct docker_err *err);
void docker_reply_free(struct docker_reply *rep);
/* docker_http() plus status mapping: DOCKER_OK only for a 2xx reply (rep then owns the body);
 * otherwise rep is freed and err carries "<what>: <daemon message>". */
docker_code docker_call(struct docker_client *c, const char *method, const char *path,
                        const char *body, long timeout_ms, const char *what,
                        struct docker_reply *rep, struct docker_err *err);
/* The version to use (copied into ver, 16 bytes), negotiating first if needed. Any thread. */
docker_code docker_client_version_for_call(struct docker_client *c, char ver[16],
                                           struct docker_err *err);
/* Sets up libcurl for a request on c (unix socket, timeouts, NOSIGNAL). */
void *docker_easy_new(const struct docker_client *c, const char *path, long timeout_ms);
/* Maps a libcurl result to a code and message. */
docker_code docker_curl_error(int curl_code, const char *what, const char *errbuf,
                              struct docker_err *err);

#endif
