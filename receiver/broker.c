/* broker.c: the privileged process's side of privilege separation (see broker.h's DESIGN). */
#include "broker.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actions.h"
#include "alerts.h"
#include "clock.h"
#include "docker_client.h"
#include "http.h"
#include "log.h"
#include "policy.h"

#ifndef TRIP_VERSION
#define TRIP_VERSION "dev"
#endif

struct broker {
    const struct config *cfg;
    struct engine *e;
    struct metrics *m;
    int fd;
    pthread_t reader;
    pthread_mutex_t wlock; /* one writer at a time on fd; guards `stopped` */
    bool stopped;
    uint8_t *out; /* reader thread only: replies held back while more intents wait (reply()) */
    size_t out_len, out_cap;
};

/* A manual job's reply address: freed by its done callback. */
struct job_ctx {
    struct broker *b;
    uint32_t id;
};

/* r encoded into *buf (the caller frees it); 0 when not even the error reply could be. */
static size_t encode_reply(const struct ipc_reply *r, uint8_t **buf)
{
    size_t len = ipc_encode_reply(r, buf);

    if (!len) { /* out of memory, or a body over IPC_MAX_REPLY */
        struct ipc_reply small = {.id = r->id, .status = 500, .duration_ms = -1};
        static char too_large[] =
            "{\"error\":\"reply too large or out of memory\",\"status\":500}";
        small.body = too_large;
        len = ipc_encode_reply(&small, buf);
    }
    return len;
}

static void write_locked(struct broker *b, const uint8_t *buf, size_t len)
{
    pthread_mutex_lock(&b->wlock);
    if (!b->stopped)
        ipc_write(b->fd, buf, len); /* fails only when the HTTP process is gone */
    pthread_mutex_unlock(&b->wlock);
}

static void send_reply(struct broker *b, const struct ipc_reply *r)
{
    uint8_t *buf = NULL;
    size_t len = encode_reply(r, &buf);

    if (len)
        write_locked(b, buf, len);
    free(buf);
}

/* Whether more of the HTTP process's bytes wait in the channel. */
static bool pending(int fd)
{
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

/* Writes the replies held back, if any (reader thread). */
static void flush_replies(struct broker *b)
{
    if (b->out_len)
        write_locked(b, b->out, b->out_len);
    b->out_len = 0;
}

#define HELD_REPLIES_MAX (256u * 1024)

/* The reader thread's reply to an intent. While more intents wait in the channel (a webhook's
 * alerts come in one write: http_ipc_call_many), replies are held back and written together
 * once the channel is drained or HELD_REPLIES_MAX bytes are held: a thousand alerts cost a few
 * writes and wake-ups of the HTTP process's reader instead of a thousand. Replies of queued jobs
 * (other threads) are sent at once by send_reply. more: whether further intents wait in the
 * channel (read by the caller after handling this one). */
static void reply(struct broker *b, const struct ipc_reply *r, bool more)
{
    uint8_t *buf = NULL;
    size_t len = encode_reply(r, &buf);

    if (len && b->out_len + len > b->out_cap && b->out_len + len <= HELD_REPLIES_MAX) {
        size_t cap = b->out_cap ? b->out_cap : 16 * 1024;
        while (cap < b->out_len + len)
            cap *= 2;
        uint8_t *nb = realloc(b->out, cap);
        if (nb) {
            b->out = nb;
            b->out_cap = cap;
        }
    }
    if (len && b->out_len + len <= b->out_cap) {
        memcpy(b->out + b->out_len, buf, len);
        b->out_len += len;
        if (!more)
            flush_replies(b);
    } else {
        flush_replies(b);
        if (len)
            write_locked(b, buf, len);
    }
    free(buf);
}

static void send_empty(struct broker *b, enum ipc_type type)
{
    uint8_t hdr[IPC_HDR_SIZE];

    ipc_put_header(hdr, type, 0, 0);
    pthread_mutex_lock(&b->wlock);
    if (!b->stopped)
        ipc_write(b->fd, hdr, sizeof(hdr));
    pthread_mutex_unlock(&b->wlock);
}

int broker_check(const struct ipc_intent *in, char *why, size_t size)
{
    const char *bad = NULL;
    size_t clen = strlen(in->container);

    switch (in->type) {
    case IPC_ALERT:
        if (in->status > ALERTS_RESOLVED)
            bad = "alert status out of range";
        else if (in->action > ALERTS_SCALE_CPUS)
            bad = "alert action out of range";
        break;
    case IPC_JOB:
        if (in->kind != POLICY_SCALE_OUT && in->kind != POLICY_SCALE_IN &&
            in->kind != POLICY_RESTART)
            bad = "job kind is not scale-out, scale-in or restart";
        else if (in->resource >= POLICY_N_RESOURCES)
            bad = "resource out of range";
        else if (!http_valid_name(in->container, clen))
            bad = "container name not of Docker's form";
        break;
    case IPC_MAINTENANCE:
        if (!http_valid_name(in->container, clen))
            bad = "container name not of Docker's form";
        break;
    case IPC_STATE:
        if (clen && !http_valid_name(in->container, clen))
            bad = "container name not of Docker's form";
        break;
    case IPC_ACTIONS:
        if (in->limit < 1 || in->limit > ACTIONS_LIMIT_MAX)
            bad = "limit out of range";
        else if (in->since_ms < 0)
            bad = "negative time";
        break;
    case IPC_COUNT_REQUEST:
        if (!http_route_name(in->route))
            bad = "route out of range";
        else if (in->code < 100 || in->code > 599)
            bad = "status out of range";
        break;
    case IPC_READY:
    case IPC_METRICS:
    case IPC_COUNT_REJECTED:
        break;
    default:
        bad = "not an intent";
    }
    if (bad) {
        snprintf(why, size, "%s", bad);
        return -1;
    }
    return 0;
}

/* One alert of a webhook: decided from the engine's cache, queued when accepted. */
static void do_alert(struct broker *b, const struct ipc_intent *in, struct ipc_reply *rep)
{
    struct alerts_record a = {.status = (enum alerts_status)in->status,
                              .action = (enum alerts_action)in->action};
    struct policy_request req;
    struct policy_decision d = {0};
    struct engine_cached cached;
    struct policy_container pc = {0};
    struct policy_limits lim;

    rep->duration_ms = -1;
    snprintf(a.container, sizeof(a.container), "%s", in->container);
    snprintf(a.fingerprint, sizeof(a.fingerprint), "%s", in->fingerprint);
    snprintf(a.alertname, sizeof(a.alertname), "%s", in->alertname);
    snprintf(a.duration, sizeof(a.duration), "%s", in->duration);
    snprintf(a.problem, sizeof(a.problem), "%s", in->problem);
    if (a.problem[0]) {
        snprintf(rep->reason, sizeof(rep->reason), "%s", a.problem);
        goto out;
    }
    if (!http_valid_name(a.container, strlen(a.container))) {
        /* never queued: no Docker name looks like this, so no container can be meant */
        snprintf(rep->reason, sizeof(rep->reason),
                 "invalid container name (Docker names match [a-zA-Z0-9][a-zA-Z0-9_.-]*)");
        goto out;
    }
    policy_request_from_alert(&req, &a);
    if (engine_lookup(b->e, a.container, &cached)) {
        engine_cached_policy(&cached, &pc);
    } else if (engine_ready(b->e)) {
        /* the last refresh listed every container (and Swarm service): this name is not one */
        pc.known = true;
        pc.exists = false;
    }
    policy_limits_from_config(&lim, b->cfg);
    policy_decide(&lim, &req, &pc, clock_wall_ms(), &d);
    if (d.verdict == POLICY_ACCEPT) {
        struct engine_job job = {.kind = req.kind, .resource = req.resource, .from_alert = true};
        struct engine_err eerr = {0};
        snprintf(job.container, sizeof(job.container), "%s", a.container);
        snprintf(job.fingerprint, sizeof(job.fingerprint), "%s", a.fingerprint);
        snprintf(job.alertname, sizeof(job.alertname), "%s", a.alertname);
        snprintf(job.duration, sizeof(job.duration), "%s", a.duration);
        snprintf(job.remote, sizeof(job.remote), "%s", in->remote);
        if (engine_submit(b->e, &job, &eerr) != ENGINE_OK) {
            d.verdict = POLICY_IGNORE;
            snprintf(d.reason, sizeof(d.reason), "%.140s; retry later", eerr.msg);
            rep->busy = true;
        }
    }
    rep->accepted = d.verdict == POLICY_ACCEPT;
    snprintf(rep->reason, sizeof(rep->reason), "%s",
             d.reason[0] ? d.reason : policy_kind_name(d.kind));
    if (rep->accepted && d.kind == POLICY_SCALE_OUT)
        rep->duration_ms = d.duration_ms;
out:
    rep->status = 200;
    metrics_alert(b->m, rep->accepted ? "accepted" : "ignored");
}

static void on_job_done(void *ud, const struct engine_result *res)
{
    struct job_ctx *jc = ud;
    struct ipc_reply rep = {.id = jc->id, .duration_ms = -1};

    rep.status = (uint16_t)http_engine_reply(res, &rep.body);
    send_reply(jc->b, &rep);
    free(rep.body);
    free(jc);
}

/* A manual scale or restart: queued; answered by on_job_done (or at once when not queued). */
static bool do_job(struct broker *b, const struct ipc_intent *in, struct ipc_reply *rep)
{
    struct engine_job job = {.kind = (enum policy_kind)in->kind,
                             .resource = (enum policy_resource)in->resource,
                             .force = in->flag};
    struct engine_err eerr = {0};
    struct job_ctx *jc = malloc(sizeof(*jc));

    snprintf(job.container, sizeof(job.container), "%s", in->container);
    snprintf(job.duration, sizeof(job.duration), "%s", in->duration);
    snprintf(job.remote, sizeof(job.remote), "%s", in->remote);
    if (!jc) {
        rep->status = 500;
        rep->body = http_error_json(500, "out of memory");
        return false;
    }
    *jc = (struct job_ctx){b, in->id};
    job.done = on_job_done;
    job.done_ud = jc;
    if (engine_submit(b->e, &job, &eerr) != ENGINE_OK) {
        free(jc);
        rep->status = 503;
        rep->body = http_error_json(503, eerr.msg);
        return false;
    }
    return true;
}

static void do_maintenance(struct broker *b, const struct ipc_intent *in, struct ipc_reply *rep)
{
    struct engine_err eerr = {0};

    if (engine_set_maintenance(b->e, in->container, in->flag, &eerr) != ENGINE_OK) {
        rep->status = 404;
        rep->body = http_error_json(404, eerr.msg);
        return;
    }
    rep->body = engine_state_json(b->e, in->container);
    rep->status = 200;
    if (!rep->body) {
        char msg[320];
        snprintf(msg, sizeof(msg), "no state for container %s", in->container);
        rep->status = 404;
        rep->body = http_error_json(404, msg);
    }
}

static void do_state(struct broker *b, const struct ipc_intent *in, struct ipc_reply *rep)
{
    rep->body = engine_state_json(b->e, in->container[0] ? in->container : NULL);
    rep->status = 200;
    if (!rep->body) {
        char msg[320];
        snprintf(msg, sizeof(msg), "no state for container %s (unknown or not managed)",
                 in->container);
        rep->status = 404;
        rep->body = http_error_json(404, msg);
    }
}

static void do_ready(struct broker *b, struct ipc_reply *rep)
{
    struct docker_engine de; /* the engine, its version, the API in use (docker-client) */
    bool ready = false;

    docker_client_engine(engine_docker_client(b->e), &de);
    rep->body = docker_engine_ready_json(&de, engine_ready(b->e), &ready);
    rep->status = rep->body ? (ready ? 200 : 503) : 500;
}

static void do_metrics(struct broker *b, struct ipc_reply *rep)
{
    struct metrics_gauges g;

    engine_gauges(b->e, &g);
    metrics_request(b->m, "metrics", 200); /* counted before rendering so a scrape sees itself */
    rep->body = metrics_render(b->m, &g, TRIP_VERSION);
    rep->status = rep->body ? 200 : 500;
}

static void do_actions(struct broker *b, const struct ipc_intent *in, struct ipc_reply *rep)
{
    struct actions *a = engine_actions(b->e);
    struct actions_query q = {in->since_seq, in->since_ms, in->limit};

    if (!a) {
        rep->status = 404;
        rep->body = http_error_json(404, "no action history kept");
        return;
    }
    rep->body = actions_query_json(a, &q);
    rep->status = rep->body ? 200 : 500;
}

/* Acts on one checked intent; false when it is answered later (a queued job) or never (a
 * counter). */
static bool handle(struct broker *b, const struct ipc_intent *in, struct ipc_reply *rep)
{
    switch (in->type) {
    case IPC_ALERT:
        do_alert(b, in, rep);
        return true;
    case IPC_JOB:
        return !do_job(b, in, rep);
    case IPC_MAINTENANCE:
        do_maintenance(b, in, rep);
        return true;
    case IPC_STATE:
        do_state(b, in, rep);
        return true;
    case IPC_READY:
        do_ready(b, rep);
        return true;
    case IPC_METRICS:
        do_metrics(b, rep);
        return true;
    case IPC_ACTIONS:
        do_actions(b, in, rep);
        return true;
    case IPC_COUNT_REQUEST:
        metrics_request(b->m, http_route_name(in->route), in->code);
        return false;
    case IPC_COUNT_REJECTED:
        metrics_http_rejected(b->m, "connections");
        return false;
    default:
        return false;
    }
}

/*
 * The alerts of one webhook arrive back to back (one write, http_ipc_call_many). While more wait
 * in the channel the engine's workers start nothing new (engine_hold): the whole batch is
 * decided and queued before their Docker calls compete with it for the engine's lock and the
 * CPU. Released as soon as the channel is drained, for any other intent, and after BATCH_MAX
 * alerts or BATCH_MS at the latest, so a steady stream of alerts never starves the workers.
 */
#define BATCH_MAX 4096
#define BATCH_MS 50

static void *reader_main(void *arg)
{
    struct broker *b = arg;
    bool held = false;
    int64_t held_at = 0;
    size_t batch = 0;

    for (;;) {
        uint8_t *msg = NULL, type = 0;
        size_t len = 0;
        uint32_t id = 0;
        struct ipc_err ierr = {0};
        struct ipc_intent in;
        char why[160];

        if (ipc_read(b->fd, IPC_MAX_INTENT, &msg, &len, &type, &id, &ierr) != IPC_OK ||
            ipc_decode_intent(msg, len, &in, &ierr) != IPC_OK ||
            broker_check(&in, why, sizeof(why)) != 0) {
            pthread_mutex_lock(&b->wlock);
            bool stopped = b->stopped;
            pthread_mutex_unlock(&b->wlock);
            if (ierr.code == IPC_E_EOF)
                log_debug("privsep channel closed by the HTTP process", "stopping=%s",
                          stopped ? "true" : "false");
            else if (!stopped)
                log_error("privsep: refused a message from the HTTP process; closing the channel",
                          "error=%s", ierr.code != IPC_OK ? ierr.msg : why);
            free(msg);
            flush_replies(b);
            if (held)
                engine_release(b->e);
            shutdown(b->fd, SHUT_RDWR);
            return NULL;
        }
        free(msg);
        bool alert = in.type == IPC_ALERT;
        if (held && (!alert || batch >= BATCH_MAX || clock_mono_ms() - held_at >= BATCH_MS)) {
            engine_release(b->e);
            held = false;
        }
        if (alert && !held && pending(b->fd)) {
            engine_hold(b->e);
            held = true;
            held_at = clock_mono_ms();
            batch = 0;
        }
        batch++;
        struct ipc_reply rep = {.id = in.id, .duration_ms = -1};
        bool answered = handle(b, &in, &rep);
        bool more = pending(b->fd); /* read once: it decides both the flush and the release */
        if (answered)
            reply(b, &rep, more);
        else if (!more)
            flush_replies(b);
        free(rep.body);
        if (held && !more) {
            engine_release(b->e);
            held = false;
        }
    }
}

struct broker *broker_start(const struct config *cfg, struct engine *e, struct metrics *m, int fd)
{
    struct broker *b = calloc(1, sizeof(*b));

    if (!b)
        return NULL;
    b->cfg = cfg;
    b->e = e;
    b->m = m;
    b->fd = fd;
    pthread_mutex_init(&b->wlock, NULL);
    if (pthread_create(&b->reader, NULL, reader_main, b) != 0) {
        pthread_mutex_destroy(&b->wlock);
        free(b);
        return NULL;
    }
    send_empty(b, IPC_START);
    return b;
}

void broker_quiesce(struct broker *b)
{
    if (b)
        send_empty(b, IPC_QUIESCE);
}

void broker_stop(struct broker *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->wlock);
    bool was = b->stopped;
    b->stopped = true;
    pthread_mutex_unlock(&b->wlock);
    if (was)
        return;
    shutdown(b->fd, SHUT_RDWR);
    pthread_join(b->reader, NULL);
}

void broker_free(struct broker *b)
{
    if (!b)
        return;
    broker_stop(b);
    close(b->fd);
    pthread_mutex_destroy(&b->wlock);
    free(b->out);
    free(b);
}
