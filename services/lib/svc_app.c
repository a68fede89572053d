/* svc_app.c: dispatch of one request: builtin endpoints, routes, database replies. */
#include "svc_app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_log.h"

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
    enum svc_db_status st = svc_db_exec(c, sql_ping, NULL, 0, &one, 1, NULL, NULL, NULL, &err);
    svc_db_release(c);
    if (st != SVC_DB_OK)
        svc_reply_error(rep, 503, "database_unavailable", "%s", err.msg);
    else if (!app->svc->ready || app->svc->ready(app, rep))
        svc_reply_json(rep, 200, json_pack("{s:s}", "status", "ready"));
}

/* the shared series, then the service's own */
static char *metrics_text(struct svc_app *app)
{
    char *text = svc_metrics_render(app->metrics, app->db);
    char *own = text && app->svc->metrics ? app->svc->metrics() : NULL;

    if (own) {
        size_t a = strlen(text), b = strlen(own);
        char *all = realloc(text, a + b + 1);
        if (all)
            memcpy(all + a, own, b + 1);
        else
            free(text);
        text = all;
        free(own);
    }
    return text;
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
            rep->text = metrics_text(app);
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
