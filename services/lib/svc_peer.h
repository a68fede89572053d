/* svc_peer.h: calls to other services (svc_httpc): bearer-token checks and place lookups. */
#ifndef SVC_PEER_H
#define SVC_PEER_H

#include <jansson.h>
#include <stdbool.h>

#include "svc_app.h"

enum svc_peer_status {
    SVC_PEER_OK,   /* an HTTP answer arrived: see *status and *body */
    SVC_PEER_DOWN, /* no answer after one retry: refused, unresolvable, timed out */
};

/*
 * GETs base + path with a 500 ms connect and 2 s total timeout; a failed connection is retried
 * once after 50 ms. *body gets the parsed JSON answer (NULL when none; caller owns it). The
 * answer is bounded to 64 KiB. Any thread.
 */
enum svc_peer_status svc_peer_get(const char *base, const char *path, long *status, json_t **body);

/*
 * Checks `Authorization: Bearer <token>` through user's GET /sessions/{token}. True with
 * *user_id set; false with rep set to 401 (missing/unknown/expired token) or 503 (user down).
 */
bool svc_peer_auth(struct svc_app *app, const struct svc_req *req, long long *user_id,
                   struct svc_reply *rep);

/* True when place's GET /places/{id} answers 200; false with rep set to 404 or 503. */
bool svc_peer_place_exists(struct svc_app *app, long long place_id, struct svc_reply *rep);

/* True when s is a well-formed session token (64 lowercase hex digits). Pure. */
bool svc_token_valid(const char *s);

#endif
