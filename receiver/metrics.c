/* metrics.c: fixed-size series tables rendered as Prometheus text format 0.0.4. */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))
/* an action's phases take from tens of microseconds (a queue wait) to tens of milliseconds */
static const double phase_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                       0.025,  0.05,    0.1,    0.25,  0.5,    1,     5};
#define N_PHASE_BUCKETS (sizeof(phase_buckets) / sizeof(phase_buckets[0]))

struct phase_hist {
    char phase[24];
    uint64_t bucket[N_PHASE_BUCKETS];
    uint64_t count;
    double sum;
};

struct series {
    char a[40];
    char b[40];
    uint64_t count;
};

struct family {
    struct series v[METRICS_MAX_SERIES];
    size_t n;
};

struct hist {
    char kind[40];
    uint64_t bucket[N_BUCKETS];
    uint64_t count;
    double sum;
};

struct metrics {
    pthread_mutex_t lock;
    struct family requests; /* route, code */
    struct family rejected; /* reason */
    struct family actions;  /* kind, result */
    struct family docker;   /* code */
    struct family alerts;   /* result */
    struct family heals;    /* trigger, result */
    struct family ooms;     /* result */
    struct hist hist[16];
    size_t n_hist;
    struct hist heal_latency;
    struct phase_hist phase[METRICS_MAX_PHASES];
    size_t n_phase;
    int events_up;
    uint64_t events_connects;
};

static void bump(struct family *f, const char *a, const char *b);

struct metrics *metrics_new(void)
{
    struct metrics *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    /* shown at 0 from the start, so an alert on its rate has a series to watch */
    bump(&m->rejected, "connections", "");
    m->rejected.v[0].count = 0;
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Called with the lock held. */
static void bump(struct family *f, const char *a, const char *b)
{
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->v[i].a, a) == 0 && strcmp(f->v[i].b, b) == 0) {
            f->v[i].count++;
            return;
        }
    }
    if (f->n >= METRICS_MAX_SERIES - 1) {
        if (f->n == METRICS_MAX_SERIES) {
            f->v[f->n - 1].count++; /* the "other" series */
            return;
        }
        a = "other";
        b = "other";
    }
    snprintf(f->v[f->n].a, sizeof(f->v[0].a), "%s", a);
    snprintf(f->v[f->n].b, sizeof(f->v[0].b), "%s", b);
    f->v[f->n].count = 1;
    f->n++;
}

void metrics_http_rejected(struct metrics *m, const char *reason)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    bump(&m->rejected, reason, "");
    pthread_mutex_unlock(&m->lock);
}

void metrics_request(struct metrics *m, const char *route, int code)
{
    char c[8];

    if (!m)
        return;
    snprintf(c, sizeof(c), "%d", code);
    pthread_mutex_lock(&m->lock);
    bump(&m->requests, route, c);
    pthread_mutex_unlock(&m->lock);
}

static void observe(struct metrics *m, const char *kind, double seconds)
{
    struct hist *h = NULL;

    for (size_t i = 0; i < m->n_hist && !h; i++) {
        if (strcmp(m->hist[i].kind, kind) == 0)
            h = &m->hist[i];
    }
    if (!h && m->n_hist < sizeof(m->hist) / sizeof(m->hist[0])) {
        h = &m->hist[m->n_hist++];
        snprintf(h->kind, sizeof(h->kind), "%s", kind);
    }
    if (!h)
        return;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        if (seconds <= buckets[i])
            h->bucket[i]++;
    }
    h->count++;
    h->sum += seconds;
}

void metrics_action(struct metrics *m, const char *kind, const char *result, double seconds)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    bump(&m->actions, kind, result);
    if (strcmp(result, "skipped") != 0)
        observe(m, kind, seconds);
    pthread_mutex_unlock(&m->lock);
}

void metrics_phase(struct metrics *m, const char *phase, double seconds)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    struct phase_hist *h = NULL;
    for (size_t i = 0; i < m->n_phase && !h; i++) {
        if (strcmp(m->phase[i].phase, phase) == 0)
            h = &m->phase[i];
    }
    if (!h && m->n_phase < METRICS_MAX_PHASES) {
        h = &m->phase[m->n_phase++];
        snprintf(h->phase, sizeof(h->phase), "%s", phase);
    }
    if (h) {
        for (size_t i = 0; i < N_PHASE_BUCKETS; i++) {
            if (seconds <= phase_buckets[i])
                h->bucket[i]++;
        }
        h->count++;
        h->sum += seconds;
    }
    pthread_mutex_unlock(&m->lock);
}

static void phase_out(FILE *f, const struct metrics *m)
{
    const char *name = "trip_action_phase_seconds";

    fprintf(f,
            "# HELP %s Where an action's time goes: the queue wait, the inspect, the write-ahead "
            "claim's save, the Docker call, the final save.\n# TYPE %s histogram\n",
            name, name);
    for (size_t i = 0; i < m->n_phase; i++) {
        const struct phase_hist *h = &m->phase[i];
        for (size_t b = 0; b < N_PHASE_BUCKETS; b++)
            fprintf(f, "%s_bucket{phase=\"%s\",le=\"%g\"} %llu\n", name, h->phase,
                    phase_buckets[b], (unsigned long long)h->bucket[b]);
        fprintf(f, "%s_bucket{phase=\"%s\",le=\"+Inf\"} %llu\n", name, h->phase,
                (unsigned long long)h->count);
        fprintf(f, "%s_sum{phase=\"%s\"} %.6f\n", name, h->phase, h->sum);
        fprintf(f, "%s_count{phase=\"%s\"} %llu\n", name, h->phase, (unsigned long long)h->count);
    }
}

void metrics_docker_error(struct metrics *m, const char *code)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    bump(&m->docker, code, "");
    pthread_mutex_unlock(&m->lock);
}

void metrics_alert(struct metrics *m, const char *result)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    bump(&m->alerts, result, "");
    pthread_mutex_unlock(&m->lock);
}

void metrics_oom(struct metrics *m, const char *result)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    bump(&m->ooms, result, "");
    pthread_mutex_unlock(&m->lock);
}

void metrics_heal(struct metrics *m, const char *trigger, const char *result, double latency_s)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    bump(&m->heals, trigger, result);
    if (strcmp(result, "ok") == 0) {
        struct hist *h = &m->heal_latency;
        for (size_t i = 0; i < N_BUCKETS; i++) {
            if (latency_s <= buckets[i])
                h->bucket[i]++;
        }
        h->count++;
        h->sum += latency_s;
    }
    pthread_mutex_unlock(&m->lock);
}

void metrics_events_connected(struct metrics *m, int up)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->events_up = up;
    if (up)
        m->events_connects++;
    pthread_mutex_unlock(&m->lock);
}

static void heal_out(FILE *f, const struct metrics *m)
{
    const char *name = "trip_heal_latency_seconds";
    const struct hist *h = &m->heal_latency;

    fprintf(f,
            "# HELP %s From Docker's die event to the container started again by a heal.\n"
            "# TYPE %s histogram\n",
            name, name);
    for (size_t b = 0; b < N_BUCKETS; b++)
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, buckets[b],
                (unsigned long long)h->bucket[b]);
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
    fprintf(f, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
    fprintf(f,
            "# HELP trip_events_connected Whether the Docker events stream is connected.\n"
            "# TYPE trip_events_connected gauge\ntrip_events_connected %d\n"
            "# HELP trip_events_connects_total Docker events stream (re)connections.\n"
            "# TYPE trip_events_connects_total counter\ntrip_events_connects_total %llu\n",
            m->events_up, (unsigned long long)m->events_connects);
}

static void family_out(FILE *f, const char *name, const char *help, const struct family *fam,
                       const char *la, const char *lb)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (size_t i = 0; i < fam->n; i++) {
        if (lb)
            fprintf(f, "%s{%s=\"%s\",%s=\"%s\"} %llu\n", name, la, fam->v[i].a, lb, fam->v[i].b,
                    (unsigned long long)fam->v[i].count);
        else
            fprintf(f, "%s{%s=\"%s\"} %llu\n", name, la, fam->v[i].a,
                    (unsigned long long)fam->v[i].count);
    }
}

static void hist_out(FILE *f, const struct metrics *m)
{
    const char *name = "trip_action_duration_seconds";

    fprintf(f, "# HELP %s Time taken by Docker actions (inspect + change).\n# TYPE %s histogram\n",
            name, name);
    for (size_t i = 0; i < m->n_hist; i++) {
        const struct hist *h = &m->hist[i];
        for (size_t b = 0; b < N_BUCKETS; b++)
            fprintf(f, "%s_bucket{kind=\"%s\",le=\"%g\"} %llu\n", name, h->kind, buckets[b],
                    (unsigned long long)h->bucket[b]);
        fprintf(f, "%s_bucket{kind=\"%s\",le=\"+Inf\"} %llu\n", name, h->kind,
                (unsigned long long)h->count);
        fprintf(f, "%s_sum{kind=\"%s\"} %.6f\n", name, h->kind, h->sum);
        fprintf(f, "%s_count{kind=\"%s\"} %llu\n", name, h->kind, (unsigned long long)h->count);
    }
}

static void gauge_out(FILE *f, const char *name, const char *help, const char *labels, int64_t v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s%s %lld\n", name, help, name, name, labels,
            (long long)v);
}

char *metrics_render(struct metrics *m, const struct metrics_gauges *g, const char *version)
{
    char *buf = NULL;
    size_t len = 0;
    char labels[96];
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    snprintf(labels, sizeof(labels), "{version=\"%s\"}", version);
    gauge_out(f, "trip_build_info", "Build of trip-receiver.", labels, 1);
    gauge_out(f, "trip_docker_up", "Whether the last Docker refresh succeeded.", "",
              g ? g->ready : 0);
    gauge_out(f, "trip_managed_containers", "Managed containers seen by the last refresh.", "",
              g ? g->managed : 0);
    fprintf(f, "# HELP trip_scaled_out_containers Containers and Swarm services currently scaled "
               "out, by resource.\n"
               "# TYPE trip_scaled_out_containers gauge\n");
    for (size_t i = 0; g && i < g->n_scaled_out && i < METRICS_MAX_RESOURCES; i++)
        fprintf(f, "trip_scaled_out_containers{resource=\"%s\"} %lld\n", g->scaled_out[i].resource,
                (long long)g->scaled_out[i].n);
    gauge_out(f, "trip_crashloop_containers",
              "Containers whose heals keep failing quickly (crash-looping).", "",
              g ? g->crashloop : 0);
    gauge_out(f, "trip_maintenance_containers", "Containers in maintenance (no heal, no scaling).",
              "", g ? g->maintenance : 0);
    gauge_out(
        f, "trip_oom_at_limit_containers",
        "Containers OOM-killed at their largest allowed memory limit (nothing left to raise).", "",
        g ? g->oom_at_limit : 0);
    if (m) {
        pthread_mutex_lock(&m->lock);
        family_out(f, "trip_http_requests_total", "HTTP requests by route and status code.",
                   &m->requests, "route", "code");
        family_out(f, "trip_http_rejected_total",
                   "HTTP connections refused before any handler ran, by reason.", &m->rejected,
                   "reason", NULL);
        family_out(f, "trip_actions_total", "Engine actions by kind and result.", &m->actions,
                   "kind", "result");
        family_out(f, "trip_docker_errors_total", "Failed Docker API calls by error code.",
                   &m->docker, "code", NULL);
        family_out(f, "trip_webhook_alerts_total", "Webhook alerts by outcome.", &m->alerts,
                   "result", NULL);
        family_out(f, "trip_heals_total", "Event-driven heals by trigger and result.", &m->heals,
                   "trigger", "result");
        family_out(f, "trip_oom_total", "Docker oom events of managed containers, by outcome.",
                   &m->ooms, "result", NULL);
        hist_out(f, m);
        phase_out(f, m);
        heal_out(f, m);
        pthread_mutex_unlock(&m->lock);
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
