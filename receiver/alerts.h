/* alerts.h: Alertmanager webhook payload (version 4) -> alert records. Pure: no I/O, no clock. */
#ifndef TRIP_ALERTS_H
#define TRIP_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum alerts_code {
    ALERTS_OK = 0,
    ALERTS_E_JSON,    /* body is not JSON (message carries jansson's line/column) */
    ALERTS_E_PAYLOAD, /* JSON, but not a version 4 webhook payload (no "alerts" array, ...) */
    ALERTS_E_TOOMANY, /* more alerts than opts->max_alerts */
    ALERTS_E_NOMEM,
} alerts_code;

struct alerts_err {
    alerts_code code;
    char msg[256];
};

enum alerts_status { ALERTS_FIRING, ALERTS_RESOLVED };
enum alerts_action {
    ALERTS_ACTION_NONE,
    ALERTS_SCALE_CPU,
    ALERTS_SCALE_MEMORY,
    ALERTS_RESTART,
    ALERTS_SCALE_REPLICAS, /* Swarm services: more replicas */
    ALERTS_SCALE_CPUS,     /* a container's CPU quota (NanoCpus) */
};

/* One alert. `problem` is "" for a usable record, else why it cannot be acted on (missing
 * container label, unknown action, ...): a per-alert result, the rest of the batch still counts. */
struct alerts_record {
    enum alerts_status status;
    enum alerts_action action;
    char alertname[128];
    char container[256];
    char fingerprint[64];
    char duration[32];    /* the alert's optional `scale_duration` label, "" when absent */
    int64_t starts_at_ms; /* unix ms; 0 when absent or "0001-01-01T00:00:00Z" */
    int64_t ends_at_ms;
    char problem[128];
};

struct alerts_batch {
    struct alerts_record *v;
    size_t n;
};

struct alerts_opts {
    const char *const *container_labels; /* label names tried in order; NULL/0: {"name"} */
    size_t n_container_labels;
    const char *cpu_alert;    /* alertname -> action fallback; NULL: "ContainerHighCpu" */
    const char *memory_alert; /* NULL: "ContainerHighMemory" */
    const char *down_alert;   /* NULL: "ContainerDown" */
    size_t max_alerts;        /* 0: 1000 */
};

/* Parses body (len bytes, need not be NUL-terminated) into *out (caller frees with
 * alerts_batch_free). A record lacking a fingerprint gets one derived from its labels.
 * ALERTS_E_* with a message when the whole body is unusable. Any thread. */
alerts_code alerts_parse(const char *body, size_t len, const struct alerts_opts *opts,
                         struct alerts_batch *out, struct alerts_err *err);
void alerts_batch_free(struct alerts_batch *b);

/* "scale-cpu", "scale-memory", "restart", "none"; "firing" / "resolved". */
const char *alerts_action_name(enum alerts_action a);
const char *alerts_status_name(enum alerts_status s);
/* Parses an RFC 3339 time into unix ms (0 for the zero time 0001-01-01). -1 if malformed. */
int alerts_time_parse(const char *s, int64_t *ms);

#endif
