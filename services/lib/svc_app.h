/* svc_app.h: what every service shares at run time, and the one main() they all run. */
#ifndef SVC_APP_H
#define SVC_APP_H

#include <stdatomic.h>
#include <stdbool.h>

#include "svc_config.h"
#include "svc_db.h"
#include "svc_metrics.h"
#include "svc_route.h"

#define SVC_BODY_MAX (64 * 1024)
#define SVC_DB_WAIT_MS 2000

struct svc_app;

/* One schema migration: statements run in order (each a string literal), then fn when set.
 * Applied once, recorded in schema_version. */
struct svc_migration {
    int version;
    const char *const *sql; /* NULL-terminated, may be NULL */
    bool (*fn)(struct svc_app *app, struct svc_db_conn *c, struct svc_db_err *err);
};

struct svc_service {
    const char *name; /* "place" */
    const struct svc_route *routes;
    size_t nroutes;
    const struct svc_migration *migrations;
    size_t nmigrations;
    /* NULL, or called once with the loaded settings before any request is served */
    void (*init)(const struct svc_config *cfg);
    /* NULL, or called once the migrations are applied, before the routes are served: starts the
     * service's own background work (nearspot's index). False: logged, retried in 2 s. */
    bool (*start)(struct svc_app *app);
    /* NULL, or called at shutdown (when start succeeded) before the pool is freed */
    void (*stop)(void);
    /* NULL, or a further condition of GET /ready: false with rep set to a 503 */
    bool (*ready)(struct svc_app *app, struct svc_reply *rep);
    /* NULL, or the service's own series in Prometheus text (malloc'd, NULL on OOM) */
    char *(*metrics)(void);
};

struct svc_app {
    struct svc_config cfg;
    const struct svc_service *svc;
    struct svc_db_pool *db;
    struct svc_metrics *metrics;
    atomic_bool ready; /* migrations applied: routes answer 503 until then */
};

/* Parses argv (--health-check, --help), loads the configuration, serves until SIGTERM/SIGINT.
 * Returns the process exit status. */
int svc_main(int argc, char **argv, const struct svc_service *svc);

/* Applies the missing migrations under a named lock (so replicas never race). */
bool svc_migrate(struct svc_app *app, struct svc_db_err *err);

/*
 * Answers one request: builtin /health, /ready and /metrics, then the service's routes (404, 405
 * and 503-until-ready handled here). req->method/path/query/body must be set; *route gets the
 * metrics label index. Used by the HTTP front and by the unit tests.
 */
void svc_dispatch(struct svc_app *app, struct svc_req *req, struct svc_reply *rep, size_t *route);
/* The metrics labels: the service's route patterns, then /health, /ready, /metrics, "other". */
const char *svc_route_label(const struct svc_service *svc, size_t i);

/* Takes a DB connection or answers 503 into rep (NULL then). */
struct svc_db_conn *svc_app_db(struct svc_app *app, struct svc_reply *rep);
/* Answers rep from a failed DB status: 409 duplicate, 503 unavailable, 500 otherwise (logged). */
void svc_reply_db_error(struct svc_reply *rep, const struct svc_db_err *err);

#endif
