/* metrics.h: counters, gauges and a latency histogram in the Prometheus text exposition format. */
#ifndef TRIP_METRICS_H
#define TRIP_METRICS_H

#include <stddef.h>
#include <stdint.h>

/*
 * DESIGN
 * One mutex guards every series. Writers (HTTP threads, engine workers) take it for a few
 * instructions; metrics_render() copies under it. Label values come from small fixed sets (route
 * names, action kinds, results, docker_code names); each family holds at most METRICS_MAX_SERIES
 * series, further label combinations are counted under "other".
 */
#define METRICS_MAX_SERIES 64

struct metrics;

/* Caller frees. NULL when out of memory. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* trip_http_requests_total{route,code}. Any thread; m may be NULL (no-op, as in all below). */
void metrics_request(struct metrics *m, const char *route, int code);
/* trip_actions_total{kind,result} and, for results other than "skipped", the
 * trip_action_duration_seconds{kind} histogram. */
void metrics_action(struct metrics *m, const char *kind, const char *result, double seconds);
/* trip_action_phase_seconds{phase}: one phase of an engine job (queue, inspect, claim_save,
 * docker, final_save; at most METRICS_MAX_PHASES names, further ones are not counted). */
#define METRICS_MAX_PHASES 8
void metrics_phase(struct metrics *m, const char *phase, double seconds);
/* trip_docker_errors_total{code}. */
void metrics_docker_error(struct metrics *m, const char *code);
/* trip_http_rejected_total{reason}: connections refused before any handler ran (reason
 * "connections": accepted beyond --max-connections, answered 503 or closed). */
void metrics_http_rejected(struct metrics *m, const char *reason);
/* trip_webhook_alerts_total{result} (accepted / ignored). */
void metrics_alert(struct metrics *m, const char *result);

/* trip_heals_total{trigger,result} (trigger: exit, oom, unhealthy, reconcile; result: ok, error,
 * gone, skipped, maintenance, running) and, for "ok", the trip_heal_latency_seconds histogram
 * (Docker's die event to the container started again). */
void metrics_heal(struct metrics *m, const char *trigger, const char *result, double latency_s);
/* trip_oom_total{result}: Docker `oom` events of managed containers (result: raise, the memory
 * scale-out was queued; at_limit, already at its largest allowed limit, flagged). */
void metrics_oom(struct metrics *m, const char *result);
/* The events stream went up (up=1: trip_events_connected 1, trip_events_connects_total + 1) or
 * down (up=0). */
void metrics_events_connected(struct metrics *m, int up);

#define METRICS_MAX_RESOURCES 8

/* Point-in-time values the engine reports at render time. */
struct metrics_gauges {
    int64_t managed;        /* managed containers seen by the last refresh */
    struct {
        const char *resource; /* "cpu", "memory", ... (policy_resources[].name) */
        int64_t n;            /* containers and Swarm services with it scaled out */
    } scaled_out[METRICS_MAX_RESOURCES];
    size_t n_scaled_out;
    int ready;           /* Docker reachable at the last refresh */
    int64_t crashloop;   /* containers flagged crash-looping */
    int64_t maintenance; /* containers in maintenance */
    /* containers whose last OOM kill found them at their largest allowed memory limit */
    int64_t oom_at_limit;
};

/* The whole exposition text (NUL-terminated, caller frees), or NULL when out of memory. */
char *metrics_render(struct metrics *m, const struct metrics_gauges *g, const char *version);

#endif
