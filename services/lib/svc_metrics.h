/* svc_metrics.h: request counters and duration histograms per route, in Prometheus text. */
#ifndef SVC_METRICS_H
#define SVC_METRICS_H

#include <stddef.h>

#include "svc_db.h"

struct svc_metrics;

/* Makes the counters for nroutes routes, labelled route=routes[i], method=methods[i] (both
 * borrowed, must outlive the metrics). NULL on OOM. */
struct svc_metrics *svc_metrics_new(const char *const *routes, const char *const *methods,
                                    size_t nroutes);
void svc_metrics_free(struct svc_metrics *m);

/* Counts one request of route (index into the labels) answered with status after seconds.
 * Lock-free; any thread. */
void svc_metrics_observe(struct svc_metrics *m, size_t route, int status, double seconds);
/* Counts one call to a peer service: outcome "ok", "error" (an HTTP answer >= 500) or "down". */
void svc_metrics_peer(struct svc_metrics *m, const char *peer, const char *outcome);

/* Renders every series (and the pool's, when db is non-NULL) as Prometheus text format 0.0.4.
 * Returns a malloc'd string the caller frees; NULL on OOM. Any thread. */
char *svc_metrics_render(struct svc_metrics *m, struct svc_db_pool *db);

#endif
