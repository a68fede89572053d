/* docker_service.c: Swarm service calls (inspect, list, update, tasks) on a manager node. */
#include "docker_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* docker_http() plus the service calls' status mapping (503 NO_SWARM, stale version CONFLICT):
 * DOCKER_OK only for a 2xx reply (rep then owns the body). */
static docker_code service_call(struct docker_client *c, const char *method, const char *path,
                                const char *body, const char *what, struct docker_reply *rep,
                                struct docker_err *err)
{
    struct docker_request req = {
        .method = method, .path = path, .body = body, .timeout_ms = c->timeout_ms, .what = what};
    docker_code code = docker_http(c, &req, rep, err);

    if (code != DOCKER_OK)
        return code;
    if (rep->status >= 200 && rep->status < 300)
        return DOCKER_OK;
    code = docker_service_reply_error(rep->status, rep->body, rep->len, what, err);
    docker_reply_free(rep);
    return code;
}

/* The API version for a call on c; `what` names the call in messages. */
static docker_code version_for(struct docker_client *c, const char *what, char ver[16],
                               struct docker_err *err)
{
    if (!c)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "%s: no client", what);
    return docker_client_version_for_call(c, ver, err);
}

docker_code docker_service_inspect(struct docker_client *c, const char *id,
                                   struct docker_service *out, struct docker_err *err)
{
    char path[DOCKER_PATH_MAX];
    char what[96];
    struct docker_reply rep;
    char ver[16];
    docker_code code;

    if (out)
        memset(out, 0, sizeof(*out));
    snprintf(what, sizeof(what), "inspect service %.64s", id ? id : "(null)");
    code = version_for(c, what, ver, err);
    if (code == DOCKER_OK)
        code = docker_service_path(ver, id, NULL, NULL, what, path, sizeof(path), err);
    if (code != DOCKER_OK)
        return code;
    if (!out)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "%s: no output", what);
    code = service_call(c, "GET", path, NULL, what, &rep, err);
    if (code != DOCKER_OK)
        return code;
    code = docker_parse_service(rep.body, rep.len, out, err);
    docker_reply_free(&rep);
    return code;
}

docker_code docker_service_list(struct docker_client *c, const char *const *label_filters,
                                struct docker_service_list *out, struct docker_err *err)
{
    char path[DOCKER_PATH_MAX];
    struct docker_reply rep;
    char ver[16];
    docker_code code;

    if (!c || !out)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "list services: no client or output");
    out->v = NULL;
    out->n = 0;
    code = docker_client_version_for_call(c, ver, err);
    if (code == DOCKER_OK)
        code = docker_service_list_path(ver, label_filters, path, sizeof(path), err);
    if (code == DOCKER_OK)
        code = service_call(c, "GET", path, NULL, "list services", &rep, err);
    if (code != DOCKER_OK)
        return code;
    code = docker_parse_service_list(rep.body, rep.len, out, err);
    docker_reply_free(&rep);
    return code;
}

docker_code docker_service_update(struct docker_client *c, const struct docker_service *cur,
                                  const struct docker_service_change *chg, struct docker_err *err)
{
    char path[DOCKER_PATH_MAX];
    char what[96];
    char query[32];
    struct docker_reply rep;
    char ver[16];
    char *body;
    docker_code code;

    if (!cur)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "update service: no service");
    snprintf(what, sizeof(what), "update service %.64s", cur->name[0] ? cur->name : cur->id);
    code = docker_service_spec_apply(cur, chg, &body, err);
    if (code != DOCKER_OK)
        return code;
    snprintf(query, sizeof(query), "version=%llu", (unsigned long long)cur->version);
    code = version_for(c, what, ver, err);
    if (code == DOCKER_OK)
        code = docker_service_path(ver, cur->id, "update", query, what, path, sizeof(path), err);
    if (code == DOCKER_OK)
        code = service_call(c, "POST", path, body, what, &rep, err);
    if (code == DOCKER_OK)
        docker_reply_free(&rep);
    free(body);
    return code;
}

docker_code docker_service_tasks(struct docker_client *c, const char *service_id,
                                 struct docker_service_tasks *out, struct docker_err *err)
{
    char path[DOCKER_PATH_MAX];
    char what[96];
    struct docker_reply rep;
    char ver[16];
    docker_code code;

    if (out)
        memset(out, 0, sizeof(*out));
    snprintf(what, sizeof(what), "tasks of %.64s", service_id ? service_id : "(null)");
    code = version_for(c, what, ver, err);
    if (code == DOCKER_OK && !out)
        code = docker_err_set(err, DOCKER_E_INVALID, 0, "%s: no output", what);
    if (code == DOCKER_OK)
        code = docker_tasks_path(ver, service_id, path, sizeof(path), err);
    if (code == DOCKER_OK)
        code = service_call(c, "GET", path, NULL, what, &rep, err);
    if (code != DOCKER_OK)
        return code;
    code = docker_parse_tasks(rep.body, rep.len, out, err);
    docker_reply_free(&rep);
    return code;
}
