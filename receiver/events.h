/* events.h: the Docker events watcher that turns a managed container's exit into a heal. */
#ifndef TRIP_EVENTS_H
#define TRIP_EVENTS_H

#include <stdint.h>

#include "docker_client.h"
#include "engine.h"
#include "metrics.h"
#include "policy.h"

/*
 * DESIGN
 * One thread holds one GET /events stream filtered to container events die, stop, kill, oom,
 * health_status, destroy and start (and to the --selector labels). Before every (re)connect it
 * lists the containers and asks the engine to heal each managed one that has exited
 * (trigger "reconcile"), then streams from one second before that list so nothing in between is
 * lost (a repeated event merges into the pending heal or finds the container running). A lost
 * stream is retried after 250 ms doubling to 10 s (reset once a stream lasted 10 s).
 * The stream callback runs on that thread only; `marks` (recent kill / oom events by container
 * id, to tell an operator's stop from a crash) is its private state.
 * Podman (heal_at_cleanup): its `docker stop` and `rm -f` clean a container up after its die
 * event with the container unlocked, so a start sent at the die lands in between and makes the
 * operator's stop fail ("refusing to clean up") or races the removal. There a death is kept in
 * its mark and healed at the container's `cleanup` event that follows (tens of ms later), which
 * is also when Podman's own restart policy acts. `lock` guards `stopping`
 * and the wait between attempts; events_stop() cancels the stream from any thread.
 */

typedef enum events_code {
    EVENTS_OK = 0,
    EVENTS_E_NOMEM,
    EVENTS_E_THREAD, /* the watcher thread could not be started */
} events_code;

struct events_err {
    events_code code;
    char msg[256];
};

/* The Docker calls the watcher makes: events_docker_real (docker-client) unless a test passes its
 * own, as engine_opts.ops does for the engine. ud is events_opts.docker. */
struct events_docker_ops {
    docker_code (*list)(void *ud, const char *const *label_filters, struct docker_summary_list *out,
                        struct docker_err *err);
    docker_code (*stream)(void *ud, const struct docker_events_filter *f, docker_event_fn fn,
                          void *fn_ud, struct docker_cancel *k, struct docker_err *err);
    /* Whether a death is healed at the container's `cleanup` event rather than at its `die`
     * (Podman; asked after each reconcile, once the engine is known). NULL: never. */
    bool (*heal_at_cleanup)(void *ud);
};
extern const struct events_docker_ops events_docker_real;

struct events_opts {
    struct docker_client *docker;        /* borrowed; outlives the watcher (the ops' ud) */
    const struct events_docker_ops *ops; /* NULL: events_docker_real */
    struct engine *engine;               /* borrowed */
    struct metrics *metrics;             /* NULL: not counted */
    struct policy_limits lim; /* which containers are managed; its selector (--selector) is
                                 also Docker's label filter of the list and the event stream */
    const char *label_filter; /* "" / NULL: no more; else "key" or "key=value" healing also
                                 needs (--heal-label-filter) */
    int64_t retry_min_ms;                /* 0: 250 */
    int64_t retry_max_ms;                /* 0: 10000 */
};

struct events;

/* Creates the watcher (no thread yet). Copies opts (and the filter string). Caller frees. */
events_code events_new(const struct events_opts *opts, struct events **out, struct events_err *err);
/* Starts the watcher thread. */
events_code events_start(struct events *ev, struct events_err *err);
/* Cancels the stream and joins the thread (returns within ~100 ms plus one Docker call).
 * Idempotent, NULL-safe; any thread but the watcher's. */
void events_stop(struct events *ev);
/* Stops if needed and frees. NULL-safe. */
void events_free(struct events *ev);

/* What one event means for healing; pure, used by the watcher and by tests. */
enum events_verdict {
    EVENTS_IGNORE,    /* nothing to do */
    EVENTS_MARK,      /* remember (kill / oom) for the coming die */
    EVENTS_HEAL,      /* ask the engine to heal */
    EVENTS_STARTED,   /* engine_container_started() */
    EVENTS_DESTROYED, /* engine_container_destroyed() */
    EVENTS_CLEANUP,   /* Podman's `cleanup`: heal a death kept for it (heal_at_cleanup) */
};
/* Classifies ev (action and the trip.enable label among its attributes) under lim. trigger gets
 * "exit", "oom" or "unhealthy" for EVENTS_HEAL; oom_seen / kill_seen say whether an oom / kill
 * event for the same container came first (decides "oom" and *operator_stop). Pure. */
enum events_verdict events_classify(const struct policy_limits *lim, const struct docker_event *ev,
                                    bool kill_seen, bool oom_seen, const char **trigger,
                                    bool *operator_stop);

#endif
