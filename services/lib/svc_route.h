/* svc_route.h: requests, replies and the route table every service declares. */
#ifndef SVC_ROUTE_H
#define SVC_ROUTE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SVC_MAX_PARAMS 4
#define SVC_PARAM_MAX 96
#define SVC_MAX_QUERY 16

/* One request as a handler sees it; every pointer is borrowed for the handler's call. */
struct svc_req {
    const char *method;
    const char *path;
    char params[SVC_MAX_PARAMS][SVC_PARAM_MAX]; /* the {} segments of the matched pattern */
    int nparams;
    const char *query_keys[SVC_MAX_QUERY];
    const char *query_vals[SVC_MAX_QUERY];
    int nquery;
    const char *authorization; /* the Authorization header, NULL when absent */
    const char *body;          /* the body (NUL-terminated), NULL when empty */
    size_t body_len;
    void *app; /* the service's own context */
};

/* What a handler answers: a status and a JSON body (owned), or a text body (owned). */
struct svc_reply {
    int status;
    json_t *json;
    char *text;
    const char *content_type;
};

typedef void (*svc_handler)(struct svc_req *req, struct svc_reply *rep);

struct svc_route {
    const char *method;
    const char *pattern; /* "/places/{}/reviews": {} matches one non-empty segment; also the
                            metrics label */
    svc_handler fn;
};

/*
 * Finds the route for method and path, filling req->params. Returns its index, or -1 with
 * *wrong_method set when a pattern matched the path but not the method (405), clear when none
 * did (404). Pure.
 */
int svc_route_match(const struct svc_route *routes, size_t n, const char *method, const char *path,
                    struct svc_req *req, bool *wrong_method);

/* Sets rep to status with the JSON body j (taken). j NULL is an empty body for 204 and 5xx; for
 * any other status it means jansson failed, and rep becomes a 500: never a success without its
 * body. */
void svc_reply_json(struct svc_reply *rep, int status, json_t *j);
/* Sets rep to status with {"error": code, "message": "..."}. */
void svc_reply_error(struct svc_reply *rep, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Frees the bodies of rep. */
void svc_reply_free(struct svc_reply *rep);

/* The value of query parameter key (first occurrence), NULL when absent. */
const char *svc_req_query(const struct svc_req *req, const char *key);

/*
 * Parses the body as one JSON object. On failure sets rep to 400 (malformed JSON, not an object,
 * empty) and returns NULL. The caller owns the result. Rejects NUL escapes; jansson rejects
 * invalid UTF-8.
 */
json_t *svc_req_json(const struct svc_req *req, struct svc_reply *rep);

#endif
