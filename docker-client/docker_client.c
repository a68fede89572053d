/* docker_client.c: client lifetime, API version negotiation, and the daemon-level calls
 * (ping, version, info). */
#include "docker_internal.h"
#include "ssl_lean.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * DESIGN
 * The client's fields are set in docker_client_new() and never change, except `engine` (the
 * daemon's identity and the version in use), which `lock` guards: it is rewritten by each
 * negotiation and copied out by readers, never read through a pointer. `negotiated` (atomic) says
 * whether engine.api is current; it is cleared when the daemon was unreachable or refused the
 * version, and at the start of each event stream, so the next call negotiates again. The daemon is
 * asked outside the lock, so callers never queue behind a hung daemon. Every call creates its own
 * CURL easy handle, so calls from many threads never share libcurl state.
 */

#define DEFAULT_CONNECT_MS 2000
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_MAX_REPLY (8u << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    /* The client speaks plain HTTP (unix:// and tcp://), never TLS, but curl_global_init has
     * libcurl's OpenSSL backend initialise OpenSSL in full (ssl_lean.h). */
    ssl_lean_init();
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Records that the daemon refused the version in use (code DOCKER_E_API_VERSION, with its message)
 * or, after a refusal, accepted a call again (DOCKER_OK): for docker_client_engine() and so that a
 * negotiated version is negotiated again. */
static void note_refusal(struct docker_client *c, docker_code code, const char *msg)
{
    pthread_mutex_lock(&c->lock);
    c->engine.code = code;
    snprintf(c->engine.message, sizeof(c->engine.message), "%s", msg);
    atomic_store_explicit(&c->refused, code != DOCKER_OK, memory_order_release);
    pthread_mutex_unlock(&c->lock);
    if (code != DOCKER_OK)
        docker_client_renegotiate(c);
}

docker_code docker_call(struct docker_client *c, const char *method, const char *path,
                        const char *body, long timeout_ms, const char *what,
                        struct docker_reply *rep, struct docker_err *err)
{
    struct docker_request req = {
        .method = method, .path = path, .body = body, .timeout_ms = timeout_ms, .what = what};
    docker_code code = docker_http(c, &req, rep, err);

    if (code == DOCKER_E_UNREACHABLE)
        docker_client_renegotiate(c); /* the daemon may come back as another version */
    if (code != DOCKER_OK)
        return code;
    code = docker_code_for_status(rep->status);
    if (code == DOCKER_OK && atomic_load_explicit(&c->refused, memory_order_acquire))
        note_refusal(c, DOCKER_OK, "");
    if (code != DOCKER_OK) {
        struct docker_err mine = {0};

        code = docker_reply_error(rep->status, rep->body, rep->len, what, &mine);
        docker_reply_free(rep);
        if (code == DOCKER_E_API_VERSION)
            note_refusal(c, code, mine.msg);
        docker_err_set(err, code, mine.http_status, "%s", mine.msg);
    }
    return code;
}

/* Asks the daemon for its range (GET /version, unversioned: every engine answers it) and picks the
 * version. Fills *e (identity, api, code, message); returns e->code. */
static docker_code negotiate(struct docker_client *c, struct docker_engine *e,
                             struct docker_err *err)
{
    struct docker_err mine = {0};
    struct docker_reply rep;
    docker_code code;

    memset(e, 0, sizeof(*e));
    code = docker_call(c, "GET", "/version", NULL, c->timeout_ms, "version", &rep, &mine);
    if (code == DOCKER_OK) {
        code = docker_parse_engine(rep.body, rep.len, e, &mine);
        docker_reply_free(&rep);
    }
    if (code == DOCKER_OK)
        code = docker_api_negotiate(e->api_max, e->api_min, e->api, sizeof(e->api), &mine);
    if (code != DOCKER_OK) {
        e->api[0] = '\0';
        e->code = code;
        snprintf(e->message, sizeof(e->message), "%s", mine.msg);
        docker_err_set(err, code, mine.http_status, "%s", mine.msg);
    }
    return code;
}

docker_code docker_client_version_for_call(struct docker_client *c, char ver[16],
                                           struct docker_err *err)
{
    struct docker_engine e;
    docker_code code;

    if (c->pinned[0]) {
        memcpy(ver, c->pinned, sizeof(c->pinned));
        return DOCKER_OK;
    }
    if (atomic_load_explicit(&c->negotiated, memory_order_acquire)) {
        pthread_mutex_lock(&c->lock);
        memcpy(ver, c->engine.api, 16);
        code = c->engine.api[0] ? DOCKER_OK : c->engine.code;
        pthread_mutex_unlock(&c->lock);
        if (code == DOCKER_OK)
            return DOCKER_OK;
    }
    code = negotiate(c, &e, err);
    pthread_mutex_lock(&c->lock);
    if (code == DOCKER_OK || code == DOCKER_E_API_VERSION || !c->engine.version[0]) {
        c->engine = e;
        atomic_store_explicit(&c->refused, code == DOCKER_E_API_VERSION, memory_order_release);
    } else { /* unreachable now: keep the identity last seen, say why no version is in use */
        c->engine.api[0] = '\0';
        c->engine.code = e.code;
        memcpy(c->engine.message, e.message, sizeof(e.message));
    }
    if (code == DOCKER_OK)
        atomic_store_explicit(&c->negotiated, 1, memory_order_release);
    pthread_mutex_unlock(&c->lock);
    memcpy(ver, e.api, 16);
    return code;
}

void docker_client_renegotiate(struct docker_client *c)
{
    if (c)
        atomic_store_explicit(&c->negotiated, 0, memory_order_release);
}

void docker_client_engine(struct docker_client *c, struct docker_engine *out)
{
    memset(out, 0, sizeof(*out));
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    *out = c->engine;
    pthread_mutex_unlock(&c->lock);
}

/* The pinned version: opts->api_version, else $DOCKER_API_VERSION; "" to negotiate. */
static docker_code pinned_version(const struct docker_opts *opts, char out[16],
                                  struct docker_err *err)
{
    const char *v = opts->api_version;
    const char *from = "API version";

    if (!v) {
        v = getenv("DOCKER_API_VERSION");
        from = "DOCKER_API_VERSION";
    }
    out[0] = '\0';
    if (!v || (!opts->api_version && !*v))
        return DOCKER_OK;
    if (!docker_api_valid(v))
        return docker_err_set(err, DOCKER_E_INVALID, 0, "client: %s \"%.16s\" is not MAJOR.MINOR",
                              from, v);
    snprintf(out, 16, "%s", v);
    return DOCKER_OK;
}

docker_code docker_client_new(const struct docker_opts *opts, struct docker_client **out,
                              struct docker_err *err)
{
    struct docker_opts none = {0};
    struct docker_client *c;
    char pinned[16];
    char ver[16];
    const char *host;
    docker_code code;

    *out = NULL;
    if (!opts)
        opts = &none;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return docker_err_set(err, DOCKER_E_TRANSPORT, 0, "client: libcurl init failed: %s",
                              curl_easy_strerror(curl_init_rc));
    code = pinned_version(opts, pinned, err);
    if (code != DOCKER_OK)
        return code;
    if (opts->connect_timeout_ms < 0 || opts->timeout_ms < 0)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "client: negative timeout");
    c = calloc(1, sizeof(*c));
    if (!c)
        return docker_err_set(err, DOCKER_E_NOMEM, 0, "client: out of memory");
    host = opts->host ? opts->host : getenv("DOCKER_HOST");
    code = docker_endpoint_parse(host, &c->ep, err);
    if (code != DOCKER_OK) {
        free(c);
        return code;
    }
    c->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : DEFAULT_CONNECT_MS;
    c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->max_reply = opts->max_reply ? opts->max_reply : DEFAULT_MAX_REPLY;
    memcpy(c->pinned, pinned, sizeof(pinned));
    pthread_mutex_init(&c->lock, NULL);
    atomic_init(&c->negotiated, 0);
    atomic_init(&c->refused, 0);
    c->engine.pinned = pinned[0] != '\0';
    memcpy(c->engine.api, pinned, sizeof(pinned));
    *out = c;
    code = docker_client_version_for_call(c, ver, err);
    if (code == DOCKER_OK || code == DOCKER_E_UNREACHABLE || code == DOCKER_E_TIMEOUT ||
        code == DOCKER_E_API_VERSION)
        return code; /* the client stays usable: the next call negotiates again */
    docker_client_free(c);
    *out = NULL;
    return code;
}

void docker_client_free(struct docker_client *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* GET /v<ver>/<what> into rep. */
static docker_code get_versioned(struct docker_client *c, const char *what,
                                 struct docker_reply *rep, struct docker_err *err)
{
    char path[64];
    char ver[16];
    docker_code code = docker_client_version_for_call(c, ver, err);

    if (code != DOCKER_OK)
        return code;
    snprintf(path, sizeof(path), "/v%s/%s", ver, what);
    return docker_call(c, "GET", path, NULL, c->timeout_ms, what, rep, err);
}

docker_code docker_ping(struct docker_client *c, struct docker_err *err)
{
    struct docker_reply rep;
    docker_code code;

    if (!c)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "ping: no client");
    code = get_versioned(c, "_ping", &rep, err);
    if (code != DOCKER_OK)
        return code;
    if (!rep.body || strcmp(rep.body, "OK") != 0)
        code = docker_err_set(err, DOCKER_E_MALFORMED, 0, "ping: daemon answered \"%.32s\"",
                              rep.body ? rep.body : "");
    docker_reply_free(&rep);
    return code;
}

/* Reads the engine's identity with the unversioned GET /version, which every engine answers
 * whatever version it refuses, into c->engine. Failures are ignored (the identity stays unknown).
 */
static void learn_identity(struct docker_client *c)
{
    struct docker_engine e = {0};
    struct docker_reply rep;

    if (docker_http(c,
                    &(struct docker_request){.method = "GET",
                                             .path = "/version",
                                             .timeout_ms = c->timeout_ms,
                                             .what = "version"},
                    &rep, NULL) != DOCKER_OK)
        return;
    if (rep.status == 200 && docker_parse_engine(rep.body, rep.len, &e, NULL) == DOCKER_OK) {
        pthread_mutex_lock(&c->lock);
        memcpy(c->engine.name, e.name, sizeof(e.name));
        memcpy(c->engine.version, e.version, sizeof(e.version));
        memcpy(c->engine.api_min, e.api_min, sizeof(e.api_min));
        memcpy(c->engine.api_max, e.api_max, sizeof(e.api_max));
        c->engine.podman = e.podman;
        pthread_mutex_unlock(&c->lock);
    }
    docker_reply_free(&rep);
}

docker_code docker_version(struct docker_client *c, struct docker_version *out,
                           struct docker_err *err)
{
    struct docker_reply rep;
    docker_code code;

    if (!c || !out)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "version: no client or output");
    code = get_versioned(c, "version", &rep, err);
    if (code == DOCKER_E_API_VERSION)
        learn_identity(c); /* a refused pinned version: still say which engine refused it */
    if (code != DOCKER_OK)
        return code;
    code = docker_parse_version(rep.body, rep.len, out, err);
    if (code == DOCKER_OK) { /* what a pinned client knows of its engine comes from here */
        pthread_mutex_lock(&c->lock);
        docker_parse_engine(rep.body, rep.len, &c->engine, NULL);
        pthread_mutex_unlock(&c->lock);
    }
    docker_reply_free(&rep);
    return code;
}

docker_code docker_info(struct docker_client *c, struct docker_info *out, struct docker_err *err)
{
    struct docker_reply rep;
    docker_code code;

    if (!c || !out)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "info: no client or output");
    code = get_versioned(c, "info", &rep, err);
    if (code != DOCKER_OK)
        return code;
    code = docker_parse_info(rep.body, rep.len, out, err);
    docker_reply_free(&rep);
    return code;
}
