/* engine_resource.c: how Docker stores each resource: one row per resource (read the current
 * level from inspect, build the update), next to policy_resources[] (names, labels, bounds). */
#include "engine_internal.h"

#include <string.h>

static int64_t ct_cpu_shares(const struct docker_container *ct)
{
    return ct->res.cpu_shares;
}

static void set_cpu_shares(struct docker_update *u, int64_t level, int64_t swap)
{
    (void)swap;
    u->has_cpu_shares = true;
    u->cpu_shares = level;
}

static int64_t ct_memory(const struct docker_container *ct)
{
    return ct->res.memory;
}

static int64_t ct_memory_swap(const struct docker_container *ct)
{
    return ct->res.memory_swap;
}

/* The swap to send with a new memory limit so the container keeps the swap it had. */
static int64_t memory_swap_for(const struct docker_container *ct, int64_t level)
{
    return docker_memory_swap_for(ct->res.memory, ct->res.memory_swap, level);
}

static void set_memory(struct docker_update *u, int64_t level, int64_t swap)
{
    u->has_memory = u->has_memory_swap = true;
    u->memory = level;
    u->memory_swap = swap;
}

static int64_t ct_nano_cpus(const struct docker_container *ct)
{
    return ct->res.nano_cpus;
}

static void set_nano_cpus(struct docker_update *u, int64_t level, int64_t aux)
{
    (void)aux;
    u->has_nano_cpus = true;
    u->nano_cpus = level;
}

static int64_t svc_nano_cpus(const struct docker_service *s)
{
    return s->res.limit_nano_cpus;
}

static int64_t svc_reserve_nano_cpus(const struct docker_service *s)
{
    return s->res.reserve_nano_cpus;
}

static void svc_set_nano_cpus(struct docker_service_change *chg, int64_t level, int64_t reserve)
{
    chg->res.limit_nano_cpus = level;
    chg->res.reserve_nano_cpus = reserve;
}

static int64_t svc_memory(const struct docker_service *s)
{
    return s->res.limit_memory;
}

static int64_t svc_reserve_memory(const struct docker_service *s)
{
    return s->res.reserve_memory;
}

static void svc_set_memory(struct docker_service_change *chg, int64_t level, int64_t reserve)
{
    chg->res.limit_memory = level;
    chg->res.reserve_memory = reserve;
}

static int64_t svc_replicas(const struct docker_service *s)
{
    return s->replicas;
}

const struct engine_res_docker engine_res_docker[POLICY_N_RESOURCES] = {
    [POLICY_CPU] = {ct_cpu_shares, NULL, NULL, set_cpu_shares, false, svc_nano_cpus,
                    svc_reserve_nano_cpus, svc_set_nano_cpus},
    [POLICY_MEMORY] = {ct_memory, ct_memory_swap, memory_swap_for, set_memory, true, svc_memory,
                       svc_reserve_memory, svc_set_memory},
    [POLICY_REPLICAS] = {NULL, NULL, NULL, NULL, false, svc_replicas, NULL, NULL},
    [POLICY_CPUS] = {ct_nano_cpus, NULL, NULL, set_nano_cpus, false, NULL, NULL, NULL},
};

size_t engine_policy_labels(const struct docker_labels *l, struct policy_kv out[POLICY_N_LABELS])
{
    size_t n = 0;

    for (size_t i = 0; i < POLICY_N_LABELS; i++) {
        const char *v = docker_labels_get(l, policy_label_keys[i]);
        if (v)
            out[n++] = (struct policy_kv){policy_label_keys[i], v};
    }
    return n;
}

static const char *label_of(const void *ud, const char *key)
{
    return docker_labels_get(ud, key);
}

bool engine_selected(const struct engine *e, const struct docker_labels *l)
{
    return policy_selected(&e->o.lim, label_of, l);
}

void engine_container_policy(const struct engine *e, struct policy_container *pc,
                             const struct docker_container *ct)
{
    struct policy_kv kv[POLICY_N_LABELS];

    policy_container_from_labels(pc, kv, engine_policy_labels(&ct->labels, kv), ct->running);
    pc->outside = !engine_selected(e, &ct->labels);
}

void engine_service_policy(const struct engine *e, struct policy_container *pc,
                           const struct docker_service *svc)
{
    struct policy_kv kv[POLICY_N_LABELS];

    policy_service_from_labels(pc, kv, engine_policy_labels(&svc->labels, kv), svc->global);
    pc->outside = !engine_selected(e, &svc->labels);
}

int64_t engine_ct_level(enum policy_resource r, const struct docker_container *ct)
{
    const struct engine_res_docker *d = &engine_res_docker[r];

    return d->ct_level ? d->ct_level(ct) : 0;
}

int64_t engine_svc_level(enum policy_resource r, const struct docker_service *svc)
{
    const struct engine_res_docker *d = &engine_res_docker[r];

    return d->svc_level ? d->svc_level(svc) : 0;
}

void engine_svc_change(struct docker_service_change *chg, const struct docker_service *s,
                       enum policy_resource r, int64_t level, int64_t reserve)
{
    const struct engine_res_docker *d = &engine_res_docker[r];

    memset(chg, 0, sizeof(*chg));
    if (policy_target_rule(r, true)->unit == POLICY_UNIT_STEPS) { /* replicas */
        chg->has_replicas = true;
        chg->replicas = level;
        return;
    }
    chg->has_resources = true;
    chg->res = s->res;
    d->svc_set(chg, level, reserve);
}

bool engine_has_resource(bool service, enum policy_resource r)
{
    return policy_target_rule(r, service)->unit != POLICY_UNIT_NONE;
}
