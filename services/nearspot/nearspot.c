/* nearspot.c: GET /nearby, answered from memory. A refresher thread keeps an index of place's
 * table (nearspot_index), read through a read-only grant (docs/services.md says why): every
 * second it reads the table's signature (row count, largest id, sum of updated_at) and, when it
 * changed, loads the whole table into a new index and swaps it in. A search takes no database
 * connection: a crowd of users makes nearspot CPU-bound, not db-mysql.
 *
 * DESIGN: `mu` guards `cur` and every snapshot's `refs`. A request takes a reference to the
 * current snapshot under mu, searches it without the lock, and drops the reference under mu;
 * the last reference to a snapshot that is no longer current frees it. Only the refresher
 * thread builds snapshots and replaces `cur`. The counters are atomics read by /metrics.
 */
#include "nearspot.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nearspot_index.h"
#include "svc_log.h"

#define POLL_MS 1000

/* Built once at start from PLACE_DB (checked to be [a-z0-9_]+ by svc_config), before any
 * thread exists; read-only afterwards. */
static char sql_signature[320];
static char sql_load[256];

static void init(const struct svc_config *cfg)
{
    /* Memory (nearspot idles under 10 MiB): blocks of 64 KiB and more (an index's arrays, a
     * load's buffers) are mmapped, so each goes back to the system when freed, and the
     * threshold stays fixed (glibc raises it to the largest block freed otherwise, leaving the
     * next index in a heap that keeps its pages); two malloc arenas for all threads instead of
     * one per thread up to 8 per core, each keeping its own free pages. */
    mallopt(M_MMAP_THRESHOLD, 64 * 1024);
    mallopt(M_ARENA_MAX, 2);

    snprintf(sql_signature, sizeof(sql_signature),
             "SELECT COUNT(*), COALESCE(MAX(id), 0),"
             " CAST(COALESCE(SUM(UNIX_TIMESTAMP(updated_at)), 0) AS CHAR),"
             " COALESCE(SUM(LENGTH(name) + LENGTH(category) + LENGTH(address) + 3), 0)"
             " FROM %s.places",
             cfg->place_db);
    snprintf(sql_load, sizeof(sql_load),
             "SELECT id, name, category, address, lat, lon FROM %s.places", cfg->place_db);
}

struct snapshot {
    struct nearspot_index *ix;
    int refs;
    char signature[96];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct snapshot *cur; /* guarded by mu */
static bool stopping;        /* guarded by mu */
static pthread_t refresher;

static atomic_ullong n_places, n_bytes, n_reloads, n_errors;
static atomic_llong fresh_at_ms; /* CLOCK_MONOTONIC ms of the last signature read, 0: never */

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static struct snapshot *snapshot_take(void)
{
    pthread_mutex_lock(&mu);
    struct snapshot *s = cur;
    if (s)
        s->refs++;
    pthread_mutex_unlock(&mu);
    return s;
}

static void snapshot_drop(struct snapshot *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&mu);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&mu);
    if (last) {
        nearspot_index_free(s->ix);
        free(s);
    }
}

/* Makes s current; the previous snapshot goes when its last reader is done. */
static void snapshot_publish(struct snapshot *s)
{
    s->refs = 1; /* the reference `cur` holds */
    pthread_mutex_lock(&mu);
    struct snapshot *old = cur;
    cur = s;
    pthread_mutex_unlock(&mu);
    snapshot_drop(old);
}

/* The table's signature (count, largest id, sum of updated_at) and its size. */
struct signature {
    char text[96];
    long long rows, string_bytes;
};

static void on_signature(void *arg, const struct svc_db_col *c)
{
    struct signature *sig = arg;
    snprintf(sig->text, sizeof(sig->text), "%lld/%lld/%s", c[0].i, c[1].i, c[2].buf);
    sig->rows = c[0].i;
    sig->string_bytes = c[3].i;
}

static void on_place(void *arg, const struct svc_db_col *c)
{
    struct snapshot *s = arg;
    if (s->ix && !nearspot_index_add(s->ix, c[0].i, c[1].buf, c[2].buf, c[3].buf, c[4].d, c[5].d)) {
        nearspot_index_free(s->ix);
        s->ix = NULL;
    }
}

/* Reads the table into a new snapshot; NULL (err set) on failure. */
static struct snapshot *load(struct svc_db_conn *c, const struct signature *sig,
                             struct svc_db_err *err)
{
    char name[481], category[129], address[801];
    struct svc_db_col cols[6] = {
        {.type = SVC_DB_INT},
        {.type = SVC_DB_TEXT, .buf = name, .cap = sizeof(name)},
        {.type = SVC_DB_TEXT, .buf = category, .cap = sizeof(category)},
        {.type = SVC_DB_TEXT, .buf = address, .cap = sizeof(address)},
        {.type = SVC_DB_DOUBLE},
        {.type = SVC_DB_DOUBLE},
    };
    struct snapshot *s = calloc(1, sizeof(*s));

    if (s)
        s->ix = nearspot_index_new();
    /* room for what the signature counted, and a little more for rows added since */
    if (s && s->ix &&
        !nearspot_index_reserve(s->ix, (size_t)sig->rows + 64,
                                (size_t)sig->string_bytes + 64 * 1024)) {
        nearspot_index_free(s->ix);
        s->ix = NULL;
    }
    if (!s || !s->ix) {
        free(s);
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return NULL;
    }
    if (svc_db_exec(c, sql_load, NULL, 0, cols, 6, on_place, s, NULL, err) != SVC_DB_OK ||
        !s->ix) {
        if (!s->ix)
            snprintf(err->msg, sizeof(err->msg), "out of memory");
        nearspot_index_free(s->ix);
        free(s);
        return NULL;
    }
    snprintf(s->signature, sizeof(s->signature), "%s", sig->text);
    nearspot_index_finish(s->ix);
    return s;
}

/* One poll: the signature, and the table when it changed. False (err set) on failure. */
static bool refresh(struct svc_app *app, struct svc_db_err *err)
{
    struct signature sig = {.text = ""};
    char sum[64];
    struct svc_db_col cols[4] = {
        {.type = SVC_DB_INT},
        {.type = SVC_DB_INT},
        {.type = SVC_DB_TEXT, .buf = sum, .cap = sizeof(sum)},
        {.type = SVC_DB_INT},
    };
    struct svc_db_conn *c = svc_db_acquire(app->db, SVC_DB_WAIT_MS, err);

    if (!c)
        return false;
    if (svc_db_exec(c, sql_signature, NULL, 0, cols, 4, on_signature, &sig, NULL, err) !=
        SVC_DB_OK) {
        svc_db_release(c);
        return false;
    }
    struct snapshot *s = snapshot_take();
    bool same = s && strcmp(s->signature, sig.text) == 0;
    snapshot_drop(s);
    if (same) {
        svc_db_release(c);
        atomic_store(&fresh_at_ms, now_ms());
        return true;
    }
    long long t0 = now_ms();
    s = load(c, &sig, err);
    svc_db_release(c);
    if (!s)
        return false;
    atomic_store(&n_places, nearspot_index_size(s->ix));
    atomic_store(&n_bytes, nearspot_index_bytes(s->ix));
    atomic_fetch_add(&n_reloads, 1);
    svc_log_info("index loaded", "places=%zu bytes=%zu ms=%lld", nearspot_index_size(s->ix),
                 nearspot_index_bytes(s->ix), now_ms() - t0);
    snapshot_publish(s);
    /* the previous index (when no search holds it any more) and the load's buffers go back to
     * the system instead of staying in this thread's malloc arena */
    malloc_trim(0);
    atomic_store(&fresh_at_ms, now_ms());
    return true;
}

static void *refresh_loop(void *arg)
{
    struct svc_app *app = arg;
    bool failing = false;
    char q[300];

    pthread_mutex_lock(&mu);
    while (!stopping) {
        pthread_mutex_unlock(&mu);
        struct svc_db_err err = {0};
        bool ok = refresh(app, &err);
        if (!ok) {
            atomic_fetch_add(&n_errors, 1);
            if (!failing)
                svc_log_warn("index refresh failed, serving the last index", "error=%s",
                             svc_log_quote(q, sizeof(q), err.msg));
        } else if (failing) {
            svc_log_info("index refresh works again", "place_db=%s", app->cfg.place_db);
        }
        failing = !ok;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += POLL_MS / 1000;
        pthread_mutex_lock(&mu);
        if (!stopping)
            pthread_cond_timedwait(&wake, &mu, &until);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

static bool start(struct svc_app *app)
{
    return pthread_create(&refresher, NULL, refresh_loop, app) == 0;
}

static void stop(void)
{
    pthread_mutex_lock(&mu);
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&mu);
    pthread_join(refresher, NULL);
    pthread_mutex_lock(&mu);
    struct snapshot *s = cur;
    cur = NULL;
    pthread_mutex_unlock(&mu);
    snapshot_drop(s);
}

static bool ready(struct svc_app *app, struct svc_reply *rep)
{
    (void)app;
    if (atomic_load(&fresh_at_ms) == 0) {
        svc_reply_error(rep, 503, "index_loading", "the index of places is not loaded yet");
        return false;
    }
    return true;
}

static char *metrics(void)
{
    long long fresh = atomic_load(&fresh_at_ms);
    double age = fresh ? (double)(now_ms() - fresh) / 1000 : -1;
    char *text = malloc(1024);

    if (!text)
        return NULL;
    snprintf(text, 1024,
             "# HELP nearspot_index_places Places in the in-memory index.\n"
             "# TYPE nearspot_index_places gauge\nnearspot_index_places %llu\n"
             "# HELP nearspot_index_bytes Bytes the index holds.\n"
             "# TYPE nearspot_index_bytes gauge\nnearspot_index_bytes %llu\n"
             "# HELP nearspot_index_age_seconds Seconds since the index was last found current "
             "(-1: never loaded).\n"
             "# TYPE nearspot_index_age_seconds gauge\nnearspot_index_age_seconds %.3f\n"
             "# HELP nearspot_index_reloads_total Loads of place's table.\n"
             "# TYPE nearspot_index_reloads_total counter\nnearspot_index_reloads_total %llu\n"
             "# HELP nearspot_index_refresh_errors_total Polls that failed.\n"
             "# TYPE nearspot_index_refresh_errors_total counter\n"
             "nearspot_index_refresh_errors_total %llu\n",
             atomic_load(&n_places), atomic_load(&n_bytes), age, atomic_load(&n_reloads),
             atomic_load(&n_errors));
    return text;
}

static json_t *hit_json(const struct nearspot_hit *h)
{
    return json_pack("{s:I,s:s,s:s,s:s,s:f,s:f,s:f}", "id", (json_int_t)h->id, "name", h->name,
                     "category", h->category, "address", h->address, "lat", h->lat, "lon",
                     h->lon, "distance_km", (double)(long long)(h->km * 1000 + 0.5) / 1000);
}

static void nearby(struct svc_req *req, struct svc_reply *rep)
{
    struct nearspot_query q;
    struct nearspot_hit hits[NEARSPOT_LIMIT_MAX];
    size_t total;

    if (!nearspot_query_parse(req, &q, rep))
        return;
    struct snapshot *s = snapshot_take();
    if (!s) {
        svc_reply_error(rep, 503, "places_not_ready", "the index of places is not loaded yet");
        return;
    }
    size_t n = nearspot_index_search(s->ix, &q, hits, (size_t)q.limit, &total);
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, hit_json(&hits[i]));
    snapshot_drop(s);
    svc_reply_json(rep, 200,
                   json_pack("{s:f,s:f,s:f,s:I,s:o}", "lat", q.lat, "lon", q.lon, "radius_km",
                             q.radius_km, "total", (json_int_t)total, "items", items));
}

static const struct svc_route routes[] = {
    {"GET", "/nearby", nearby},
};

const struct svc_service nearspot_service = {
    .name = "nearspot",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .init = init,
    .start = start,
    .stop = stop,
    .ready = ready,
    .metrics = metrics,
};
