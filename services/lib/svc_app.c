/* svc_app.c: dispatch, migrations and the shared main(). */
#include "svc_app.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_http.h"
#include "svc_log.h"
#include "svc_peer.h"

static const char *const builtin_labels[] = {"/health", "/ready", "/metrics", "other"};

const char *svc_route_label(const struct svc_service *svc, size_t i)
{
    if (i < svc->nroutes)
        return svc->routes[i].pattern;
    i -= svc->nroutes;
    return builtin_labels[i < 3 ? i : 3];
}

struct svc_db_conn *svc_app_db(struct svc_app *app, struct svc_reply *rep)
{
    struct svc_db_err err = {0};
    struct svc_db_conn *c = svc_db_acquire(app->db, SVC_DB_WAIT_MS, &err);
    if (!c)
        svc_reply_error(rep, 503, "database_unavailable", "%s", err.msg);
    return c;
}

void svc_reply_db_error(struct svc_reply *rep, const struct svc_db_err *err)
{
    char q[300];

    if (err->code == SVC_DB_DUPLICATE) {
        svc_reply_error(rep, 409, "conflict", "it exists already");
    } else if (err->code == SVC_DB_UNAVAILABLE) {
        svc_reply_error(rep, 503, "database_unavailable", "%s", err->msg);
    } else {
        svc_log_error("query failed", "errno=%u error=%s", err->errnum,
                      svc_log_quote(q, sizeof(q), err->msg));
        svc_reply_error(rep, 500, "internal", "the database refused the query (see the log)");
    }
}

static const char sql_ping[] = "SELECT 1";

static void ready(struct svc_app *app, struct svc_reply *rep)
{
    struct svc_db_err err = {0};
    struct svc_db_col one = {.type = SVC_DB_INT};

    if (!atomic_load(&app->ready)) {
        svc_reply_error(rep, 503, "starting", "migrations are not applied yet");
        return;
    }
    struct svc_db_conn *c = svc_app_db(app, rep);
    if (!c)
        return;
    if (svc_db_exec(c, sql_ping, NULL, 0, &one, 1, NULL, NULL, NULL, &err) != SVC_DB_OK)
        svc_reply_error(rep, 503, "database_unavailable", "%s", err.msg);
    else
        svc_reply_json(rep, 200, json_pack("{s:s}", "status", "ready"));
    svc_db_release(c);
}

static bool builtin(struct svc_app *app, struct svc_req *req, struct svc_reply *rep, size_t *route)
{
    size_t n = app->svc->nroutes;

    for (size_t i = 0; i < 3; i++) {
        if (strcmp(req->path, builtin_labels[i]) != 0)
            continue;
        *route = n + i;
        if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
            svc_reply_error(rep, 405, "method_not_allowed", "%s allows GET", req->path);
        } else if (i == 0) {
            svc_reply_json(rep, 200,
                           json_pack("{s:s,s:s}", "status", "ok", "service", app->svc->name));
        } else if (i == 1) {
            ready(app, rep);
        } else {
            svc_reply_free(rep);
            rep->status = 200;
            rep->text = svc_metrics_render(app->metrics, app->db);
            rep->content_type = "text/plain; version=0.0.4";
            if (!rep->text)
                svc_reply_error(rep, 500, "internal", "out of memory");
        }
        return true;
    }
    return false;
}

void svc_dispatch(struct svc_app *app, struct svc_req *req, struct svc_reply *rep, size_t *route)
{
    bool wrong_method;

    *route = app->svc->nroutes + 3;
    if (builtin(app, req, rep, route))
        return;
    int i = svc_route_match(app->svc->routes, app->svc->nroutes, req->method, req->path, req,
                            &wrong_method);
    if (i < 0 && wrong_method) {
        svc_reply_error(rep, 405, "method_not_allowed", "%s does not allow %s", req->path,
                        req->method);
        return;
    }
    if (i < 0) {
        svc_reply_error(rep, 404, "not_found", "no such resource");
        return;
    }
    *route = (size_t)i;
    if (!atomic_load(&app->ready)) {
        svc_reply_error(rep, 503, "starting", "migrations are not applied yet");
        return;
    }
    app->svc->routes[i].fn(req, rep);
}

/* ------------------------------------------------------------------------------- migrations */

static const char sql_version_table[] =
    "CREATE TABLE IF NOT EXISTS schema_version (version INT PRIMARY KEY,"
    " applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB";
static const char sql_lock[] = "SELECT GET_LOCK(?, 60)";
static const char sql_unlock[] = "SELECT RELEASE_LOCK(?)";
static const char sql_applied[] = "SELECT COUNT(*) FROM schema_version WHERE version = ?";
static const char sql_record[] = "INSERT INTO schema_version (version) VALUES (?)";

static bool apply(struct svc_app *app, struct svc_db_conn *c, const struct svc_migration *m,
                  struct svc_db_err *err)
{
    struct svc_db_col n = {.type = SVC_DB_INT};
    struct svc_db_val v = svc_db_int(m->version);

    if (svc_db_exec(c, sql_applied, &v, 1, &n, 1, NULL, NULL, NULL, err) != SVC_DB_OK)
        return false;
    if (n.i > 0)
        return true;
    for (size_t i = 0; m->sql && m->sql[i]; i++) {
        if (svc_db_exec(c, m->sql[i], NULL, 0, NULL, 0, NULL, NULL, NULL, err) != SVC_DB_OK)
            return false;
    }
    if (m->fn && !m->fn(app, c, err))
        return false;
    if (svc_db_exec(c, sql_record, &v, 1, NULL, 0, NULL, NULL, NULL, err) != SVC_DB_OK)
        return false;
    svc_log_info("migration applied", "version=%d", m->version);
    return true;
}

bool svc_migrate(struct svc_app *app, struct svc_db_err *err)
{
    struct svc_db_col got = {.type = SVC_DB_INT};
    char name[96];
    bool ok = false;

    struct svc_db_conn *c = svc_db_acquire(app->db, SVC_DB_WAIT_MS, err);
    if (!c)
        return false;
    snprintf(name, sizeof(name), "%s.migrate", app->cfg.db_name);
    struct svc_db_val lock = svc_db_text(name);
    if (svc_db_exec(c, sql_version_table, NULL, 0, NULL, 0, NULL, NULL, NULL, err) != SVC_DB_OK ||
        svc_db_exec(c, sql_lock, &lock, 1, &got, 1, NULL, NULL, NULL, err) != SVC_DB_OK)
        goto out_release;
    ok = got.i == 1;
    for (size_t i = 0; ok && i < app->svc->nmigrations; i++)
        ok = apply(app, c, &app->svc->migrations[i], err);
    svc_db_exec(c, sql_unlock, &lock, 1, &got, 1, NULL, NULL, NULL, NULL);
out_release:
    svc_db_release(c);
    return ok;
}

/* ------------------------------------------------------------------------------------- main */

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
        if (svc_migrate(app, &err)) {
            atomic_store(&app->ready, true);
            svc_log_info("ready", "db=%s", app->cfg.db_name);
            break;
        }
        svc_log_warn("migrations not applied, retrying in 2 s", "error=%s",
                     svc_log_quote(q, sizeof(q), err.msg));
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
    curl_global_init(CURL_GLOBAL_DEFAULT);
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
    svc_db_pool_free(app.db);
    svc_metrics_free(app.metrics);
    free(labels);
    curl_global_cleanup();
    svc_db_global_end();
    return 0;
}
