/* ts_fakedocker.c: the unit tests' in-memory Docker (see ts_fakedocker.h). */
#include "ts_fakedocker.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ts_fake ts_fk = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

void ts_fake_reset(void)
{
    pthread_mutex_lock(&ts_fk.lock);
    ts_fk.n = ts_fk.n_svc = 0;
    ts_fk.list = false;
    ts_fk.updates = ts_fk.starts = ts_fk.restarts = ts_fk.inspects = ts_fk.conflicts_seen = 0;
    ts_fk.blocked = 0;
    ts_fk.n_applied = 0;
    pthread_mutex_unlock(&ts_fk.lock);
}

static void copy_labels(struct docker_labels *l, const char *const *src)
{
    size_t n = 0;
    while (n < 6 && src[n])
        n++;
    l->v = calloc(n + 1, sizeof(*l->v));
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(src[i], '=');
        l->v[i].key = strndup(src[i], (size_t)(eq - src[i]));
        l->v[i].value = strdup(eq + 1);
    }
    l->n = n;
}

struct ts_fake_ct *ts_fake_find(const char *name)
{
    for (size_t i = 0; i < ts_fk.n; i++) {
        if (strcmp(ts_fk.c[i].name, name) == 0 || strcmp(ts_fk.c[i].id, name) == 0)
            return &ts_fk.c[i];
    }
    for (size_t i = 0; strlen(name) >= 12 && i < ts_fk.n; i++) { /* an ID prefix, as Docker */
        if (strncmp(ts_fk.c[i].id, name, strlen(name)) == 0)
            return &ts_fk.c[i];
    }
    return NULL;
}

struct ts_fake_ct *ts_fake_add(const char *name, int64_t shares, int64_t memory, bool managed)
{
    if (ts_fk.n >= sizeof(ts_fk.c) / sizeof(ts_fk.c[0])) {
        fprintf(stderr, "ts_fake_add: at most %zu fake containers\n",
                sizeof(ts_fk.c) / sizeof(ts_fk.c[0]));
        abort();
    }
    struct ts_fake_ct *c = &ts_fk.c[ts_fk.n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    snprintf(c->id, sizeof(c->id), "id-%s", name);
    c->shares = shares;
    c->memory = memory;
    c->swap = memory ? 2 * memory : 0;
    c->running = true;
    c->labels[0] = managed ? "trip.enable=true" : "other=1";
    return c;
}

static docker_code f_inspect(void *ud, const char *name, struct docker_container *out,
                             struct docker_err *err)
{
    (void)ud;
    pthread_mutex_lock(&ts_fk.lock);
    ts_fk.inspects++;
    struct ts_fake_ct *c = ts_fake_find(name);
    if (!c) {
        pthread_mutex_unlock(&ts_fk.lock);
        err->code = DOCKER_E_NOT_FOUND;
        snprintf(err->msg, sizeof(err->msg), "inspect %s: No such container: %s", name, name);
        return DOCKER_E_NOT_FOUND;
    }
    snprintf(out->id, sizeof(out->id), "%s", c->id);
    snprintf(out->name, sizeof(out->name), "%s", c->name);
    snprintf(out->status, sizeof(out->status), "%s", c->running ? "running" : "exited");
    out->running = c->running;
    out->res.cpu_shares = c->shares;
    out->res.memory = c->memory;
    out->res.memory_swap = c->swap;
    out->res.nano_cpus = c->nano_cpus;
    copy_labels(&out->labels, c->labels);
    pthread_mutex_unlock(&ts_fk.lock);
    return DOCKER_OK;
}

static docker_code f_update(void *ud, const char *id, const struct docker_update *u,
                            struct docker_err *err)
{
    (void)ud;
    pthread_mutex_lock(&ts_fk.lock);
    struct ts_fake_ct *c = ts_fake_find(id);
    int delay = c ? c->update_delay_ms : 0;
    pthread_mutex_unlock(&ts_fk.lock);
    if (delay)
        usleep((useconds_t)delay * 1000);
    pthread_mutex_lock(&ts_fk.lock);
    if (c && c->gate) {
        ts_fk.blocked++;
        pthread_cond_broadcast(&ts_fk.cond);
        while (c->gate)
            pthread_cond_wait(&ts_fk.cond, &ts_fk.lock);
        ts_fk.blocked--;
    }
    ts_fk.updates++;
    if (c && c->fail_update) {
        pthread_mutex_unlock(&ts_fk.lock);
        err->code = DOCKER_E_BAD_REQUEST;
        snprintf(err->msg, sizeof(err->msg),
                 "update %s: Memory limit should be smaller than already set memoryswap limit", id);
        return DOCKER_E_BAD_REQUEST;
    }
    if (u->has_cpu_shares)
        c->shares = u->cpu_shares;
    if (u->has_memory)
        c->memory = u->memory;
    if (u->has_memory_swap)
        c->swap = u->memory_swap;
    if (u->has_nano_cpus)
        c->nano_cpus = u->nano_cpus;
    if (ts_fk.n_applied < 32)
        snprintf(ts_fk.applied[ts_fk.n_applied++], sizeof(ts_fk.applied[0]), "%s %s=%lld", c->name,
                 u->has_cpu_shares ? "cpu" : "memory",
                 (long long)(u->has_cpu_shares ? u->cpu_shares : u->memory));
    pthread_mutex_unlock(&ts_fk.lock);
    return DOCKER_OK;
}

static docker_code f_start(void *ud, const char *id, struct docker_err *err)
{
    (void)ud;
    (void)err;
    pthread_mutex_lock(&ts_fk.lock);
    ts_fk.starts++;
    ts_fake_find(id)->running = true;
    pthread_mutex_unlock(&ts_fk.lock);
    return DOCKER_OK;
}

static docker_code f_restart(void *ud, const char *id, struct docker_err *err)
{
    (void)ud;
    (void)id;
    (void)err;
    pthread_mutex_lock(&ts_fk.lock);
    ts_fk.restarts++;
    pthread_mutex_unlock(&ts_fk.lock);
    return DOCKER_OK;
}

static docker_code f_list(void *ud, struct docker_summary_list *out, struct docker_err *err)
{
    (void)ud;
    (void)err;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&ts_fk.lock);
    size_t n = ts_fk.list ? ts_fk.n : 0;
    out->v = n ? calloc(n, sizeof(*out->v)) : NULL;
    for (size_t i = 0; out->v && i < n; i++) {
        const struct ts_fake_ct *c = &ts_fk.c[i];
        snprintf(out->v[i].name, sizeof(out->v[i].name), "%s", c->name);
        snprintf(out->v[i].id, sizeof(out->v[i].id), "%s", c->id);
        snprintf(out->v[i].state, sizeof(out->v[i].state), "%s", c->running ? "running" : "exited");
        copy_labels(&out->v[i].labels, c->labels);
    }
    out->n = out->v ? n : 0;
    pthread_mutex_unlock(&ts_fk.lock);
    return DOCKER_OK;
}

static docker_code f_stats(void *ud, const char *id, struct docker_stats *out,
                           struct docker_err *err)
{
    (void)ud;
    pthread_mutex_lock(&ts_fk.lock);
    struct ts_fake_ct *c = ts_fake_find(id);
    if (!c || c->fail_stats) {
        pthread_mutex_unlock(&ts_fk.lock);
        err->code = DOCKER_E_TRANSPORT;
        snprintf(err->msg, sizeof(err->msg), "stats %s: connection reset", id);
        return DOCKER_E_TRANSPORT;
    }
    memset(out, 0, sizeof(*out));
    out->memory_usage = (uint64_t)c->usage;
    out->memory_limit = (uint64_t)c->memory;
    pthread_mutex_unlock(&ts_fk.lock);
    return DOCKER_OK;
}

struct ts_fake_svc *ts_fake_find_service(const char *name)
{
    for (size_t i = 0; i < ts_fk.n_svc; i++) {
        if (strcmp(ts_fk.s[i].name, name) == 0 || strcmp(ts_fk.s[i].id, name) == 0)
            return &ts_fk.s[i];
    }
    return NULL;
}

struct ts_fake_svc *ts_fake_add_service(const char *name, int64_t replicas, const char *max,
                                        const char *step)
{
    struct ts_fake_svc *s = &ts_fk.s[ts_fk.n_svc++];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->id, sizeof(s->id), "svc%s0000000000000000", name);
    s->version = 10;
    s->replicas = replicas;
    s->res = (struct docker_service_resources){TS_CPU / 2, 1 * TS_GIB, TS_CPU / 4, 512 * TS_MIB};
    size_t n = 0;
    s->labels[n++] = "trip.enable=true";
    if (max)
        s->labels[n++] = max;
    if (step)
        s->labels[n++] = step;
    return s;
}

static docker_code f_svc_inspect(void *ud, const char *name, struct docker_service *out,
                                 struct docker_err *err)
{
    (void)ud;
    pthread_mutex_lock(&ts_fk.lock);
    struct ts_fake_svc *s = ts_fake_find_service(name);
    if (!s) {
        pthread_mutex_unlock(&ts_fk.lock);
        err->code = DOCKER_E_NOT_FOUND;
        snprintf(err->msg, sizeof(err->msg), "inspect service %s: service %s not found", name,
                 name);
        return DOCKER_E_NOT_FOUND;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", s->id);
    snprintf(out->name, sizeof(out->name), "%s", s->name);
    out->version = s->version;
    out->global = s->global;
    out->replicas = s->global ? 0 : s->replicas;
    out->res = s->res;
    copy_labels(&out->labels, s->labels);
    out->spec = strdup("{}");
    pthread_mutex_unlock(&ts_fk.lock);
    return DOCKER_OK;
}

static docker_code f_svc_update(void *ud, const struct docker_service *cur,
                                const struct docker_service_change *chg, struct docker_err *err)
{
    (void)ud;
    pthread_mutex_lock(&ts_fk.lock);
    struct ts_fake_svc *s = ts_fake_find_service(cur->id);
    ts_fk.updates++;
    if (s && s->conflicts > 0) { /* someone else's update lands first */
        s->conflicts--;
        ts_fk.conflicts_seen++;
        s->version++;
        if (s->oob_replicas)
            s->replicas = s->oob_replicas;
        snprintf(s->oob_env, sizeof(s->oob_env), "LEVEL=%d", ts_fk.conflicts_seen);
    }
    if (!s || cur->version != s->version) {
        pthread_mutex_unlock(&ts_fk.lock);
        err->code = DOCKER_E_CONFLICT;
        snprintf(err->msg, sizeof(err->msg),
                 "update service %.60s: rpc error: code = Unknown desc = update out of sequence",
                 cur->name);
        return DOCKER_E_CONFLICT;
    }
    if (s->fail_update > 0) {
        s->fail_update--;
        pthread_mutex_unlock(&ts_fk.lock);
        err->code = DOCKER_E_BAD_REQUEST;
        snprintf(err->msg, sizeof(err->msg), "update service %.60s: invalid resources", cur->name);
        return DOCKER_E_BAD_REQUEST;
    }
    if (chg->has_replicas)
        s->replicas = chg->replicas;
    if (chg->has_resources)
        s->res = chg->res;
    s->version++;
    pthread_mutex_unlock(&ts_fk.lock);
    return DOCKER_OK;
}

static docker_code f_svc_list(void *ud, struct docker_service_list *out, struct docker_err *err)
{
    (void)ud;
    (void)err;
    memset(out, 0, sizeof(*out));
    return DOCKER_OK;
}

const struct engine_docker_ops ts_fake_ops = {f_inspect,     f_update,     f_start,
                                              f_restart,     f_list,       f_stats,
                                              f_svc_inspect, f_svc_update, f_svc_list,
                                              NULL,          NULL,         NULL};
const struct engine_docker_ops ts_fake_ops_containers = {
    f_inspect, f_update, f_start, f_restart, f_list, f_stats, NULL, NULL, NULL, NULL, NULL, NULL};

static int64_t read_ct(const char *name, size_t offset)
{
    int64_t v;

    pthread_mutex_lock(&ts_fk.lock);
    memcpy(&v, (const char *)ts_fake_find(name) + offset, sizeof(v));
    pthread_mutex_unlock(&ts_fk.lock);
    return v;
}

int64_t ts_fake_shares(const char *name)
{
    return read_ct(name, offsetof(struct ts_fake_ct, shares));
}

int64_t ts_fake_memory(const char *name)
{
    return read_ct(name, offsetof(struct ts_fake_ct, memory));
}

int64_t ts_fake_nano_cpus(const char *name)
{
    return read_ct(name, offsetof(struct ts_fake_ct, nano_cpus));
}
