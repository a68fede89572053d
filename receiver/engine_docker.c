/* engine_docker.c: the engine's Docker operations on the real daemon (engine_docker_real). */
#include "engine_internal.h"

#include <stdio.h>
#include <string.h>

/* True when `name` designates the object named obj_name with ID obj_id: its name, its full ID,
 * or an ID prefix of at least 12 characters (what `docker ps` and `docker service ls` show). */
static bool designates(const char *name, const char *obj_name, const char *obj_id)
{
    size_t len = strlen(name);

    return strcmp(name, obj_name) == 0 || strcmp(name, obj_id) == 0 ||
           (len >= 12 && strncmp(name, obj_id, len) == 0);
}

/* Docker resolves a full ID, then a name, then any unique ID prefix: an alert for a container that
 * is gone ("cafe") must not land on another container whose ID happens to start with those
 * characters, so such a match counts as "no such container". */
/* err (when it holds no error yet) says name matched only an ID prefix: what, e.g. "container". */
static void prefix_only(struct docker_err *err, const char *what, const char *name, const char *id)
{
    if (!err || err->code != DOCKER_OK)
        return;
    err->code = DOCKER_E_NOT_FOUND;
    err->http_status = 404;
    if (strcmp(what, "container") == 0)
        snprintf(err->msg, sizeof(err->msg),
                 "inspect %.100s: no container of that name (Docker matched an ID prefix of %.12s)",
                 name, id);
    else
        snprintf(err->msg, sizeof(err->msg),
                 "inspect service %.100s: no service of that name (Docker matched %.25s)", name,
                 id);
}

static docker_code real_inspect(void *ud, const char *name, struct docker_container *out,
                                struct docker_err *err)
{
    docker_code rc = docker_container_inspect(ud, name, out, err);

    if (rc != DOCKER_OK || designates(name, out->name, out->id))
        return rc;
    prefix_only(err, "container", name, out->id);
    docker_container_free(out);
    memset(out, 0, sizeof(*out));
    return DOCKER_E_NOT_FOUND;
}

static docker_code real_update(void *ud, const char *id, const struct docker_update *u,
                               struct docker_err *err)
{
    return docker_container_update(ud, id, u, err);
}

static docker_code real_start(void *ud, const char *id, struct docker_err *err)
{
    return docker_container_start(ud, id, err);
}

static docker_code real_restart(void *ud, const char *id, struct docker_err *err)
{
    return docker_container_restart(ud, id, -1, err);
}

static docker_code real_list(void *ud, struct docker_summary_list *out, struct docker_err *err)
{
    return docker_container_list(ud, NULL, true, out, err);
}

static docker_code real_list_labels(void *ud, const char *const *label_filters,
                                    struct docker_summary_list *out, struct docker_err *err)
{
    return docker_container_list(ud, label_filters, true, out, err);
}

static docker_code real_stats(void *ud, const char *id, struct docker_stats *out,
                              struct docker_err *err)
{
    return docker_container_stats(ud, id, out, err);
}

static docker_code real_service_inspect(void *ud, const char *name, struct docker_service *out,
                                        struct docker_err *err)
{
    docker_code rc = docker_service_inspect(ud, name, out, err);

    if (rc != DOCKER_OK || designates(name, out->name, out->id))
        return rc;
    prefix_only(err, "service", name, out->id);
    docker_service_free(out);
    memset(out, 0, sizeof(*out));
    return DOCKER_E_NOT_FOUND;
}

static docker_code real_service_update(void *ud, const struct docker_service *cur,
                                       const struct docker_service_change *chg,
                                       struct docker_err *err)
{
    return docker_service_update(ud, cur, chg, err);
}

static docker_code real_service_list(void *ud, struct docker_service_list *out,
                                     struct docker_err *err)
{
    return docker_service_list(ud, NULL, out, err);
}

static docker_code real_info(void *ud, struct docker_info *out, struct docker_err *err)
{
    return docker_info(ud, out, err);
}

static docker_code real_events(void *ud, const struct docker_events_filter *f, docker_event_fn fn,
                               void *fn_ud, struct docker_cancel *k, struct docker_err *err)
{
    return docker_events_stream(ud, f, fn, fn_ud, k, err);
}

const struct engine_docker_ops engine_docker_real = {
    real_inspect, real_update,          real_start,          real_restart,      real_list,
    real_stats,   real_service_inspect, real_service_update, real_service_list, real_list_labels,
    real_info,    real_events};
