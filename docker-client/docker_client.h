/* docker_client.h: a small Docker Engine API client (libcurl over a Unix socket or tcp://, jansson). */
#ifndef TRIP_DOCKER_CLIENT_H
#define TRIP_DOCKER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * DESIGN
 * A struct docker_client is immutable once docker_client_new() returns: every call builds its own
 * libcurl easy handle, so one client may be used from any number of threads at once. Nothing in
 * this module logs; failures come back as a docker_code plus an optional struct docker_err whose
 * msg reads "what: why" and carries the daemon's own "message" text when it sent one.
 * Names and ids placed in a path or query are URL-escaped; filters are JSON built with jansson.
 */

typedef enum docker_code {
    DOCKER_OK = 0,
    DOCKER_E_INVALID,      /* the caller's argument is unusable (empty id, NULL, value out of range) */
    DOCKER_E_NOMEM,        /* allocation failed */
    DOCKER_E_UNREACHABLE,  /* could not connect to the daemon (socket missing, refused) */
    DOCKER_E_TIMEOUT,      /* connect or total timeout expired */
    DOCKER_E_TRANSPORT,    /* any other libcurl failure (connection reset mid-reply, ...) */
    DOCKER_E_CANCELLED,    /* a streaming call was cancelled by docker_events_cancel() */
    DOCKER_E_NOT_MODIFIED, /* 304: start of a running / stop of a stopped container */
    DOCKER_E_BAD_REQUEST,  /* 400: the daemon refused the parameters */
    DOCKER_E_NOT_FOUND,    /* 404: no such container (or image, ...) */
    DOCKER_E_CONFLICT,     /* 409: e.g. container is being removed */
    DOCKER_E_SERVER,       /* 5xx, or any other unexpected HTTP status */
    DOCKER_E_MALFORMED,    /* the reply could not be parsed or lacks a required field */
    DOCKER_E_TOOBIG,       /* the reply exceeded the configured maximum size */
    DOCKER_E_NO_SWARM,     /* 503 on a service call: this node is not a swarm manager */
    DOCKER_E_API_VERSION,  /* the daemon refuses the API version (its own message), or the daemon's
                              and this client's version ranges do not meet (both ranges named) */
    DOCKER_E_UNSUPPORTED,  /* the engine has no such call (Podman's Docker API: container update) */
} docker_code;

struct docker_err {
    docker_code code;
    int http_status; /* 0 when no HTTP status was received */
    char msg[512];   /* "what: why"; always valid UTF-8 */
};

/* Short stable name of a code ("not_found", "timeout", ...), for logs and metrics labels. */
const char *docker_code_name(docker_code code);

struct docker_opts {
    const char *host;       /* "unix:///path" or "tcp://host:port"; NULL: $DOCKER_HOST, then
                               unix:///var/run/docker.sock */
    const char *api_version; /* "1.44" to pin; NULL: $DOCKER_API_VERSION when set (as the Docker
                                CLI), else negotiate with GET /version (see docker_client_new) */
    long connect_timeout_ms; /* 0: 2000 */
    long timeout_ms;         /* total per non-streaming call; 0: 10000 */
    size_t max_reply;        /* largest reply body accepted; 0: 8 MiB */
};

struct docker_client;

/* The API versions this client has checked every field it uses against (docs/docker-engine.md). */
#define DOCKER_API_MIN "1.41"
#define DOCKER_API_MAX "1.56"

/* Creates a client and negotiates the API version like the Docker CLI: GET /version gives the
 * daemon's range [MinAPIVersion, ApiVersion]; the client uses min(ApiVersion, DOCKER_API_MAX), and
 * DOCKER_E_API_VERSION ("... the daemon speaks 1.57..1.60, this client 1.41..1.56 ...") when that
 * is below MinAPIVersion or DOCKER_API_MIN. A pinned version (opts->api_version, else
 * $DOCKER_API_VERSION) is used as given, without asking the daemon (as the CLI does); a daemon that
 * refuses it answers every call with DOCKER_E_API_VERSION and its own message ("client version
 * 1.41 is too old. Minimum supported API version is 1.44, ..."). A negotiated version is negotiated
 * again after the daemon was unreachable or refused it, and after an event stream was lost (its
 * reconnect follows a daemon restart or upgrade). Performs libcurl's global init once
 * per process (thread-safe). When the daemon is unreachable (or refuses the version), the client
 * is still returned, with that code in err and as the return value, and negotiates again on its
 * next call. Caller owns *out; free with docker_client_free(). */
docker_code docker_client_new(const struct docker_opts *opts, struct docker_client **out,
                              struct docker_err *err);
void docker_client_free(struct docker_client *c);

/* What the client knows of the engine it talks to, as of the last negotiation. */
struct docker_engine {
    char name[64];     /* "Docker Engine", "Docker Engine - Community", "Podman Engine"; "" */
    char version[64];  /* the engine's version ("29.8.1"); "" before first contact */
    char api_min[16];  /* the daemon's MinAPIVersion */
    char api_max[16];  /* the daemon's ApiVersion */
    char api[16];      /* the version in use; "" when none is (not reached yet, or refused) */
    bool pinned;       /* api was set by option or $DOCKER_API_VERSION, not negotiated */
    bool podman;       /* Podman's Docker-compatible API: container update refused
                          (DOCKER_E_UNSUPPORTED), event filter "die" also sent as "died" */
    docker_code code;  /* DOCKER_OK; else why no version is in use (unreachable, api_version) */
    char message[512]; /* for code != DOCKER_OK: the error, with the daemon's own message */
};
/* Copies the engine's identity and the negotiation result into *out. Any thread. A pinned client
 * learns the identity from docker_version(). */
void docker_client_engine(struct docker_client *c, struct docker_engine *out);
/* "reachable", "unreachable" or "refused" (the daemon refuses the API version, or the ranges do not
 * meet): the docker field of /readyz. engine_ready: the caller's last call to the daemon worked. */
const char *docker_engine_state(const struct docker_engine *e, bool engine_ready);
/* What this engine cannot do that the receiver would ask of it, in words ("" for Docker). */
const char *docker_engine_unsupported(const struct docker_engine *e);
/* The /readyz body: {"status":"ready"|"not ready","docker":<state>,"error":<the daemon's own
 * message when refused>,"engine","engine_version","api","api_range","unsupported","api_pinned"}
 * (empty fields left out). *ready: engine_ready and the version not refused. Caller frees; NULL
 * when out of memory. Pure. */
char *docker_engine_ready_json(const struct docker_engine *e, bool engine_ready, bool *ready);
/* Marks the negotiated version stale: the next call negotiates again. Any thread. */
void docker_client_renegotiate(struct docker_client *c);

/* GET /_ping. DOCKER_OK when the daemon answered "OK". */
docker_code docker_ping(struct docker_client *c, struct docker_err *err);

struct docker_version {
    char version[64];       /* engine version */
    char api_version[16];   /* daemon's newest API */
    char min_api_version[16];
    char os[32];
    char arch[32];
    char kernel[128];
};
docker_code docker_version(struct docker_client *c, struct docker_version *out,
                           struct docker_err *err);

struct docker_info {
    int cgroup_version;     /* 1 or 2; 0 unknown */
    char cgroup_driver[32]; /* "cgroupfs" / "systemd" */
    char storage_driver[32];
    bool swap_limit;        /* SwapLimit support */
    bool swarm_active;      /* Swarm.LocalNodeState == "active" */
    bool swarm_manager;     /* Swarm.ControlAvailable: this node answers the service calls */
};
docker_code docker_info(struct docker_client *c, struct docker_info *out, struct docker_err *err);

/* Key/value pairs (container labels, event attributes). Owned by the struct that holds them. */
struct docker_kv {
    char *key;
    char *value;
};
struct docker_labels {
    struct docker_kv *v;
    size_t n;
};
/* Value for key, or NULL. The pointer borrows from l. */
const char *docker_labels_get(const struct docker_labels *l, const char *key);

/* Resource fields as the daemon reports them in HostConfig. 0 means "not set" (daemon default);
 * memory_swap is -1 for unlimited swap. */
struct docker_resources {
    int64_t cpu_shares;
    int64_t memory;
    int64_t memory_swap;
    int64_t nano_cpus;
    int64_t cpu_quota;
    int64_t cpu_period;
};

struct docker_container {
    char id[65];
    char name[256];   /* without the leading '/' */
    char image[256];
    char status[16];  /* created, running, paused, restarting, removing, exited, dead */
    bool running;
    bool restarting;
    bool paused;
    bool oom_killed;
    bool dead;
    int exit_code;
    int pid;
    int restart_count;
    char health[16];  /* "" when no healthcheck; else starting, healthy, unhealthy */
    char started_at[40];
    char finished_at[40];
    struct docker_resources res;
    struct docker_labels labels;
};
/* Frees what the struct owns (labels); the struct itself is the caller's. NULL-safe. */
void docker_container_free(struct docker_container *ct);

/* GET /containers/{id}/json. id may be a name or an id. Fills *out (caller frees with
 * docker_container_free). DOCKER_E_NOT_FOUND with the daemon's message for unknown ids. */
docker_code docker_container_inspect(struct docker_client *c, const char *id,
                                     struct docker_container *out, struct docker_err *err);

struct docker_summary {
    char id[65];
    char name[256]; /* first name, without the leading '/' */
    char image[256];
    char state[16]; /* running, exited, ... */
    struct docker_labels labels;
};
struct docker_summary_list {
    struct docker_summary *v;
    size_t n;
};
void docker_summary_list_free(struct docker_summary_list *l);

/* GET /containers/json?all=..&filters={"label":[...]}. label_filters is a NULL-terminated array
 * of "key" or "key=value" strings (NULL or empty: no filter). Caller frees *out. */
docker_code docker_container_list(struct docker_client *c, const char *const *label_filters,
                                  bool all, struct docker_summary_list *out,
                                  struct docker_err *err);

/* POST /containers/{id}/start. DOCKER_E_NOT_MODIFIED when it was already running. */
docker_code docker_container_start(struct docker_client *c, const char *id,
                                   struct docker_err *err);
/* POST /containers/{id}/stop?t=stop_timeout_s (stop_timeout_s < 0: daemon's default).
 * The call's own timeout is extended by the stop timeout. DOCKER_E_NOT_MODIFIED if stopped. */
docker_code docker_container_stop(struct docker_client *c, const char *id, int stop_timeout_s,
                                  struct docker_err *err);
/* POST /containers/{id}/restart?t=stop_timeout_s, likewise. */
docker_code docker_container_restart(struct docker_client *c, const char *id, int stop_timeout_s,
                                     struct docker_err *err);

/* Fields to change in POST /containers/{id}/update; a field is sent only when its has_ flag is
 * set. The client sends exactly what it is given: keeping Memory and MemorySwap consistent is
 * docker_memory_swap_for()'s job (see below). */
struct docker_update {
    bool has_cpu_shares;
    int64_t cpu_shares;
    bool has_memory;
    int64_t memory;
    bool has_memory_swap;
    int64_t memory_swap;
    bool has_nano_cpus;
    int64_t nano_cpus; /* HostConfig.NanoCpus: the CPU quota, 1e9 = one CPU; 0 = none */
};
/* DOCKER_E_UNSUPPORTED, sending nothing, on Podman (see struct docker_engine). */
docker_code docker_container_update(struct docker_client *c, const char *id,
                                    const struct docker_update *u, struct docker_err *err);

/* The MemorySwap value to send with a new Memory limit so that the daemon accepts the update and
 * the container keeps the swap it had. Pure. Rule (see docs/docker-engine.md):
 *  - old_swap > 0 and old_memory > 0: keep the ratio swap/memory (Docker's default for --memory
 *    alone is 2x, so 1 GiB/2 GiB becomes 2 GiB/4 GiB; swap == memory, i.e. no swap, stays so);
 *  - old_swap == -1 (unlimited swap): -1;
 *  - otherwise (no memory limit before): 2 * new_memory, what `docker run --memory` would set.
 * Saturates instead of overflowing. new_memory <= 0 returns 0 (nothing to send). */
int64_t docker_memory_swap_for(int64_t old_memory, int64_t old_swap, int64_t new_memory);

struct docker_stats {
    uint64_t cpu_total_ns;    /* cpu_stats.cpu_usage.total_usage */
    uint64_t system_cpu_ns;   /* cpu_stats.system_cpu_usage */
    uint64_t precpu_total_ns; /* precpu_stats... (0 with one-shot) */
    uint64_t presystem_cpu_ns;
    uint32_t online_cpus;
    uint64_t memory_usage;    /* memory_stats.usage */
    uint64_t memory_limit;    /* memory_stats.limit */
    /* memory_stats.stats.total_inactive_file (cgroup v1) or .inactive_file (v2): page cache
     * the kernel can reclaim; usage minus it is the working set (cAdvisor, `docker stats`) */
    uint64_t memory_inactive_file;
};
/* GET /containers/{id}/stats?stream=false&one-shot=true. */
docker_code docker_container_stats(struct docker_client *c, const char *id,
                                   struct docker_stats *out, struct docker_err *err);

/* One event from GET /events. Strings borrow from the stream's buffers: valid only during the
 * callback; copy what you keep. */
struct docker_event {
    const char *type;   /* "container", ... */
    const char *action; /* "die", "start", "health_status: unhealthy", ... */
    const char *id;     /* Actor.ID */
    const char *name;   /* Actor.Attributes.name, or "" */
    int exit_code;      /* Actor.Attributes.exitCode, or -1 (absent, not a number, out of range) */
    int64_t time_nano;  /* timeNano, else time * 10^9; 0 when neither fits */
    const struct docker_labels *attributes; /* every Actor.Attributes entry (labels included) */
};

/* Return 0 to continue, non-zero to stop the stream (the call then returns DOCKER_OK). */
typedef int (*docker_event_fn)(const struct docker_event *ev, void *ud);

struct docker_events_filter {
    const char *const *types;   /* NULL-terminated, e.g. {"container", NULL}; NULL: all */
    const char *const *events;  /* NULL-terminated actions, e.g. {"die","start",NULL}; NULL: all */
    const char *const *labels;  /* NULL-terminated "k" or "k=v"; NULL: all */
    int64_t since;              /* unix seconds; 0: now */
};

/* A cancellation handle for a stream; may be cancelled from any thread, before or during the call.
 * Caller owns it (new/free); free only once the streaming call has returned. */
struct docker_cancel;
struct docker_cancel *docker_cancel_new(void);
void docker_cancel_free(struct docker_cancel *k);
/* Makes the stream using k return DOCKER_E_CANCELLED within ~100 ms. Async-signal-unsafe; any
 * thread. */
void docker_events_cancel(struct docker_cancel *k);

/* Follows GET /events (no total timeout) and calls fn once per event, in order, whatever the
 * chunking of the reply. Blocks until fn returns non-zero (DOCKER_OK), k is cancelled
 * (DOCKER_E_CANCELLED), or the connection fails (DOCKER_E_TRANSPORT / UNREACHABLE). A malformed
 * event line ends the stream with DOCKER_E_MALFORMED. k may be NULL (not cancellable). */
docker_code docker_events_stream(struct docker_client *c, const struct docker_events_filter *f,
                                 docker_event_fn fn, void *ud, struct docker_cancel *k,
                                 struct docker_err *err);

/* ---- Swarm services (a swarm manager node; see docs/docker-engine.md) ----
 * A service is changed by sending its whole Spec back with the Version.Index it was read at
 * (optimistic concurrency): when someone else updated it meanwhile, the daemon refuses the update
 * ("update out of sequence") and docker_service_update() returns DOCKER_E_CONFLICT; the caller
 * re-reads and decides again, never overwrites blindly. On a node that is not a swarm manager the
 * service calls return DOCKER_E_NO_SWARM (the daemon's 503). */

/* TaskTemplate.Resources; 0 means "not set". */
struct docker_service_resources {
    int64_t limit_nano_cpus;   /* Limits.NanoCPUs (1e9 = one CPU) */
    int64_t limit_memory;      /* Limits.MemoryBytes */
    int64_t reserve_nano_cpus; /* Reservations.NanoCPUs */
    int64_t reserve_memory;    /* Reservations.MemoryBytes */
};

struct docker_service {
    char id[65];
    char name[256];          /* Spec.Name */
    char image[512];         /* Spec.TaskTemplate.ContainerSpec.Image */
    uint64_t version;        /* Version.Index, sent back by docker_service_update() */
    bool global;             /* Mode.Global (or GlobalJob): never scaled horizontally */
    int64_t replicas;        /* Mode.Replicated.Replicas; 0 for global services */
    struct docker_service_resources res;
    struct docker_labels labels; /* Spec.Labels: the service's own labels (not its tasks') */
    char *spec;              /* the Spec object as compact JSON text (owned) */
};
/* Frees what the struct owns (labels, spec). NULL-safe. */
void docker_service_free(struct docker_service *s);

/* GET /services/{id}. id may be a name or an id (same escaping and refusals as containers).
 * DOCKER_E_NOT_FOUND for an unknown service, DOCKER_E_NO_SWARM when this node is not a manager. */
docker_code docker_service_inspect(struct docker_client *c, const char *id,
                                   struct docker_service *out, struct docker_err *err);

struct docker_service_list {
    struct docker_service *v;
    size_t n;
};
void docker_service_list_free(struct docker_service_list *l);
/* GET /services?filters={"label":[...]} (label_filters as for docker_container_list). */
docker_code docker_service_list(struct docker_client *c, const char *const *label_filters,
                                struct docker_service_list *out, struct docker_err *err);

/* What to change; a field is changed only when its has_ flag is set. Everything else in the spec
 * is sent back exactly as read. */
struct docker_service_change {
    bool has_replicas;
    int64_t replicas; /* refused (DOCKER_E_INVALID) for a global service or a negative value */
    bool has_resources;
    struct docker_service_resources res; /* the four values replace the current ones; 0 unsets */
};
/* POST /services/{cur->id}/update?version={cur->version} with cur->spec changed by chg.
 * DOCKER_E_CONFLICT when the service changed since cur was read (re-inspect and decide again),
 * DOCKER_E_NOT_FOUND when it is gone, DOCKER_E_BAD_REQUEST when the daemon refuses the values. */
docker_code docker_service_update(struct docker_client *c, const struct docker_service *cur,
                                  const struct docker_service_change *chg, struct docker_err *err);

/* Tasks of a service whose desired state is running, and how many of them are running now
 * (GET /tasks?filters={"service":[id],"desired-state":["running"]}). */
struct docker_service_tasks {
    int desired; /* tasks the orchestrator wants running */
    int running; /* of those, Status.State == "running" */
};
docker_code docker_service_tasks(struct docker_client *c, const char *service_id,
                                 struct docker_service_tasks *out, struct docker_err *err);

#endif
