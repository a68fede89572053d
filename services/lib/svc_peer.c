/* svc_peer.c: service-to-service calls. */
#include "svc_peer.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "svc_log.h"

#define ANSWER_MAX (64 * 1024)

struct answer {
    char buf[ANSWER_MAX + 1];
    size_t len;
    bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t len = size * n;

    if (a->len + len > ANSWER_MAX) {
        a->too_big = true;
        return 0;
    }
    memcpy(a->buf + a->len, p, len);
    a->len += len;
    return len;
}

static CURLcode get_once(const char *url, long *status, struct answer *a)
{
    CURL *h = curl_easy_init();
    if (!h)
        return CURLE_OUT_OF_MEMORY;
    a->len = 0;
    a->too_big = false;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 500L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(h);
    return rc;
}

static bool retryable(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING;
}

enum svc_peer_status svc_peer_get(const char *base, const char *path, long *status, json_t **body)
{
    char url[600];
    struct answer *a = malloc(sizeof(*a));
    CURLcode rc;

    *body = NULL;
    if (!a)
        return SVC_PEER_DOWN;
    snprintf(url, sizeof(url), "%s%s", base, path);
    rc = get_once(url, status, a);
    if (retryable(rc)) {
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000L}, NULL);
        rc = get_once(url, status, a);
    }
    if (rc != CURLE_OK) {
        svc_log_warn("peer unreachable", "url=%s error=\"%s\"", base, curl_easy_strerror(rc));
        free(a);
        return SVC_PEER_DOWN;
    }
    *body = json_loadb(a->buf, a->len, 0, NULL);
    free(a);
    return SVC_PEER_OK;
}

bool svc_token_valid(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++) {
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    }
    return n == 64;
}

bool svc_peer_auth(struct svc_app *app, const struct svc_req *req, long long *user_id,
                   struct svc_reply *rep)
{
    const char *a = req->authorization;
    char path[128];
    long status = 0;
    json_t *body;

    if (!a || strncmp(a, "Bearer ", 7) != 0 || !svc_token_valid(a + 7)) {
        svc_reply_error(rep, 401, "unauthorized", "send Authorization: Bearer <session token>");
        return false;
    }
    snprintf(path, sizeof(path), "/sessions/%s", a + 7);
    if (svc_peer_get(app->cfg.user_url, path, &status, &body) != SVC_PEER_OK) {
        svc_metrics_peer(app->metrics, "user", "down");
        svc_reply_error(rep, 503, "dependency_unavailable", "the user service is unreachable");
        return false;
    }
    json_t *id = json_object_get(body, "user_id");
    bool ok = status == 200 && json_is_integer(id);
    svc_metrics_peer(app->metrics, "user", status >= 500 ? "error" : "ok");
    if (ok)
        *user_id = json_integer_value(id);
    else if (status == 404)
        svc_reply_error(rep, 401, "unauthorized", "the session token is unknown or expired");
    else
        svc_reply_error(rep, 503, "dependency_unavailable", "the user service answered %ld",
                        status);
    json_decref(body);
    return ok;
}

bool svc_peer_place_exists(struct svc_app *app, long long place_id, struct svc_reply *rep)
{
    char path[64];
    long status = 0;
    json_t *body;

    snprintf(path, sizeof(path), "/places/%lld", place_id);
    if (svc_peer_get(app->cfg.place_url, path, &status, &body) != SVC_PEER_OK) {
        svc_metrics_peer(app->metrics, "place", "down");
        svc_reply_error(rep, 503, "dependency_unavailable", "the place service is unreachable");
        return false;
    }
    json_decref(body);
    svc_metrics_peer(app->metrics, "place", status >= 500 ? "error" : "ok");
    if (status == 200)
        return true;
    if (status == 404)
        svc_reply_error(rep, 404, "place_not_found", "no place %lld", place_id);
    else
        svc_reply_error(rep, 503, "dependency_unavailable", "the place service answered %ld",
                        status);
    return false;
}
