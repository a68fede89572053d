/* prom.h: asks Prometheus (GET /api/v1/alerts) whether a container's alert still fires. */
#ifndef TRIP_PROM_H
#define TRIP_PROM_H

#include <stdbool.h>
#include <stddef.h>

typedef enum prom_code {
    PROM_OK = 0,
    PROM_E_INVALID,   /* empty URL or container */
    PROM_E_TRANSPORT, /* connect, timeout, reset (libcurl's message) */
    PROM_E_HTTP,      /* a status other than 200 */
    PROM_E_MALFORMED, /* not Prometheus' {"status":"success","data":{"alerts":[...]}} */
    PROM_E_NOMEM,
} prom_code;

struct prom_err {
    prom_code code;
    char msg[256];
};

/* Which alerts count: state "firing", a label of container_labels (tried in order) equal to
 * container, and alertname == alertname or label action == action. Strings borrow. */
struct prom_match {
    const char *const *container_labels;
    size_t n_container_labels;
    const char *container;
    const char *alertname;
    const char *action;
};

/* Pure: decides from a /api/v1/alerts reply body. *firing is set on PROM_OK. Any thread. */
prom_code prom_alerts_firing(const char *body, size_t len, const struct prom_match *m, bool *firing,
                             struct prom_err *err);

/* GET <base_url>/api/v1/alerts (timeout_ms total, reply at most 4 MiB) and prom_alerts_firing().
 * Blocks; call from engine workers only. Any thread. */
prom_code prom_query_firing(const char *base_url, long timeout_ms, const struct prom_match *m,
                            bool *firing, struct prom_err *err);

#endif
