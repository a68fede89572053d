/* policy.h: alert or manual request + container labels + config -> intent, or why not. Pure:
 * no I/O, the clock is an argument. */
#ifndef TRIP_POLICY_H
#define TRIP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts.h"
#include "outcome.h"

enum policy_kind {
    POLICY_NONE,
    POLICY_SCALE_OUT, /* raise the resource to the target, deadline = now + duration */
    POLICY_SCALE_IN,  /* restore the inspected baseline now (manual) */
    POLICY_RESOLVE,   /* an alert stopped firing: forget it, scale in if the deadline passed */
    POLICY_RESTART,   /* start a stopped container (restart a running one when forced) */
};
/* CPU: CpuShares of a container, the CPU limit (NanoCPUs) of a Swarm service. MEMORY: the memory
 * limit. REPLICAS: Mode.Replicated.Replicas of a Swarm service (never of a container). CPUS: the
 * CPU quota (NanoCpus) of a container (a service's CPU limit already is its CPU). Each has
 * one row of policy_resources[]; how Docker stores it is engine_resource.c's row. */
enum policy_resource {
    POLICY_CPU,
    POLICY_MEMORY,
    POLICY_REPLICAS,
    POLICY_CPUS,
    POLICY_N_RESOURCES
};
enum policy_verdict { POLICY_ACCEPT, POLICY_IGNORE };

/* How a target label's value reads and what a scale-out without it aims at. */
enum policy_unit {
    POLICY_UNIT_NONE,      /* the resource does not apply to this kind of target */
    POLICY_UNIT_SHARES,    /* a plain integer (CpuShares); no label: the configured level */
    POLICY_UNIT_BYTES,     /* a size ("2g"); no label: the configured level */
    POLICY_UNIT_NANO_CPUS, /* a number of CPUs ("1.5"); no label: twice the current limit */
    POLICY_UNIT_STEPS,     /* replicas: trip.max-replicas and trip.replicas-step, one step a time */
};

/* How one resource is scaled on one kind of target (container or service). */
struct policy_target_rule {
    enum policy_unit unit;
    const char *label;    /* the label naming the scaled-out level ("trip.cpu-shares"), or NULL */
    int64_t min;          /* the smallest level the label may ask for */
    size_t def_offset;    /* offsetof(struct policy_limits, the configured level), SIZE_MAX: none */
    size_t max_offset;    /* offsetof(struct policy_limits, the largest level accepted) */
    const char *no_limit; /* why a target without any limit is left unchanged; NULL: scaled from
                             unset_level instead */
    int64_t unset_level;  /* the level an unset (0) value stands for (CpuShares: 1024) */
};

/* One row per resource: its names, its alert, and its rule for containers and for services. */
struct policy_resource_def {
    const char *name;          /* the manual API's "resource", the state and view key, metrics */
    enum alerts_action action; /* the alert action that scales it */
    const char *action_label;  /* that action's value of the alert label `action` */
    const char *default_alert; /* the alertname asked of Prometheus before a scale-in */
    const char *kind_out;      /* the action's name in logs and metrics */
    const char *kind_in;
    struct policy_target_rule container, service;
};
extern const struct policy_resource_def policy_resources[POLICY_N_RESOURCES];
/* The row whose name is name; NULL when none. */
const struct policy_resource_def *policy_resource_by_name(const char *name);
/* The rule of resource r for a container or a service. */
const struct policy_target_rule *policy_target_rule(enum policy_resource r, bool service);

/* The receiver's scope (--selector): labels every managed container or service carries, each
 * "key" (present, any value) or "key=value". n 0: the whole host. */
#define POLICY_MAX_SELECTOR 8
struct policy_selector {
    struct {
        char key[128];
        char value[128];
        bool has_value;
        char text[256]; /* "key" or "key=value", as Docker's label filters read it */
    } t[POLICY_MAX_SELECTOR];
    size_t n;
};

/* The configured defaults and bounds (see config.h). */
struct policy_limits {
    int64_t cpu_shares, max_cpu_shares;
    int64_t memory, max_memory;
    int64_t scale_duration_ms, min_duration_ms, max_duration_ms;
    bool manage_all;
    bool heal;
    /* Swarm services */
    int64_t max_nano_cpus; /* largest trip.cpus accepted (1e9 = one CPU) */
    int64_t max_replicas;  /* trip.max-replicas when the service has none; its upper bound too */
    int64_t replicas_step; /* trip.replicas-step when the service has none */
    struct policy_selector selector;
};

struct config;
/* The limits the configuration sets. */
void policy_limits_from_config(struct policy_limits *lim, const struct config *cfg);

/* What is known of the container. known=false: not seen yet (a webhook racing the cache), so only
 * the request itself is checked and the engine decides again once it has inspected. Label values
 * are NULL when absent; they borrow from the caller. */
struct policy_container {
    bool known;
    bool exists;
    bool running;
    const char *enable;              /* trip.enable */
    const char *cpu_shares;          /* trip.cpu-shares */
    const char *memory;              /* trip.memory */
    const char *scale_duration;      /* trip.scale-duration */
    const char *heal;                /* trip.heal */
    const char *heal_operator_stops; /* trip.heal-operator-stops */
    /* A container that is a Swarm task (label com.docker.swarm.service.name): the service is the
     * target, never the task; this is the service's name, NULL for plain containers. */
    const char *swarm_service;
    /* The target is a Swarm service (labels are the service's own Spec.Labels). */
    bool service;
    bool global;      /* a global-mode service: no horizontal scaling */
    const char *cpus; /* trip.cpus: the CPU limit (service) or quota (container) to scale to */
    const char *max_replicas;  /* trip.max-replicas */
    const char *replicas_step; /* trip.replicas-step */
    /* Lacks a label of the receiver's --selector: outside its scope, never acted on whatever
     * trip.enable says (decided as "no such container", so nothing of it leaks). */
    bool outside;
};

struct policy_request {
    enum policy_kind kind;
    enum policy_resource resource;
    const char *duration; /* manual "duration" or alert label; NULL/"" -> label, then config */
    bool force;           /* restart even when running */
    bool from_alert;
};

struct policy_decision {
    enum policy_verdict verdict;
    enum outcome outcome; /* OUTCOME_DONE when accepted; else NOT_FOUND, NOT_MANAGED, CONFLICT,
                             REFUSED */
    enum policy_kind kind;
    enum policy_resource resource;
    int64_t target;      /* SCALE_OUT: CpuShares, memory bytes or NanoCPUs; 0 for a service's CPU
                            without trip.cpus (twice its current limit) and for REPLICAS */
    int64_t step;        /* SCALE_OUT REPLICAS: replicas added per step */
    int64_t max;         /* SCALE_OUT REPLICAS: never more replicas than this */
    int64_t duration_ms; /* SCALE_OUT */
    int64_t deadline_ms; /* SCALE_OUT: now + duration */
    bool force;
    char reason[160]; /* why ignored, or a short note when accepted */
};

/* A label as it reaches policy: plain key and value, borrowed from the caller. */
struct policy_kv {
    const char *key;
    const char *value;
};
/* The labels policy reads (trip.* and Swarm's service name), in one table: the engine copies
 * these keys, and only these, out of Docker's labels and into its cache. */
#define POLICY_N_LABELS 10
/* Longest label value policy accepts (the engine's cache keeps 127 bytes, so a longer one is seen
 * as too long, never read cut). */
#define POLICY_LABEL_MAX 100
extern const char *const policy_label_keys[POLICY_N_LABELS];

/* Fills c from a container's labels (kv[0..n), values borrowed). known=exists=true. */
void policy_container_from_labels(struct policy_container *c, const struct policy_kv *kv, size_t n,
                                  bool running);
/* Fills c from a Swarm service's own labels (Spec.Labels). known=exists=running=service=true. */
void policy_service_from_labels(struct policy_container *c, const struct policy_kv *kv, size_t n,
                                bool global);
/* The value of label key in c (one of policy_label_keys), or NULL. */
const char *policy_label_value(const struct policy_container *c, const char *key);

/* The next replica count of a step from `current`: current + step, at most max (never below
 * current). Pure. */
int64_t policy_replicas_next(int64_t current, int64_t step, int64_t max);

/* The level an accepted scale-out of d sets on a target whose level is now `cur` (kind service or
 * container): the label's level, twice the current limit, or one step of replicas. 0 with *why set
 * when there is nothing to raise (no limit at all). Pure. */
int64_t policy_scale_out_level(const struct policy_decision *d, bool service, int64_t cur,
                               const char **why);
/* While scaled out to `applied` since since_ms, whether a repeated scale-out of d adds a step
 * (replicas: the alert still fires a whole scale duration after the last step, below the max)
 * rather than only extending the deadline. Pure. */
bool policy_scale_out_again(const struct policy_decision *d, int64_t cur, int64_t applied,
                            int64_t since_ms, int64_t now_ms);
/* A memory scale-in waits while the container uses more than this share (percent) of the
 * baseline limit: at the limit the kernel would reclaim hard or OOM-kill the workload. */
#define POLICY_MEMORY_GUARD_PCT 90
/* Whether a memory scale-in to baseline may happen with `usage` bytes in use: at most
 * POLICY_MEMORY_GUARD_PCT % of it. A baseline of 0 (no limit) always fits. Pure. */
bool policy_memory_fits(uint64_t usage, int64_t baseline);
/* The margin of an automatic memory scale-in: the memory rules fire at 60 % of the limit, so a
 * container put back to its baseline above that would fire again and be scaled out again, a
 * cycle every scale duration (rules/README.md). */
#define POLICY_MEMORY_SCALE_IN_PCT 50
/* Whether a memory scale-in to baseline may happen with `working_set` bytes (usage minus
 * reclaimable page cache): at most POLICY_MEMORY_SCALE_IN_PCT % of it, or for a manual scale-in
 * (manual) what policy_memory_fits() allows. A baseline of 0 (no limit) always fits. Pure. */
bool policy_memory_scale_in_fits(uint64_t working_set, int64_t baseline, bool manual);
/* How long a scale-in waits when Prometheus says the alert still fires: the scale duration, at
 * least 1 s, at most 15 s. Pure. */
int64_t policy_prometheus_hold_ms(const struct policy_limits *lim);

/* Maps an alert record to a request (firing scale-* -> SCALE_OUT, resolved scale-* -> RESOLVE,
 * firing restart -> RESTART, anything else -> NONE). Borrows r's strings. */
void policy_request_from_alert(struct policy_request *req, const struct alerts_record *r);

/* Decides. Always fills *d; never fails. */
void policy_decide(const struct policy_limits *lim, const struct policy_request *req,
                   const struct policy_container *c, int64_t now_ms, struct policy_decision *d);

/* Whether a target whose labels get() reads (get(ud, key): the value, NULL when absent) carries
 * every term of lim's selector. True for an empty selector. Pure. */
bool policy_selected(const struct policy_limits *lim, const char *(*get)(const void *ud,
                                                                          const char *key),
                     const void *ud);
/* The selector's terms as Docker label filters, NULL-terminated, pointing into lim (out has
 * POLICY_MAX_SELECTOR + 1 slots); NULL when the selector is empty (no filter). */
const char *const *policy_selector_filters(const struct policy_limits *lim,
                                           const char *out[POLICY_MAX_SELECTOR + 1]);
/* The selector as text for logs and /readyz ("a=b,c"; "" when empty) into buf. Returns buf. */
const char *policy_selector_text(const struct policy_limits *lim, char *buf, size_t size);

/* True when the container is managed under lim: trip.enable=true (any case); with manage_all also
 * when the label is absent or a true boolean (true/yes/1/on, any case). FALSE, a typo or any other
 * value is unmanaged under manage_all: only a clear opt-in is acted on. */
bool policy_managed(const struct policy_limits *lim, const char *enable_label);

/* A scaled-out resource as the scale-in decision sees it. */
struct policy_hold {
    int64_t deadline_ms; /* end of the scale duration (extended by repeated firing) */
    int64_t since_ms;    /* when the scale-out was applied */
    size_t firing;       /* alerts for this resource still firing */
    int64_t max_hold_ms; /* scale in after since + max_hold regardless; 0: no bound */
};
enum policy_due { POLICY_HOLD, POLICY_DUE_DEADLINE, POLICY_DUE_MAX_HOLD };

/* Whether to scale in now, and the earliest time the answer may change without new input
 * (*next_ms; INT64_MAX when only an event can change it). */
enum policy_due policy_scale_in_due(const struct policy_hold *h, int64_t now_ms, int64_t *next_ms);

/* Restart spacing of the event-driven healer (Docker's restart manager schedule by default). */
struct policy_backoff {
    int64_t first_ms;    /* delay before the 2nd heal of a streak (the 1st is immediate): 100 */
    int64_t max_ms;      /* cap: 60000 */
    int64_t stable_ms;   /* a container that ran this long since its last heal resets: 10000 */
    int crashloop_after; /* heals in one streak that flag the container crash-looping: 5 */
    bool operator_stops; /* heal containers an operator stopped (docker stop/kill): true */
};

/* Delay before the next heal of a container already healed `streak` times without running
 * stably: 0 for streak 0, then first_ms * 2^(streak-1), capped at max_ms. Pure. */
int64_t policy_heal_delay(const struct policy_backoff *b, int streak);

/* Whether an event heal may start the container: managed, trip.heal not false (else --heal), and,
 * when the exit was an operator's stop, trip.heal-operator-stops (else b->operator_stops). Fills
 * reason (size >= 80) when not. Pure. */
bool policy_heal_allowed(const struct policy_limits *lim, const struct policy_backoff *b,
                         const struct policy_container *c, bool operator_stop, char *reason,
                         size_t size);

const char *policy_kind_name(enum policy_kind k);
const char *policy_resource_name(enum policy_resource r);

#endif
