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
    utf8_copy(c->id, sizeof(c->id), s->id);
    c->exists = true;
    c->running = strcmp(s->state, "running") == 0;
    cache_labels(c, &s->labels);
}

static void cache_fill_service(struct cache_entry *ce, const struct docker_service *s)
{
    struct engine_cached *c = &ce->c;

    memset(ce, 0, sizeof(*ce));
    utf8_copy(ce->name, sizeof(ce->name), s->name);
    utf8_copy(c->id, sizeof(c->id), s->id);
    c->exists = c->running = c->service = true;
    c->global = s->global;
    cache_labels(c, &s->labels);
}

/* Asks GET /info whether this node is a swarm manager; logs a change. False when /info failed
 * (what was known stays). */
static bool ask_swarm(struct engine *e)
{
    struct docker_info inf;
    struct docker_err derr = {0};

    if (e->o.ops->info(e->o.docker_ud, &inf, &derr) != DOCKER_OK)
        return false;
    pthread_mutex_lock(&e->lock);
    bool changed = e->swarm_known && e->swarm_manager != inf.swarm_manager;
    e->swarm_known = true;
    e->swarm_manager = inf.swarm_manager;
    pthread_mutex_unlock(&e->lock);
    if (changed)
        log_info(inf.swarm_manager ? "this node became a swarm manager; services are managed too"
                                   : "this node is no longer a swarm manager; services are not "
                                     "asked for",
                 "swarm_active=%s", inf.swarm_active ? "true" : "false");
    return true;
}

bool engine_services_available(struct engine *e, bool ask)
{
    const struct engine_docker_ops *ops = e->o.ops;

    if (!ops->service_inspect)
        return false;
    if (!ops->info)
        return true;
    pthread_mutex_lock(&e->lock);
    bool manager = e->swarm_manager;
    pthread_mutex_unlock(&e->lock);
    if (manager || !ask || !ask_swarm(e))
        return manager;
    pthread_mutex_lock(&e->lock);
    manager = e->swarm_manager;
    pthread_mutex_unlock(&e->lock);
    return manager;
}

void engine_no_swarm(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->swarm_manager = false;
    pthread_mutex_unlock(&e->lock);
}

docker_code engine_refresh(struct engine *e)
{
    struct docker_summary_list l = {0};
    struct docker_err derr = {0};
    const char *fbuf[POLICY_MAX_SELECTOR + 1];
    const char *const *filters = policy_selector_filters(&e->o.lim, fbuf);
    docker_code rc = filters && e->o.ops->list_labels
                         ? e->o.ops->list_labels(e->o.docker_ud, filters, &l, &derr)
                         : e->o.ops->list(e->o.docker_ud, &l, &derr);

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
    /* Swarm services, when this node is a manager (asked of GET /info first: a service list on any
     * other node is an error in the daemon's log); the containers are listed first so that a
     * container wins over a service of the same name. */
    struct docker_service_list sl = {0};
    if (e->o.ops->service_list && (!e->o.ops->info || ask_swarm(e)) &&
        engine_services_available(e, false)) {
        struct docker_err serr = {0};
        docker_code src = e->o.ops->service_list(e->o.docker_ud, &sl, &serr);
        if (src == DOCKER_E_NO_SWARM)
            engine_no_swarm(e);
        else if (src != DOCKER_OK) {
            metrics_docker_error(e->o.metrics, docker_code_name(src));
            log_debug("cannot list services", "error=%s", serr.msg);
        }
    }
    /* only the receiver's scope is cached (Docker filtered the containers already; checked
     * again, and services are filtered here): what is outside does not exist for the API */
    size_t cap = l.n + sl.n + 16;
    struct cache_entry *fresh = calloc(cap, sizeof(*fresh));
    uint64_t *fresh_hash = calloc(cap, sizeof(*fresh_hash));
    size_t n = 0;
    if (!fresh || !fresh_hash) {
        free(fresh);
        free(fresh_hash);
        fresh = NULL;
        fresh_hash = NULL;
    }
    for (size_t i = 0; fresh && i < l.n && n < MAX_CACHE; i++) {
        if (engine_selected(e, &l.v[i].labels))
            cache_fill(&fresh[n++], &l.v[i]);
    }
    for (size_t i = 0; fresh && i < sl.n && n < MAX_CACHE; i++) {
        if (engine_selected(e, &sl.v[i].labels))
            cache_fill_service(&fresh[n++], &sl.v[i]);
    }
    for (size_t i = 0; fresh && i < n; i++)
        fresh_hash[i] = engine_name_hash(fresh[i].name);
    docker_summary_list_free(&l);
    docker_service_list_free(&sl);
    pthread_mutex_lock(&e->lock);
    if (fresh) {
        free(e->cache);
        free(e->cache_hash);
        e->cache = fresh;
        e->cache_hash = fresh_hash;
        e->n_cache = n;
        e->cap_cache = cap;
    }
    if (!e->ready)
        log_info("docker reachable", "containers=%zu", n);
    e->ready = true;
    pthread_mutex_unlock(&e->lock);
    return DOCKER_OK;
}

/* ---- the cache kept from Docker's event stream between full lists ---- */

/* Lock held: the cache entry of container `name` (not a service), or NULL. */
static struct cache_entry *cache_find(struct engine *e, const char *name)
{
    uint64_t h = engine_name_hash(name);

    for (size_t i = 0; i < e->n_cache; i++) {
        if (e->cache_hash[i] == h && !e->cache[i].c.service &&
            strcmp(e->cache[i].name, name) == 0)
            return &e->cache[i];
    }
    return NULL;
}

/* Lock held: the entry of container `name`, added when new (NULL: the cache is full). */
static struct cache_entry *cache_get(struct engine *e, const char *name)
{
    struct cache_entry *ce = cache_find(e, name);

    if (ce)
        return ce;
    if (e->n_cache == e->cap_cache) {
        size_t cap = e->cap_cache ? e->cap_cache * 2 : 64;
        if (cap > MAX_CACHE)
            cap = MAX_CACHE;
        uint64_t *hashes = cap > e->cap_cache ? realloc(e->cache_hash, cap * sizeof(*hashes))
                                              : NULL;
        if (!hashes)
            return NULL;
        e->cache_hash = hashes; /* larger than needed until the cache grows too: harmless */
        struct cache_entry *grown = realloc(e->cache, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        e->cache = grown;
        e->cap_cache = cap;
    }
    ce = &e->cache[e->n_cache++];
    memset(ce, 0, sizeof(*ce));
    utf8_copy(ce->name, sizeof(ce->name), name);
    e->cache_hash[e->n_cache - 1] = engine_name_hash(ce->name);
    ce->c.exists = true;
    return ce;
}

/* Lock held. */
static void cache_remove(struct engine *e, const char *name)
{
    struct cache_entry *ce = cache_find(e, name);

    if (ce) {
        size_t i = (size_t)(ce - e->cache);
        *ce = e->cache[--e->n_cache];
        e->cache_hash[i] = e->cache_hash[e->n_cache];
    }
}

struct cache_stream {
    struct engine *e;
    int64_t listed_ns; /* wall time the full list started: service and node events before it are in
                          that list already */
    bool relist;       /* a service or node changed: list again now */
};

/* One container, service or node event: the cache follows containers from the event itself (its
 * Actor.Attributes carry the name and every label); a service or node change ends the stream for
 * a full list (services' labels are not in their events, and a node event may mean this node
 * became a manager). */
static int on_cache_event(const struct docker_event *ev, void *ud)
{
    struct cache_stream *cs = ud;
    struct engine *e = cs->e;
    const char *a = ev->action ? ev->action : "";

    if (!ev->type)
        return 0;
    if (strcmp(ev->type, "service") == 0 || strcmp(ev->type, "node") == 0) {
        if (ev->time_nano && ev->time_nano < cs->listed_ns)
            return 0;
        cs->relist = true;
        return 1;
    }
    if (strcmp(ev->type, "container") != 0 || !ev->name || !ev->name[0])
        return 0;
    pthread_mutex_lock(&e->lock);
    /* outside the receiver's scope (--selector; an event carries every label of its container):
     * not cached, as the full list leaves it out. Checked here rather than by Docker's filter,
     * which would also drop the service and node events the cache needs. */
    if (strcmp(a, "destroy") == 0 || !ev->attributes || !engine_selected(e, ev->attributes)) {
        cache_remove(e, ev->name);
        pthread_mutex_unlock(&e->lock);
        return 0;
    }
    struct cache_entry *ce = NULL;
    if (strcmp(a, "rename") == 0) {
        const char *old = ev->attributes ? docker_labels_get(ev->attributes, "oldName") : NULL;
        if (old && old[0] == '/')
            old++;
        struct cache_entry *was = old ? cache_find(e, old) : NULL;
        bool running = was && was->c.running;
        if (was) /* else replayed, or listed under its new name already: state kept */
            cache_remove(e, old);
        ce = cache_get(e, ev->name);
        if (ce && was)
            ce->c.running = running;
    } else {
        ce = cache_get(e, ev->name);
    }
    if (ce) {
        if (strcmp(a, "start") == 0 || strcmp(a, "unpause") == 0)
            ce->c.running = true;
        else if (strcmp(a, "create") == 0 || strcmp(a, "die") == 0 || strcmp(a, "pause") == 0)
            ce->c.running = false;
        if (ev->attributes)
            cache_labels(&ce->c, ev->attributes);
        if (ev->id && ev->id[0])
            utf8_copy(ce->c.id, sizeof(ce->c.id), ev->id);
    }
    pthread_mutex_unlock(&e->lock);
    return 0;
}

/* Follows the event stream from just before the list that started at listed_ns until the re-list
 * is due (the timer cancels it), the engine stops, a service or node changed, or the stream
 * fails. Returns true when a full list is wanted at once (re-list due, or a service or node
 * changed), false after a failure (the caller waits before listing again). */
static bool follow_events(struct engine *e, int64_t listed_ns)
{
    static const char *const types[] = {"container", "service", "node", NULL};
    static const char *const actions[] = {"create", "start",   "die",    "destroy", "rename",
                                          "pause",  "unpause", "update", "remove",  NULL};
    struct docker_events_filter f = {types, actions, NULL, listed_ns / 1000000000 - 1};
    struct cache_stream cs = {e, listed_ns, false};
    struct docker_err derr = {0};
    struct docker_cancel *k = docker_cancel_new();

    if (!k)
        return false;
    pthread_mutex_lock(&e->lock);
    if (e->stopping) {
        pthread_mutex_unlock(&e->lock);
        docker_cancel_free(k);
        return false;
    }
    e->cache_cancel = k;
    e->resync_due_ms = clock_mono_ms() + e->o.refresh_interval_ms;
    pthread_mutex_unlock(&e->lock);
    docker_code rc = e->o.ops->events(e->o.docker_ud, &f, on_cache_event, &cs, k, &derr);
    pthread_mutex_lock(&e->lock);
    bool due = rc == DOCKER_E_CANCELLED && !e->stopping;
    e->cache_cancel = NULL;
    e->resync_due_ms = 0;
    pthread_mutex_unlock(&e->lock);
    docker_cancel_free(k);
    if (rc != DOCKER_OK && rc != DOCKER_E_CANCELLED)
        log_debug("the cache's event stream ended; listing again", "error=%s",
                  derr.msg[0] ? derr.msg : docker_code_name(rc));
    return due || cs.relist;
}

void engine_cache_tick(struct engine *e)
{
    if (e->cache_cancel && e->resync_due_ms && clock_mono_ms() >= e->resync_due_ms) {
        e->resync_due_ms = 0;
        docker_events_cancel(e->cache_cancel);
    }
}

/* With an event stream: list, follow the events until the re-list is due, list again; after a
 * failure wait min(interval, 2 s) first. Without: list every refresh interval. */
void *engine_refresh_main(void *arg)
{
    struct engine *e = arg;
    struct timespec ts;
    int64_t retry_ms = e->o.refresh_interval_ms < 2000 ? e->o.refresh_interval_ms : 2000;

    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        pthread_mutex_unlock(&e->lock);
        int64_t listed_ns = clock_wall_ns();
        docker_code rc = engine_refresh(e);
        int64_t wait_ms = e->o.refresh_interval_ms;
        if (e->o.ops->events)
            wait_ms = rc == DOCKER_OK && follow_events(e, listed_ns) ? 0 : retry_ms;
        pthread_mutex_lock(&e->lock);
        if (e->stopping)
            break;
        if (wait_ms > 0) {
            clock_deadline_in(&ts, wait_ms);
            pthread_cond_timedwait(&e->timer_cond, &e->lock, &ts);
        }
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

bool engine_lookup(struct engine *e, const char *name, struct engine_cached *out)
{
    pthread_mutex_lock(&e->lock);
    const struct cache_entry *ce = engine_cache_find(e, name);
    if (ce)
        *out = ce->c;
    pthread_mutex_unlock(&e->lock);
    return ce != NULL;
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
    const struct cache_entry *ce = engine_cache_find(e, name);

    return ce && engine_cached_is_managed(e, &ce->c);
}
