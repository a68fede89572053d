/* docker_client.c: client lifetime, API version negotiation, and the daemon-level calls
 * (ping, version, info). */
#include "docker_internal.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * DESIGN
 * The client's fields are set in docker_client_new() and never change, except api_version, which is
 * written at most once, under negotiate_lock, before `negotiated` is stored with release order
 * (the daemon is asked for its version outside the lock, so callers never queue behind a hung ping);
 * readers load `negotiated` with acquire order and only then read api_version. Every call creates
 * its own CURL easy handle, so calls from many threads never share libcurl state.
 */

#define DEFAULT_CONNECT_MS 2000
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_MAX_REPLY (8u << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

docker_code docker_call(struct docker_client *c, const char *method, const char *path,
                        const char *body, long timeout_ms, const char *what,
                        struct docker_reply *rep, struct docker_err *err)
{
    struct docker_request req = {
        .method = method, .path = path, .body = body, .timeout_ms = timeout_ms, .what = what};
    docker_code code = docker_http(c, &req, rep, err);

    if (code != DOCKER_OK)
        return code;
    code = docker_code_for_status(rep->status);
    if (code != DOCKER_OK) {
        docker_reply_error(rep->status, rep->body, rep->len, what, err);
        docker_reply_free(rep);
    }
    return code;
}

/* Asks the daemon for its API version: the Api-Version header of GET /_ping, else GET /version. */
static docker_code daemon_api(struct docker_client *c, char *out, size_t len, struct docker_err *err)
{
    struct docker_reply rep;
    struct docker_version v;
    docker_code code;

    code = docker_call(c, "GET", "/_ping", NULL, c->timeout_ms, "ping", &rep, err);
    if (code != DOCKER_OK)
        return code;
    snprintf(out, len, "%s", rep.api_version);
    docker_reply_free(&rep);
    if (out[0])
        return DOCKER_OK;
    code = docker_call(c, "GET", "/version", NULL, c->timeout_ms, "version", &rep, err);
    if (code != DOCKER_OK)
        return code;
    code = docker_parse_version(rep.body, rep.len, &v, err);
    docker_reply_free(&rep);
    if (code == DOCKER_OK)
        snprintf(out, len, "%s", v.api_version);
    return code;
}

docker_code docker_client_version_for_call(struct docker_client *c, const char **ver,
                                           struct docker_err *err)
{
    char daemon[16];
    docker_code code = DOCKER_OK;

    if (atomic_load_explicit(&c->negotiated, memory_order_acquire)) {
        *ver = c->api_version;
        return DOCKER_OK;
    }
    /* Asked outside the lock: while the daemon hangs, each caller waits for its own ping (at most
     * its timeout), not for every other caller's ping in turn. */
    code = daemon_api(c, daemon, sizeof(daemon), err);
    if (code != DOCKER_OK)
        return code;
    pthread_mutex_lock(&c->negotiate_lock);
    if (!atomic_load_explicit(&c->negotiated, memory_order_acquire)) {
        code = docker_api_negotiate(daemon, c->api_version, sizeof(c->api_version), err);
        if (code == DOCKER_OK)
            atomic_store_explicit(&c->negotiated, 1, memory_order_release);
    }
    pthread_mutex_unlock(&c->negotiate_lock);
    *ver = c->api_version;
    return code;
}

docker_code docker_client_new(const struct docker_opts *opts, struct docker_client **out,
                              struct docker_err *err)
{
    struct docker_opts none = {0};
    struct docker_client *c;
    const char *host;
    const char *ver;
    docker_code code;

    *out = NULL;
    if (!opts)
        opts = &none;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return docker_err_set(err, DOCKER_E_TRANSPORT, 0, "client: libcurl init failed: %s",
                              curl_easy_strerror(curl_init_rc));
    if (opts->api_version && !docker_api_valid(opts->api_version))
        return docker_err_set(err, DOCKER_E_INVALID, 0, "client: API version \"%.16s\" is not "
                              "MAJOR.MINOR", opts->api_version);
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
    pthread_mutex_init(&c->negotiate_lock, NULL);
    atomic_init(&c->negotiated, 0);
    if (opts->api_version) {
        snprintf(c->api_version, sizeof(c->api_version), "%s", opts->api_version);
        atomic_store(&c->negotiated, 1);
    }
    *out = c;
    if (opts->api_version)
        return DOCKER_OK;
    code = docker_client_version_for_call(c, &ver, err);
    if (code == DOCKER_OK || code == DOCKER_E_UNREACHABLE || code == DOCKER_E_TIMEOUT)
        return code; /* the client stays usable: the next call negotiates again */
    docker_client_free(c);
    *out = NULL;
    return code;
}

void docker_client_free(struct docker_client *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->negotiate_lock);
    free(c);
}

const char *docker_client_api_version(const struct docker_client *c)
{
    if (!c || !atomic_load_explicit(&c->negotiated, memory_order_acquire))
        return "";
    return c->api_version;
}

/* GET /v<ver>/<what> into rep. */
static docker_code get_versioned(struct docker_client *c, const char *what,
                                 struct docker_reply *rep, struct docker_err *err)
{
    char path[64];
    const char *ver;
    docker_code code = docker_client_version_for_call(c, &ver, err);

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

docker_code docker_version(struct docker_client *c, struct docker_version *out,
                           struct docker_err *err)
{
    struct docker_reply rep;
    docker_code code;

    if (!c || !out)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "version: no client or output");
    code = get_versioned(c, "version", &rep, err);
    if (code != DOCKER_OK)
        return code;
    code = docker_parse_version(rep.body, rep.len, out, err);
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
