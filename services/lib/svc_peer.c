/* svc_peer.c: service-to-service calls. */
#include "svc_peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "svc_httpc.h"
#include "svc_log.h"

enum svc_peer_status svc_peer_get(const char *base, const char *path, long *status, json_t **body)
{
    struct svc_httpc_answer a = {0};
    char err[300], q[400];

    *body = NULL;
    enum svc_httpc_status st = svc_httpc_get(base, path, 500, 2000, &a, err, sizeof(err));
    /* refused, unresolvable, or cut before an answer: once more after 50 ms (a GET) */
    if (st == SVC_HTTPC_UNREACHABLE || st == SVC_HTTPC_BROKEN) {
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000L}, NULL);
        st = svc_httpc_get(base, path, 500, 2000, &a, err, sizeof(err));
    }
    if (st != SVC_HTTPC_OK) {
        svc_log_warn("peer unreachable", "url=%s error=%s", base, svc_log_quote(q, sizeof(q), err));
        return SVC_PEER_DOWN;
    }
    *status = a.status;
    *body = json_loadb(a.body, a.body_len, 0, NULL);
    free(a.body);
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
