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

/* Asks the privileged process and answers with its status and JSON body. */
enum MHD_Result reply_of(struct req *r, struct MHD_Connection *c, struct ipc_intent *in)
{
    struct ipc_reply rep;

    http_ipc_call(r->h, in, &rep);
    enum MHD_Result ret = http_queue_json(r, c, rep.status, rep.body ? rep.body : "{}");
    ipc_reply_clear(&rep);
    return ret;
}

/* One alert of a webhook as an intent for the privileged process (IPC_ALERT). */
static void webhook_intent(const struct alerts_record *a, const char *remote,
                           struct ipc_intent *in)
{
    *in = (struct ipc_intent){.type = IPC_ALERT,
                              .status = (uint8_t)a->status,
                              .action = (uint8_t)a->action};
    snprintf(in->container, sizeof(in->container), "%s", a->container);
    snprintf(in->fingerprint, sizeof(in->fingerprint), "%s", a->fingerprint);
    snprintf(in->alertname, sizeof(in->alertname), "%s", a->alertname);
    snprintf(in->duration, sizeof(in->duration), "%s", a->duration);
    snprintf(in->remote, sizeof(in->remote), "%s", remote);
    snprintf(in->problem, sizeof(in->problem), "%s", a->problem);
}

/* One alert's reply object, as the privileged process decided it (rep, cleared here);
 * *status becomes 503 when the engine could not take it. */
static json_t *webhook_one(const struct alerts_record *a, struct ipc_reply *rep, int *status)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "container", a->container, "alertname",
                          a->alertname, "fingerprint", a->fingerprint, "status",
                          alerts_status_name(a->status), "action", alerts_action_name(a->action));
    if (!o) /* alerts_parse() keeps strings valid UTF-8; never let a reply lose an alert anyway */
        o = json_object();
    if (rep->busy)
        *status = 503;
    json_object_set_new(o, "result", json_string(rep->accepted ? "accepted" : "ignored"));
    json_object_set_new(o, "reason", json_string(rep->reason));
    if (rep->accepted && rep->duration_ms >= 0)
        json_object_set_new(o, "duration_ms", json_integer(rep->duration_ms));
    ipc_reply_clear(rep);
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
    /* every alert to the privileged process at once (one batch, not one round trip each) */
    struct ipc_intent *in = b.n ? calloc(b.n, sizeof(*in)) : NULL;
    struct ipc_reply *rep = b.n ? calloc(b.n, sizeof(*rep)) : NULL;
    if (b.n && (!in || !rep)) {
        free(in);
        free(rep);
        alerts_batch_free(&b);
        return http_queue_error(r, c, 500, "out of memory");
    }
    for (size_t i = 0; i < b.n; i++)
        webhook_intent(&b.v[i], r->remote, &in[i]);
    http_ipc_call_many(h, in, rep, b.n);
    free(in);
    json_t *arr = json_array();
    for (size_t i = 0; i < b.n; i++) {
        bool ok = rep[i].accepted; /* counted by the privileged process */
        json_t *one = webhook_one(&b.v[i], &rep[i], &status);
        accepted += ok;
        log_info(ok ? "alert accepted" : "alert ignored",
                 "container=%s alertname=%s status=%s reason=%s remote=%s",
                 log_quote(ql, sizeof(ql), b.v[i].container),
                 b.v[i].alertname[0] ? b.v[i].alertname : "-", alerts_status_name(b.v[i].status),
                 log_quote((char[200]){0}, 200, json_string_value(json_object_get(one, "reason"))),
                 r->remote);
        json_array_append_new(arr, one);
    }
    free(rep);
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

static void on_job_reply(void *ud, struct ipc_reply *rep)
{
    struct pending *p = ud;
    struct http *h = p->h;

    pthread_mutex_lock(&h->lock);
    p->status = rep->status;
    p->body = rep->body; /* taken */
    rep->body = NULL;
    p->done = true;
    if (!p->resumed) {
        p->resumed = true;
        MHD_resume_connection(p->conn);
    }
    http_pending_unref(p);
    pthread_mutex_unlock(&h->lock);
}

/* Hands job to the privileged process (IPC_JOB) and suspends the connection until it answers. */
enum MHD_Result http_submit_and_suspend(struct req *r, struct MHD_Connection *c,
                                        struct ipc_intent *job)
{
    struct http *h = r->h;
    struct pending *p = calloc(1, sizeof(*p));

    if (!p)
        return http_queue_error(r, c, 500, "out of memory");
    p->h = h;
    p->conn = c;
    p->refs = 2;
    p->deadline_ms = clock_mono_ms() + h->cfg->request_timeout_ms;
    job->type = IPC_JOB;
    snprintf(job->remote, sizeof(job->remote), "%s", r->remote);
    /* h->lock held across the send: the reply cannot resume the connection before it is
     * suspended */
    pthread_mutex_lock(&h->lock);
    if (http_ipc_call_async(h, job, on_job_reply, p) != 0) {
        pthread_mutex_unlock(&h->lock);
        free(p);
        return http_queue_error(r, c, 503, "the privileged process is not answering");
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
    struct ipc_intent job = {0};
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
        job.resource = (uint8_t)(def - policy_resources);
        snprintf(job.container, sizeof(job.container), "%s", name);
        snprintf(job.duration, sizeof(job.duration), "%s", dur ? json_string_value(dur) : "");
        ret = http_submit_and_suspend(r, c, &job);
    }
    json_decref(o);
    return ret;
}

enum MHD_Result http_handle_restart(struct req *r, struct MHD_Connection *c, const char *name)
{
    struct ipc_intent job = {.kind = POLICY_RESTART};
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
        job.flag = json_is_true(f);
        json_decref(o);
    }
    snprintf(job.container, sizeof(job.container), "%s", name);
    return http_submit_and_suspend(r, c, &job);
}

/* POST .../maintenance {"enabled": true|false}: answered at once (no Docker call). */
enum MHD_Result http_handle_maintenance(struct req *r, struct MHD_Connection *c, const char *name)
{
    json_error_t jerr;
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
    struct ipc_intent in = {.type = IPC_MAINTENANCE, .flag = on};
    snprintf(in.container, sizeof(in.container), "%s", name);
    snprintf(in.remote, sizeof(in.remote), "%s", r->remote);
    return reply_of(r, c, &in);
}

enum MHD_Result http_handle_get(struct req *r, struct MHD_Connection *c, enum route rt,
                                const char *name)
{
    struct ipc_intent in = {0};
    struct ipc_reply rep;
    enum MHD_Result ret;

    switch (rt) {
    case R_HEALTHZ:
        return http_queue_json(r, c, 200, "{\"status\":\"ok\"}");
    case R_READYZ:
        in.type = IPC_READY;
        return reply_of(r, c, &in);
    case R_METRICS:
        in.type = IPC_METRICS;
        http_ipc_call(r->h, &in, &rep);
        if (rep.status == 200 && rep.body)
            ret = http_queue(r, c, 200, "text/plain; version=0.0.4; charset=utf-8", rep.body, NULL);
        else
            ret = http_queue_json(r, c, rep.status, rep.body ? rep.body : "{}");
        r->route = NULL; /* counted by the privileged process before rendering */
        ipc_reply_clear(&rep);
        return ret;
    case R_LIST:
    case R_SHOW:
        in.type = IPC_STATE;
        snprintf(in.container, sizeof(in.container), "%s", rt == R_LIST ? "" : name);
        return reply_of(r, c, &in);
    case R_UI:
        return http_handle_ui(r, c);
    case R_ACTIONS:
        return http_handle_actions(r, c);
    default:
        return http_queue_error(r, c, 404, "no such route");
    }
}
