/* docker_engine.c: what the client knows of its engine, said for people: the /readyz body and
 * the start-up log's fields (name, version, API in use, the daemon's range, what it cannot do). */
#include "docker_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

const char *docker_engine_state(const struct docker_engine *e, bool engine_ready)
{
    if (e->code == DOCKER_E_API_VERSION)
        return "refused";
    if (engine_ready)
        return "reachable";
    return "unreachable";
}

const char *docker_engine_unsupported(const struct docker_engine *e)
{
    /* measured on Podman 4.3.1 (docs/docker-engine.md) */
    if (e->podman)
        return "scaling container limits (its Docker API has no container update; libpod's "
               "update is not reported by inspect, so a scale-in could not be verified or undone), "
               "swarm services (no swarm)";
    return "";
}

/* obj[key] = s unless s is empty; -1 on allocation failure. */
static int set_str(json_t *obj, const char *key, const char *s)
{
    return s[0] ? json_object_set_new(obj, key, json_string(s)) : 0;
}

char *docker_engine_ready_json(const struct docker_engine *e, bool engine_ready, bool *ready)
{
    json_t *o = json_object();
    char range[40] = "";
    char *text;
    int bad = !o;

    *ready = engine_ready && e->code != DOCKER_E_API_VERSION;
    if (e->api_max[0])
        snprintf(range, sizeof(range), "%s..%s", e->api_min[0] ? e->api_min : "?", e->api_max);
    if (!bad)
        bad |= json_object_set_new(o, "status", json_string(*ready ? "ready" : "not ready"));
    if (!bad)
        bad |= json_object_set_new(o, "docker", json_string(docker_engine_state(e, engine_ready)));
    if (!bad && !*ready && e->code != DOCKER_OK)
        bad |= set_str(o, "error", e->message);
    if (!bad)
        bad |= set_str(o, "engine", e->name) | set_str(o, "engine_version", e->version) |
               set_str(o, "api", e->api) | set_str(o, "api_range", range) |
               set_str(o, "unsupported", docker_engine_unsupported(e));
    if (!bad && e->pinned)
        bad |= json_object_set_new(o, "api_pinned", json_true());
    text = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    return text;
}
