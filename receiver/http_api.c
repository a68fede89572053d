/* http_api.c: the handlers: the webhook (answered from the engine's cache), the manual API
 * (suspended until the engine answers; http_engine_reply is the one place an outcome becomes a
 * status code and JSON) and the GET routes. */
#include "http_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "clock.h"
#include "docker_client.h"
#include "log.h"
#include "policy.h"

/* One alert of a webhook: its reply object; *accepted says whether it was queued, *status
 * becomes 503 when the engine could not take it. */
static json_t *webhook_one(struct http *h, const struct alerts_record *a, const char *remote,
                           int *status, bool *accepted)
{
    struct policy_request req;
    struct policy_decision d;
    struct engine_cached cached;
    struct policy_container pc = {0};
    struct policy_limits lim;

    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "container", a->container, "alertname",
                          a->alertname, "fingerprint", a->fingerprint, "status",
                          alerts_status_name(a->status), "action", alerts_action_name(a->action));
    if (!o) /* alerts_parse() keeps strings valid UTF-8; never let a reply lose an alert anyway */
        o = json_object();
    *accepted = false;
    if (a->problem[0]) {
        json_object_set_new(o, "result", json_string("ignored"));
        json_object_set_new(o, "reason", json_string(a->problem));
        return o;
    }
    if (!http_valid_name(a->container, strlen(a->container))) {
        /* never queued: no Docker name looks like this, so no container can be meant */
        json_object_set_new(o, "result", json_string("ignored"));
        json_object_set_new(
            o, "reason",
            json_string("invalid container name (Docker names match [a-zA-Z0-9][a-zA-Z0-9_.-]*)"));
        return o;
    }
    policy_request_from_alert(&req, a);
    if (engine_lookup(h->e, a->container, &cached)) {
        engine_cached_policy(&cached, &pc);
    } else if (engine_ready(h->e)) {
        /* the last refresh listed every container (and Swarm service): this name is not one */
        pc.known = true;
        pc.exists = false;
    }
    policy_limits_from_config(&lim, h->cfg);
    policy_decide(&lim, &req, &pc, clock_wall_ms(), &d);
    if (d.verdict == POLICY_ACCEPT) {
        struct engine_job job = {.kind = req.kind, .resource = req.resource, .from_alert = true};
        struct engine_err eerr = {0};
        snprintf(job.container, sizeof(job.container), "%s", a->container);
        snprintf(job.fingerprint, sizeof(job.fingerprint), "%s", a->fingerprint);
        snprintf(job.alertname, sizeof(job.alertname), "%s", a->alertname);
        snprintf(job.duration, sizeof(job.duration), "%s", a->duration);
        snprintf(job.remote, sizeof(job.remote), "%s", remote);
        if (engine_submit(h->e, &job, &eerr) != ENGINE_OK) {
            d.verdict = POLICY_IGNORE;
            snprintf(d.reason, sizeof(d.reason), "%.140s; retry later", eerr.msg);
            *status = 503;
        }
    }
    bool ok = d.verdict == POLICY_ACCEPT;
    *accepted = ok;
    json_object_set_new(o, "result", json_string(ok ? "accepted" : "ignored"));
    json_object_set_new(o, "reason",
                        json_string(d.reason[0] ? d.reason : policy_kind_name(d.kind)));
    if (ok && d.kind == POLICY_SCALE_OUT)
        json_object_set_new(o, "duration_ms", json_integer(d.duration_ms));
    return o;
}

enum MHD_Result http_handle_webhook(struct req *r, struct MHD_Connection *c)
{
    struct http *h = r->h;
    const char *labels[CONFIG_MAX_LABELS];
    struct alerts_opts ao = {labels,
                             h->cfg->n_container_labels,
                             h->cfg->cpu_alert,
                             h->cfg->memory_alert,
                             h->cfg->down_alert,
                             1000};
    struct alerts_batch b;
    struct alerts_err aerr = {0};
    int status = 200, accepted = 0;
    char ql[700];

    for (size_t i = 0; i < h->cfg->n_container_labels; i++)
        labels[i] = h->cfg->container_labels[i];
    if (alerts_parse(r->body ? r->body : "", r->len, &ao, &b, &aerr) != ALERTS_OK) {
        log_warn("webhook rejected", "error=%s remote=%s", log_quote(ql, sizeof(ql), aerr.msg),
                 r->remote);
        return http_queue_error(r, c, aerr.code == ALERTS_E_NOMEM ? 500 : 400, "%s", aerr.msg);
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < b.n; i++) {
        bool ok;
        json_t *one = webhook_one(h, &b.v[i], r->remote, &status, &ok);
        accepted += ok;
        metrics_alert(h->m, ok ? "accepted" : "ignored");
        log_info(ok ? "alert accepted" : "alert ignored",
                 "container=%s alertname=%s status=%s reason=%s remote=%s",
                 log_quote(ql, sizeof(ql), b.v[i].container),
                 b.v[i].alertname[0] ? b.v[i].alertname : "-", alerts_status_name(b.v[i].status),
                 log_quote((char[200]){0}, 200, json_string_value(json_object_get(one, "reason"))),
                 r->remote);
        json_array_append_new(arr, one);
    }
    json_t *o = json_pack("{s:i, s:i, s:o}", "accepted", accepted, "ignored", (int)b.n - accepted,
                          "alerts", arr);
    char *text = json_dumps(o, JSON_COMPACT);
    enum MHD_Result ret = http_queue_json(r, c, status, text ? text : "{}");
    free(text);
    json_decref(o);
    alerts_batch_free(&b);
    return ret;
}

void http_pending_unref(struct pending *p)
{
    /* lock held */
    if (--p->refs == 0) {
        free(p->body);
        free(p);
    }
}

/* The HTTP status and the API's "result" word of each outcome: the one place they are decided. */
static const struct {
    int status;
    const char *result;
} outcome_http[] = {
    [OUTCOME_DONE] = {200, "ok"},
    [OUTCOME_DRY_RUN] = {200, "dry_run"},
    [OUTCOME_EXTENDED] = {200, "extended"},
    [OUTCOME_UNCHANGED] = {200, "unchanged"},
    [OUTCOME_CLAIM_DROPPED] = {200, "claim_dropped"},
    [OUTCOME_POSTPONED] = {200, "postponed"},
    [OUTCOME_NOT_MANAGED] = {403, "ignored"},
    [OUTCOME_NOT_FOUND] = {404, "ignored"},
    [OUTCOME_CONFLICT] = {409, "ignored"},
    [OUTCOME_REFUSED] = {422, "ignored"},
    [OUTCOME_VANISHED] = {404, "error"},
    [OUTCOME_FAILED] = {502, "error"},
    [OUTCOME_UNSAVED] = {503, "error"},
    [OUTCOME_BUSY] = {503, "error"},
};

int http_engine_reply(const struct engine_result *res, char **body)
{
    size_t i = (size_t)res->outcome;
    bool known = i < sizeof(outcome_http) / sizeof(outcome_http[0]) && outcome_http[i].result;
    int status = known ? outcome_http[i].status : 500;
    json_t *o = json_pack("{s:s, s:s, s:s}", "container", res->container ? res->container : "",
                          "result", known ? outcome_http[i].result : "error", "reason",
                          res->reason ? res->reason : "");
    json_t *state = res->state ? json_loads(res->state, 0, NULL) : NULL;

    if (o && state)
        json_object_set_new(o, "state", state);
    else
        json_decref(state);
    *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!*body)
        *body = strdup("{\"result\":\"error\",\"reason\":\"reply not representable\"}");
    return status;
}

static void on_engine_done(void *ud, const struct engine_result *res)
{
    struct pending *p = ud;
    struct http *h = p->h;
    char *body = NULL;
    int status = http_engine_reply(res, &body);

    pthread_mutex_lock(&h->lock);
    p->status = status;
    p->body = body;
    p->done = true;
    if (!p->resumed) {
        p->resumed = true;
        MHD_resume_connection(p->conn);
    }
    http_pending_unref(p);
    pthread_mutex_unlock(&h->lock);
}

/* Hands job to the engine and suspends the connection until it answers. */
enum MHD_Result http_submit_and_suspend(struct req *r, struct MHD_Connection *c,
                                        struct engine_job *job)
{
    struct http *h = r->h;
    struct engine_err eerr = {0};
    struct pending *p = calloc(1, sizeof(*p));

    if (!p)
        return http_queue_error(r, c, 500, "out of memory");
    p->h = h;
    p->conn = c;
    p->refs = 2;
    p->deadline_ms = clock_mono_ms() + h->cfg->request_timeout_ms;
    job->done = on_engine_done;
    job->done_ud = p;
    snprintf(job->remote, sizeof(job->remote), "%s", r->remote);
    pthread_mutex_lock(&h->lock);
    if (engine_submit(h->e, job, &eerr) != ENGINE_OK) {
        pthread_mutex_unlock(&h->lock);
        free(p);
        return http_queue_error(r, c, 503, "%s", eerr.msg);
    }
    p->next = h->pending;
    h->pending = p;
    r->p = p;
    MHD_suspend_connection(c);
    pthread_mutex_unlock(&h->lock);
    return MHD_YES;
}

/* Called when a suspended request is resumed: reply with what the engine said, or 504. */
enum MHD_Result http_finish_pending(struct req *r, struct MHD_Connection *c)
{
    struct http *h = r->h;
    struct pending *p = r->p;
    enum MHD_Result ret;

    pthread_mutex_lock(&h->lock);
    for (struct pending **pp = &h->pending; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    bool done = p->done;
    bool stopping = h->stopping; /* read under the lock: http_free() sets it */
    int status = p->status;
    char *body = p->body ? strdup(p->body) : NULL;
    r->p = NULL;
    http_pending_unref(p);
    pthread_mutex_unlock(&h->lock);
    if (done)
        ret = http_queue_json(r, c, status, body ? body : "{}");
    else
        ret = http_queue_error(
            r, c, stopping ? 503 : 504,
            stopping ? "shutting down"
                     : "the action did not finish within --request-timeout; it may still complete");
    free(body);
    return ret;
}

enum MHD_Result http_handle_scale(struct req *r, struct MHD_Connection *c, const char *name)
{
    json_error_t jerr;
    struct engine_job job = {0};
    json_t *o = json_loadb(r->body ? r->body : "", r->len, 0, &jerr);

    if (!o || !json_is_object(o)) {
        json_decref(o);
        return http_queue_error(r, c, 400, "malformed JSON body: %s",
                                o ? "not an object" : jerr.text);
    }
    const char *res = json_string_value(json_object_get(o, "resource"));
    const char *dir = json_string_value(json_object_get(o, "direction"));
    const json_t *dur = json_object_get(o, "duration");
    enum MHD_Result ret;
    const struct policy_resource_def *def = res ? policy_resource_by_name(res) : NULL;
    if (!def) {
        char names[128] = "";
        for (size_t i = 0; i < POLICY_N_RESOURCES; i++)
            snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s\"%s\"",
                     i == 0                        ? ""
                     : i + 1 == POLICY_N_RESOURCES ? " or "
                                                   : ", ",
                     policy_resources[i].name);
        ret = http_queue_error(r, c, 400, "\"resource\" must be %s", names);
    } else if (dir && strcmp(dir, "out") != 0 && strcmp(dir, "in") != 0) {
        ret = http_queue_error(r, c, 400, "\"direction\" must be \"out\" or \"in\"");
    } else if (dur && !json_is_string(dur)) {
        ret = http_queue_error(r, c, 400, "\"duration\" must be a string such as \"5m\"");
    } else if (dur && json_string_length(dur) >= sizeof(job.duration)) {
        ret = http_queue_error(r, c, 422, "\"duration\" is too long");
    } else {
        job.kind = dir && strcmp(dir, "in") == 0 ? POLICY_SCALE_IN : POLICY_SCALE_OUT;
        job.resource = (enum policy_resource)(def - policy_resources);
        snprintf(job.container, sizeof(job.container), "%s", name);
        snprintf(job.duration, sizeof(job.duration), "%s", dur ? json_string_value(dur) : "");
        ret = http_submit_and_suspend(r, c, &job);
    }
    json_decref(o);
    return ret;
}

enum MHD_Result http_handle_restart(struct req *r, struct MHD_Connection *c, const char *name)
{
    struct engine_job job = {.kind = POLICY_RESTART};
    json_error_t jerr;

    if (r->len > 0) {
        json_t *o = json_loadb(r->body, r->len, 0, &jerr);
        if (!o || !json_is_object(o)) {
            json_decref(o);
            return http_queue_error(r, c, 400, "malformed JSON body: %s",
                                    o ? "not an object" : jerr.text);
        }
        const json_t *f = json_object_get(o, "force");
        if (f && !json_is_boolean(f)) {
            json_decref(o);
            return http_queue_error(r, c, 400, "\"force\" must be true or false");
        }
        job.force = json_is_true(f);
        json_decref(o);
    }
    snprintf(job.container, sizeof(job.container), "%s", name);
    return http_submit_and_suspend(r, c, &job);
}

/* POST .../maintenance {"enabled": true|false}: answered at once (no Docker call). */
enum MHD_Result http_handle_maintenance(struct req *r, struct MHD_Connection *c, const char *name)
{
    json_error_t jerr;
    struct engine_err eerr = {0};
    json_t *o = json_loadb(r->body ? r->body : "", r->len, 0, &jerr);

    if (!o || !json_is_object(o)) {
        json_decref(o);
        return http_queue_error(r, c, 400, "malformed JSON body: %s",
                                o ? "not an object" : jerr.text);
    }
    const json_t *en = json_object_get(o, "enabled");
    bool on = json_is_true(en), valid = json_is_boolean(en);
    json_decref(o);
    if (!valid)
        return http_queue_error(r, c, 400, "\"enabled\" must be true or false");
    if (engine_set_maintenance(r->h->e, name, on, &eerr) != ENGINE_OK)
        return http_queue_error(r, c, 404, "%s", eerr.msg);
    char *text = engine_state_json(r->h->e, name);
    if (!text)
        return http_queue_error(r, c, 404, "no state for container %s", name);
    enum MHD_Result ret = http_queue_json(r, c, 200, text);
    free(text);
    return ret;
}

enum MHD_Result http_handle_get(struct req *r, struct MHD_Connection *c, enum route rt,
                                const char *name)
{
    struct http *h = r->h;
    struct metrics_gauges g;
    char *text;
    enum MHD_Result ret;

    switch (rt) {
    case R_HEALTHZ:
        return http_queue_json(r, c, 200, "{\"status\":\"ok\"}");
    case R_READYZ: {
        struct docker_engine de; /* the engine, its version, the API in use (docker-client) */
        bool ready;
        docker_client_engine(engine_docker_client(h->e), &de);
        text = docker_engine_ready_json(&de, engine_ready(h->e), &ready);
        ret = text ? http_queue_json(r, c, ready ? 200 : 503, text)
                   : http_queue_error(r, c, 500, "out of memory");
        free(text);
        return ret;
    }
    case R_METRICS:
        engine_gauges(h->e, &g);
        metrics_request(h->m, "metrics",
                        200); /* counted before rendering so a scrape sees itself */
        text = metrics_render(h->m, &g, TRIP_VERSION);
        if (!text)
            return http_queue_error(r, c, 500, "out of memory");
        ret = http_queue(r, c, 200, "text/plain; version=0.0.4; charset=utf-8", text, NULL);
        r->route = NULL;
        free(text);
        return ret;
    case R_LIST:
    case R_SHOW:
        text = engine_state_json(h->e, rt == R_LIST ? NULL : name);
        if (!text)
            return http_queue_error(r, c, 404, "no state for container %s (unknown or not managed)",
                                    name);
        ret = http_queue_json(r, c, 200, text);
        free(text);
        return ret;
    case R_UI:
        return http_handle_ui(r, c);
    case R_ACTIONS:
        return http_handle_actions(r, c);
    default:
        return http_queue_error(r, c, 404, "no such route");
    }
}
