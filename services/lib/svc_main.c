/* svc_main.c: the main() every service runs: flags, settings, start-up, migrations, stop. */
#include "svc_app.h"

#include "ssl_lean.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_http.h"
#include "svc_log.h"
#include "svc_peer.h"

static int health_check(const struct svc_config *cfg)
{
    char url[128];
    long status = 0;
    json_t *body = NULL;
    const char *h = cfg->listen_host;

    if (strcmp(h, "0.0.0.0") == 0 || h[0] == '\0')
        h = "127.0.0.1";
    else if (strcmp(h, "::") == 0)
        h = "::1";
    snprintf(url, sizeof(url), strchr(h, ':') ? "http://[%s]:%d" : "http://%s:%d", h,
             cfg->listen_port);
    enum svc_peer_status st = svc_peer_get(url, "/health", &status, &body);
    json_decref(body);
    return st == SVC_PEER_OK && status == 200 ? 0 : 1;
}

static void usage(const char *name)
{
    printf("usage: trip-%s [--health-check]\n"
           "Serves the trip %s API on SVC_LISTEN (default 0.0.0.0:8000).\n"
           "Environment: SVC_LISTEN DB_HOST DB_PORT DB_USER DB_PASSWORD_FILE DB_NAME DB_POOL\n"
           "             USER_URL PLACE_URL PLACE_DB SVC_SEED LOG_LEVEL (docs/services.md)\n"
           "--health-check  GET /health on loopback; exit 0 when it answers 200, else 1.\n",
           name, name);
}

static void serve(struct svc_app *app, sigset_t *stop)
{
    struct timespec retry = {.tv_sec = 2};
    struct svc_db_err err = {0};
    char q[300];

    while (!atomic_load(&app->ready)) {
        memset(&err, 0, sizeof(err));
        if (!svc_migrate(app, &err)) {
            svc_log_warn("migrations not applied, retrying in 2 s", "error=%s",
                         svc_log_quote(q, sizeof(q), err.msg));
        } else if (app->svc->start && !app->svc->start(app)) {
            svc_log_warn("cannot start, retrying in 2 s", "service=%s", app->svc->name);
        } else {
            atomic_store(&app->ready, true);
            svc_log_info("ready", "db=%s", app->cfg.db_name);
            break;
        }
        if (sigtimedwait(stop, NULL, &retry) > 0)
            return;
    }
    int sig;
    sigwait(stop, &sig);
}

/* routes' labels, then their methods: 2 * (nroutes + 4) pointers */
static const char **labels_new(const struct svc_service *svc)
{
    size_t n = svc->nroutes + 4;
    const char **l = calloc(2 * n, sizeof(*l));
    for (size_t i = 0; l && i < n; i++) {
        l[i] = svc_route_label(svc, i);
        l[n + i] = i < svc->nroutes ? svc->routes[i].method : i < n - 1 ? "GET" : "other";
    }
    return l;
}

int svc_main(int argc, char **argv, const struct svc_service *svc)
{
    static struct svc_app app;
    struct svc_config_err cerr = {{0}};
    char msg[256];
    sigset_t stop;

    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(svc->name);
        return 0;
    }
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--health-check") != 0)) {
        usage(svc->name);
        return 2;
    }
    if (!svc_config_load(&app.cfg, svc->name, &cerr)) {
        fprintf(stderr, "trip-%s: %s\n", svc->name, cerr.msg);
        return 2;
    }
    /* The services speak plain TCP to MariaDB, never TLS, but the connector initialises OpenSSL
     * in full at start (ssl_lean.h). */
    ssl_lean_init();
    if (argc == 2)
        return health_check(&app.cfg);
    svc_log_init(svc->name, (enum svc_log_level)app.cfg.log_level);
    svc_db_global_init();
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    app.svc = svc;
    if (svc->init)
        svc->init(&app.cfg);
    struct svc_db_target t = {app.cfg.db_host, app.cfg.db_port, app.cfg.db_user,
                              app.cfg.db_password, app.cfg.db_name};
    const char **labels = labels_new(svc);
    app.db = svc_db_pool_new(&t, app.cfg.db_pool);
    app.metrics =
        labels ? svc_metrics_new(labels, labels + svc->nroutes + 4, svc->nroutes + 4) : NULL;
    struct svc_http *h = app.db && app.metrics ? svc_http_start(&app, msg, sizeof(msg)) : NULL;
    if (!h) {
        svc_log_error("cannot start", "error=\"%s\"",
                      app.db && app.metrics ? msg : "out of memory");
        return 1;
    }
    svc_log_info("listening", "addr=%s:%d db=%s@%s:%d/%s pool=%d", app.cfg.listen_host,
                 app.cfg.listen_port, app.cfg.db_user, app.cfg.db_host, app.cfg.db_port,
                 app.cfg.db_name, app.cfg.db_pool);
    serve(&app, &stop);
    svc_log_info("stopping", "reason=signal");
    svc_http_stop(h);
    if (svc->stop && atomic_load(&app.ready))
        svc->stop();
    svc_db_pool_free(app.db);
    svc_metrics_free(app.metrics);
    free(labels);
    svc_db_global_end();
    return 0;
}
