/* ts_fakedocker.h: the one in-memory Docker of the unit tests (struct engine_docker_ops):
 * containers and Swarm services whose levels, labels and failures a test sets. It stands in for
 * what the real daemon cannot be made to do on demand (a hanging or slow update, a failing update
 * or stats call, a version conflict at a chosen moment, a clock that jumps); the same behaviours
 * run against the real Docker Engine in tests/integration/. */
#ifndef TRIP_TS_FAKEDOCKER_H
#define TRIP_TS_FAKEDOCKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

#define TS_GIB (1024LL * 1024 * 1024)
#define TS_MIB (1024LL * 1024)
#define TS_CPU 1000000000LL /* NanoCPUs of one CPU */

struct ts_fake_ct {
    char name[64];
    char id[65];
    int64_t shares, memory, swap, nano_cpus;
    bool running;
    const char *labels[6]; /* "k=v" */
    int update_delay_ms;
    int fail_update;
    bool gate;     /* updates block while set (a Docker call that hangs until the test says) */
    int64_t usage; /* memory in use, as one-shot stats report it */
    int fail_stats;
};

struct ts_fake_svc {
    char name[64];
    char id[32];
    uint64_t version;
    bool global;
    int64_t replicas;
    struct docker_service_resources res;
    const char *labels[6]; /* "k=v" */
    int conflicts;         /* the next updates refused: someone else updates first */
    int64_t oob_replicas;  /* what that someone sets the replicas to (0: leaves them) */
    char oob_env[32];      /* ... and a field the engine must not overwrite */
    int fail_update;       /* the next updates refused with 400 */
};

/* The fake's whole state; take `lock` to read or change it while an engine runs. */
struct ts_fake {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* gate opened, or an update blocked on a gate */
    struct ts_fake_ct c[16];
    size_t n;
    struct ts_fake_svc s[4];
    size_t n_svc;
    bool list; /* list the containers (for the engine's cache); else the list is empty */
    int updates, starts, restarts, inspects, conflicts_seen;
    int blocked;          /* updates waiting at a gate */
    char applied[32][96]; /* "name cpu=N" / "name memory=N", in the order applied */
    size_t n_applied;
};
extern struct ts_fake ts_fk;

/* Containers and services; ts_fake_ops_containers: no Swarm (service calls NULL). */
extern const struct engine_docker_ops ts_fake_ops;
extern const struct engine_docker_ops ts_fake_ops_containers;

/* Forgets every container and service and every counter. */
void ts_fake_reset(void);
/* A running container `name` (ID "id-<name>") with those CpuShares and memory (swap twice the
 * memory), labelled trip.enable=true when managed (else other=1). Lock not held. */
struct ts_fake_ct *ts_fake_add(const char *name, int64_t shares, int64_t memory, bool managed);
/* The container of that name, ID or ID prefix (12 characters or more), or NULL (lock held or no engine running). */
struct ts_fake_ct *ts_fake_find(const char *name);
/* A replicated service with 0.5 CPU / 1 GiB limits, 0.25 CPU / 512 MiB reservations, version 10,
 * labelled trip.enable=true and max / step ("trip.max-replicas=3") when not NULL. */
struct ts_fake_svc *ts_fake_add_service(const char *name, int64_t replicas, const char *max,
                                        const char *step);
struct ts_fake_svc *ts_fake_find_service(const char *name);
/* A container's CpuShares, Memory, NanoCpus now (takes the lock). */
int64_t ts_fake_shares(const char *name);
int64_t ts_fake_memory(const char *name);
int64_t ts_fake_nano_cpus(const char *name);

#endif
