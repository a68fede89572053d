/* docker_container.c: container calls (inspect, list, start, stop, restart, update, stats) and the
 * Memory/MemorySwap rule. */
#include "docker_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest stop timeout accepted, and the margin added when the daemon's default is used. */
#define MAX_STOP_TIMEOUT_S 3600
#define DEFAULT_STOP_MARGIN_MS 60000

/* Builds the path for a call on one container; `what` gets "<verb> <id>" for messages. */
static docker_code container_path(struct docker_client *c, const char *verb, const char *id,
                                  const char *action, const char *query, char *path, size_t len,
                                  char *what, size_t wlen, struct docker_err *err)
{
    char ver[16];
    docker_code code;

    /* a full 64-hex id is shortened as the docker CLI does, so the daemon's message still fits */
    snprintf(what, wlen, "%s %.*s", verb, id && strlen(id) == 64 ? 12 : 64, id ? id : "(null)");
    if (!c)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "%s: no client", what);
    code = docker_client_version_for_call(c, ver, err);
    if (code != DOCKER_OK)
        return code;
    return docker_container_path(ver, id, action, query, what, path, len, err);
}

docker_code docker_container_inspect(struct docker_client *c, const char *id,
                                     struct docker_container *out, struct docker_err *err)
{
    char path[DOCKER_PATH_MAX];
    char what[96];
    struct docker_reply rep;
    docker_code code;

    if (out)
        memset(out, 0, sizeof(*out));
    code = container_path(c, "inspect", id, "json", NULL, path, sizeof(path), what, sizeof(what),
                          err);
    if (code != DOCKER_OK)
        return code;
    if (!out)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "%s: no output", what);
    code = docker_call(c, "GET", path, NULL, c->timeout_ms, what, &rep, err);
    if (code != DOCKER_OK)
        return code;
    code = docker_parse_inspect(rep.body, rep.len, out, err);
    docker_reply_free(&rep);
    return code;
}

docker_code docker_container_list(struct docker_client *c, const char *const *label_filters,
                                  bool all, struct docker_summary_list *out,
                                  struct docker_err *err)
{
    char path[DOCKER_PATH_MAX];
    struct docker_reply rep;
    char ver[16];
    docker_code code;

    if (!c || !out)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "list: no client or output");
    out->v = NULL;
    out->n = 0;
    code = docker_client_version_for_call(c, ver, err);
    if (code == DOCKER_OK)
        code = docker_list_path(ver, label_filters, all, path, sizeof(path), err);
    if (code == DOCKER_OK)
        code = docker_call(c, "GET", path, NULL, c->timeout_ms, "list", &rep, err);
    if (code != DOCKER_OK)
        return code;
    code = docker_parse_list(rep.body, rep.len, out, err);
    docker_reply_free(&rep);
    return code;
}

/* POST /containers/{id}/<action>[?t=..] with a reply body we do not need. */
static docker_code post_action(struct docker_client *c, const char *id, const char *action,
                               int stop_timeout_s, struct docker_err *err)
{
    char path[DOCKER_PATH_MAX];
    char what[96];
    char query[32] = "";
    struct docker_reply rep;
    long timeout_ms;
    docker_code code;

    if (stop_timeout_s > MAX_STOP_TIMEOUT_S)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "%s: stop timeout %d s above %d s",
                              action, stop_timeout_s, MAX_STOP_TIMEOUT_S);
    if (stop_timeout_s >= 0)
        snprintf(query, sizeof(query), "t=%d", stop_timeout_s);
    code = container_path(c, action, id, action, query[0] ? query : NULL, path, sizeof(path),
                          what, sizeof(what), err);
    if (code != DOCKER_OK)
        return code;
    /* stop and restart wait for the container to stop: the call may take that long, plus margin */
    timeout_ms = c->timeout_ms;
    if (strcmp(action, "start") != 0)
        timeout_ms += stop_timeout_s >= 0 ? stop_timeout_s * 1000L : DEFAULT_STOP_MARGIN_MS;
    code = docker_call(c, "POST", path, NULL, timeout_ms, what, &rep, err);
    if (code == DOCKER_OK)
        docker_reply_free(&rep);
    return code;
}

docker_code docker_container_start(struct docker_client *c, const char *id,
                                   struct docker_err *err)
{
    return post_action(c, id, "start", -1, err);
}

docker_code docker_container_stop(struct docker_client *c, const char *id, int stop_timeout_s,
                                  struct docker_err *err)
{
    return post_action(c, id, "stop", stop_timeout_s, err);
}

docker_code docker_container_restart(struct docker_client *c, const char *id, int stop_timeout_s,
                                     struct docker_err *err)
{
    return post_action(c, id, "restart", stop_timeout_s, err);
}

docker_code docker_container_update(struct docker_client *c, const char *id,
                                    const struct docker_update *u, struct docker_err *err)
{
    char path[DOCKER_PATH_MAX];
    char what[96];
    struct docker_reply rep;
    struct docker_engine e;
    char *body;
    docker_code code;

    code = container_path(c, "update", id, "update", NULL, path, sizeof(path), what, sizeof(what),
                          err);
    if (code != DOCKER_OK)
        return code;
    docker_client_engine(c, &e);
    if (e.podman) /* measured on Podman 4.3.1: docs/docker-engine.md */
        return docker_err_set(
            err, DOCKER_E_UNSUPPORTED, 0,
            "%s: %s %s cannot change a container's limits in a way this "
            "receiver can verify or undo: its Docker API has no container update "
            "(404 Not Found) and libpod's update changes the cgroup while inspect "
            "keeps reporting the limits the container was created with",
            what, e.name, e.version);
    code = docker_update_body(u, &body, err);
    if (code != DOCKER_OK)
        return code;
    code = docker_call(c, "POST", path, body, c->timeout_ms, what, &rep, err);
    if (code == DOCKER_OK)
        docker_reply_free(&rep);
    free(body);
    return code;
}

docker_code docker_container_stats(struct docker_client *c, const char *id,
                                   struct docker_stats *out, struct docker_err *err)
{
    char path[DOCKER_PATH_MAX];
    char what[96];
    struct docker_reply rep;
    docker_code code;

    if (out)
        memset(out, 0, sizeof(*out));
    code = container_path(c, "stats", id, "stats", "stream=false&one-shot=true", path,
                          sizeof(path), what, sizeof(what), err);
    if (code != DOCKER_OK)
        return code;
    if (!out)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "%s: no output", what);
    code = docker_call(c, "GET", path, NULL, c->timeout_ms, what, &rep, err);
    if (code != DOCKER_OK)
        return code;
    code = docker_parse_stats(rep.body, rep.len, out, err);
    docker_reply_free(&rep);
    return code;
}

/* a * num / den without overflow, saturating at INT64_MAX (all arguments positive). */
static int64_t scale_sat(int64_t a, int64_t num, int64_t den)
{
    __int128 r = (__int128)a * num / den;

    return r > INT64_MAX ? INT64_MAX : (int64_t)r;
}

int64_t docker_memory_swap_for(int64_t old_memory, int64_t old_swap, int64_t new_memory)
{
    if (new_memory <= 0)
        return 0;
    if (old_swap == -1)
        return -1;
    if (old_swap > 0 && old_memory > 0)
        return scale_sat(new_memory, old_swap, old_memory);
    return new_memory > INT64_MAX / 2 ? INT64_MAX : 2 * new_memory;
}
