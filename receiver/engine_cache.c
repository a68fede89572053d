/* engine_cache.c: the container and service cache the HTTP edge reads without calling Docker. */
#include "engine_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "utf8.h"

/* The labels policy reads (policy_label_keys), copied. */
static void cache_labels(struct engine_cached *c, const struct docker_labels *l)
{
    for (size_t i = 0; i < POLICY_N_LABELS; i++) {
        const char *v = docker_labels_get(l, policy_label_keys[i]);
        c->has_label[i] = v != NULL;
        utf8_copy(c->label[i], sizeof(c->label[i]), v);
    }
}

static void cache_fill(struct cache_entry *ce, const struct docker_summary *s)
{
    struct engine_cached *c = &ce->c;

    memset(ce, 0, sizeof(*ce));
    utf8_copy(ce->name, sizeof(ce->name), s->name);
    c->exists = true;
    c->running = strcmp(s->state, "running") == 0;
    cache_labels(c, &s->labels);
}

static void cache_fill_service(struct cache_entry *ce, const struct docker_service *s)
{
    struct engine_cached *c = &ce->c;

    memset(ce, 0, sizeof(*ce));
    utf8_copy(ce->name, sizeof(ce->name), s->name);
    c->exists = c->running = c->service = true;
    c->global = s->global;
    cache_labels(c, &s->labels);
}

docker_code engine_refresh(struct engine *e)
{
    struct docker_summary_list l = {0};
    struct docker_err derr = {0};
    docker_code rc = e->o.ops->list(e->o.docker_ud, &l, &derr);

    if (rc != DOCKER_OK) {
        metrics_docker_error(e->o.metrics, docker_code_name(rc));
        pthread_mutex_lock(&e->lock);
        if (e->ready)
            log_warn("docker unreachable", "error=%s",
                     derr.msg[0] ? derr.msg : docker_code_name(rc));
        e->ready = false;
        pthread_mutex_unlock(&e->lock);
        return rc;
    }
    /* Swarm services, when this node is a manager; the containers are listed first so that a
     * container wins over a service of the same name. */
    struct docker_service_list sl = {0};
    if (e->o.ops->service_list) {
        struct docker_err serr = {0};
        docker_code src = e->o.ops->service_list(e->o.docker_ud, &sl, &serr);
        if (src != DOCKER_OK && src != DOCKER_E_NO_SWARM) {
            metrics_docker_error(e->o.metrics, docker_code_name(src));
            log_debug("cannot list services", "error=%s", serr.msg);
        }
    }
    size_t n = l.n < MAX_CACHE ? l.n : MAX_CACHE;
    size_t ns = sl.n < MAX_CACHE - n ? sl.n : MAX_CACHE - n;
    struct cache_entry *fresh = calloc(n + ns + 1, sizeof(*fresh));
    for (size_t i = 0; fresh && i < n; i++)
        cache_fill(&fresh[i], &l.v[i]);
    for (size_t i = 0; fresh && i < ns; i++)
        cache_fill_service(&fresh[n + i], &sl.v[i]);
    docker_summary_list_free(&l);
    docker_service_list_free(&sl);
    n += ns;
    pthread_mutex_lock(&e->lock);
    if (fresh) {
        free(e->cache);
        e->cache = fresh;
        e->n_cache = n;
    }
    if (!e->ready)
        log_info("docker reachable", "containers=%zu", n);
    e->ready = true;
    pthread_mutex_unlock(&e->lock);
    return DOCKER_OK;
}

void *engine_refresh_main(void *arg)
{
    struct engine *e = arg;
    struct timespec ts;

    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        pthread_mutex_unlock(&e->lock);
        engine_refresh(e);
        pthread_mutex_lock(&e->lock);
        if (e->stopping)
            break;
        clock_deadline_in(&ts, e->o.refresh_interval_ms);
        pthread_cond_timedwait(&e->timer_cond, &e->lock, &ts);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

bool engine_lookup(struct engine *e, const char *name, struct engine_cached *out)
{
    bool found = false;

    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->n_cache && !found; i++) {
        if (strcmp(e->cache[i].name, name) == 0) {
            *out = e->cache[i].c;
            found = true;
        }
    }
    pthread_mutex_unlock(&e->lock);
    return found;
}

void engine_cached_policy(const struct engine_cached *cached, struct policy_container *c)
{
    struct policy_kv kv[POLICY_N_LABELS];
    size_t n = 0;

    for (size_t i = 0; i < POLICY_N_LABELS; i++) {
        if (cached->has_label[i])
            kv[n++] = (struct policy_kv){policy_label_keys[i], cached->label[i]};
    }
    if (cached->service)
        policy_service_from_labels(c, kv, n, cached->global);
    else
        policy_container_from_labels(c, kv, n, cached->running);
    c->exists = cached->exists;
}

bool engine_cached_is_managed(const struct engine *e, const struct engine_cached *cached)
{
    struct policy_container pc;

    engine_cached_policy(cached, &pc);
    return policy_managed(&e->o.lim, pc.enable);
}

/* Lock held: whether the cache knows name as a managed container. */
bool engine_cached_managed(struct engine *e, const char *name)
{
    for (size_t i = 0; i < e->n_cache; i++) {
        const struct engine_cached *c = &e->cache[i].c;
        if (strcmp(e->cache[i].name, name) == 0)
            return engine_cached_is_managed(e, c);
    }
    return false;
}
