/* svc_metrics.c: Prometheus exposition.
 *
 * DESIGN: every counter is an atomic updated by the HTTP threads; render reads them without a
 * lock (each series is consistent on its own, as Prometheus expects of a scrape).
 */
#include "svc_metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int codes[] = {200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 500, 503};
#define NCODES (sizeof(codes) / sizeof(codes[0]))
static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
static const char *const peers[] = {"user", "place"};
static const char *const outcomes[] = {"ok", "error", "down"};

struct route_series {
    atomic_ullong by_code[NCODES + 1]; /* last: any other code */
    atomic_ullong other_code;          /* the last "other" code seen */
    atomic_ullong le[NBUCKETS];
    atomic_ullong count;
    atomic_ullong sum_us;
};

struct svc_metrics {
    const char *const *labels;
    const char *const *methods;
    size_t n;
    atomic_ullong peer[2][3];
    struct route_series s[];
};

struct svc_metrics *svc_metrics_new(const char *const *routes, const char *const *methods,
                                    size_t nroutes)
{
    struct svc_metrics *m = calloc(1, sizeof(*m) + nroutes * sizeof(struct route_series));
    if (!m)
        return NULL;
    m->labels = routes;
    m->methods = methods;
    m->n = nroutes;
    return m;
}

void svc_metrics_free(struct svc_metrics *m)
{
    free(m);
}

void svc_metrics_observe(struct svc_metrics *m, size_t route, int status, double seconds)
{
    if (!m || route >= m->n)
        return;
    struct route_series *s = &m->s[route];
    size_t i = 0;
    while (i < NCODES && codes[i] != status)
        i++;
    if (i == NCODES)
        atomic_store(&s->other_code, (unsigned long long)status);
    atomic_fetch_add(&s->by_code[i], 1);
    for (size_t b = 0; b < NBUCKETS; b++) {
        if (seconds <= buckets[b])
            atomic_fetch_add(&s->le[b], 1);
    }
    atomic_fetch_add(&s->count, 1);
    atomic_fetch_add(&s->sum_us, (unsigned long long)(seconds * 1e6));
}

void svc_metrics_peer(struct svc_metrics *m, const char *peer, const char *outcome)
{
    for (size_t p = 0; m && p < 2; p++) {
        for (size_t o = 0; o < 3; o++) {
            if (strcmp(peers[p], peer) == 0 && strcmp(outcomes[o], outcome) == 0)
                atomic_fetch_add(&m->peer[p][o], 1);
        }
    }
}

static void render_routes(struct svc_metrics *m, FILE *f)
{
    fputs("# HELP http_requests_total HTTP requests answered, by route pattern and status code.\n"
          "# TYPE http_requests_total counter\n",
          f);
    for (size_t r = 0; r < m->n; r++) {
        for (size_t i = 0; i <= NCODES; i++) {
            unsigned long long v = atomic_load(&m->s[r].by_code[i]);
            int code = i < NCODES ? codes[i] : (int)atomic_load(&m->s[r].other_code);
            if (v)
                fprintf(f, "http_requests_total{route=\"%s\",method=\"%s\",code=\"%d\"} %llu\n",
                        m->labels[r], m->methods[r], code, v);
        }
    }
    fputs("# HELP http_request_duration_seconds Time from the request's first byte to its answer.\n"
          "# TYPE http_request_duration_seconds histogram\n",
          f);
    for (size_t r = 0; r < m->n; r++) {
        struct route_series *s = &m->s[r];
        for (size_t b = 0; b < NBUCKETS; b++)
            fprintf(
                f,
                "http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"%g\"} %llu\n",
                m->labels[r], m->methods[r], buckets[b], atomic_load(&s->le[b]));
        unsigned long long count = atomic_load(&s->count);
        fprintf(
            f,
            "http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"+Inf\"} %llu\n",
            m->labels[r], m->methods[r], count);
        fprintf(f, "http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %.6f\n",
                m->labels[r], m->methods[r], (double)atomic_load(&s->sum_us) / 1e6);
        fprintf(f, "http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} %llu\n",
                m->labels[r], m->methods[r], count);
    }
}

static void render_pool(struct svc_db_pool *db, FILE *f)
{
    struct svc_db_stats st;

    svc_db_stats(db, &st);
    fprintf(f,
            "# HELP db_pool_connections Database connections by state.\n"
            "# TYPE db_pool_connections gauge\n"
            "db_pool_connections{state=\"in_use\"} %d\n"
            "db_pool_connections{state=\"idle\"} %d\n"
            "# HELP db_pool_max_connections The pool's bound (DB_POOL).\n"
            "# TYPE db_pool_max_connections gauge\ndb_pool_max_connections %d\n"
            "# HELP db_pool_waiting Requests waiting for a free connection.\n"
            "# TYPE db_pool_waiting gauge\ndb_pool_waiting %d\n"
            "# HELP db_query_errors_total Statements that failed (duplicate keys excluded).\n"
            "# TYPE db_query_errors_total counter\ndb_query_errors_total %llu\n"
            "# HELP db_connect_errors_total Failed attempts to open a connection.\n"
            "# TYPE db_connect_errors_total counter\ndb_connect_errors_total %llu\n"
            "# HELP db_pool_timeouts_total Requests that found every connection busy.\n"
            "# TYPE db_pool_timeouts_total counter\ndb_pool_timeouts_total %llu\n",
            st.in_use, st.open - st.in_use > 0 ? st.open - st.in_use : 0, st.size, st.waiting,
            st.query_errors, st.connect_errors, st.acquire_timeouts);
}

char *svc_metrics_render(struct svc_metrics *m, struct svc_db_pool *db)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    render_routes(m, f);
    if (db)
        render_pool(db, f);
    fputs("# HELP peer_requests_total Calls to other services, by peer and outcome.\n"
          "# TYPE peer_requests_total counter\n",
          f);
    for (size_t p = 0; p < 2; p++) {
        for (size_t o = 0; o < 3; o++)
            fprintf(f, "peer_requests_total{peer=\"%s\",outcome=\"%s\"} %llu\n", peers[p],
                    outcomes[o], atomic_load(&m->peer[p][o]));
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
