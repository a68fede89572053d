/* nearspot.c: GET /nearby. It reads place's table directly through a read-only grant
 * (docs/services.md says why): a range scan of the (lat, lon) index over the circle's bounding
 * box, then the exact haversine distance, the circle's filter and a sort, here. */
#include "nearspot.h"

#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_valid.h"

#define COLUMNS "id, name, category, address, lat, lon"
#define BOX_WHERE "lat BETWEEN ? AND ? AND (lon BETWEEN ? AND ? OR lon BETWEEN ? AND ?)"

/* Built once from PLACE_DB (checked to be [a-z0-9_]+ by svc_config). */
static char sql_box[512];
static char sql_box_cat[512];
static pthread_once_t sql_once = PTHREAD_ONCE_INIT;
static const char *place_db;

static void build_sql(void)
{
    snprintf(sql_box, sizeof(sql_box),
             "SELECT " COLUMNS " FROM %s.places WHERE " BOX_WHERE " LIMIT %d", place_db,
             NEARSPOT_CANDIDATES_MAX);
    snprintf(sql_box_cat, sizeof(sql_box_cat),
             "SELECT " COLUMNS " FROM %s.places WHERE " BOX_WHERE " AND category = ? LIMIT %d",
             place_db, NEARSPOT_CANDIDATES_MAX);
}

struct hit {
    double km;
    long long id;
    json_t *place;
};

struct search {
    const struct nearspot_query *q;
    struct hit *hits;
    size_t n, cap;
    bool oom;
};

static void on_row(void *arg, const struct svc_db_col *c)
{
    struct search *s = arg;
    double km = nearspot_haversine_km(s->q->lat, s->q->lon, c[4].d, c[5].d);

    if (km > s->q->radius_km || s->oom)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        struct hit *h = realloc(s->hits, cap * sizeof(*h));
        if (!h) {
            s->oom = true;
            return;
        }
        s->hits = h;
        s->cap = cap;
    }
    s->hits[s->n++] = (struct hit){
        km, c[0].i,
        json_pack("{s:I,s:s,s:s,s:s,s:f,s:f,s:f}", "id", (json_int_t)c[0].i, "name", c[1].buf,
                  "category", c[2].buf, "address", c[3].buf, "lat", c[4].d, "lon", c[5].d,
                  "distance_km", (double)(long long)(km * 1000 + 0.5) / 1000)};
}

static int by_distance(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    if (x->km != y->km)
        return x->km < y->km ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static enum svc_db_status query_box(struct svc_db_conn *c, struct search *s, struct svc_db_err *err)
{
    char name[481], category[33], address[801];
    struct svc_db_col cols[6] = {
        {.type = SVC_DB_INT},
        {.type = SVC_DB_TEXT, .buf = name, .cap = sizeof(name)},
        {.type = SVC_DB_TEXT, .buf = category, .cap = sizeof(category)},
        {.type = SVC_DB_TEXT, .buf = address, .cap = sizeof(address)},
        {.type = SVC_DB_DOUBLE},
        {.type = SVC_DB_DOUBLE},
    };
    struct nearspot_box b;

    nearspot_box(s->q->lat, s->q->lon, s->q->radius_km, &b);
    struct svc_db_val v[7] = {svc_db_double(b.lat_min),
                              svc_db_double(b.lat_max),
                              svc_db_double(b.lon_min[0]),
                              svc_db_double(b.lon_max[0]),
                              svc_db_double(b.lon_min[1]),
                              svc_db_double(b.lon_max[1]),
                              svc_db_text(s->q->category ? s->q->category : "")};
    return svc_db_exec(c, s->q->category ? sql_box_cat : sql_box, v, s->q->category ? 7 : 6, cols,
                       6, on_row, s, NULL, err);
}

static void nearby(struct svc_req *req, struct svc_reply *rep)
{
    struct svc_app *app = req->app;
    struct nearspot_query q;
    struct svc_db_err err = {0};
    struct search s = {.q = &q};

    if (!nearspot_query_parse(req, &q, rep))
        return;
    place_db = app->cfg.place_db;
    pthread_once(&sql_once, build_sql);
    struct svc_db_conn *c = svc_app_db(app, rep);
    if (!c)
        return;
    enum svc_db_status st = query_box(c, &s, &err);
    svc_db_release(c);
    if (st == SVC_DB_OK && !s.oom) {
        qsort(s.hits, s.n, sizeof(*s.hits), by_distance);
        json_t *items = json_array();
        for (size_t i = 0; i < s.n && i < (size_t)q.limit; i++)
            json_array_append(items, s.hits[i].place);
        svc_reply_json(rep, 200,
                       json_pack("{s:f,s:f,s:f,s:I,s:o}", "lat", q.lat, "lon", q.lon, "radius_km",
                                 q.radius_km, "total", (json_int_t)s.n, "items", items));
    } else if (s.oom) {
        svc_reply_error(rep, 500, "internal", "out of memory");
    } else if (err.errnum == ER_NO_SUCH_TABLE) {
        svc_reply_error(rep, 503, "places_not_ready", "place has not created its table yet");
    } else {
        svc_reply_db_error(rep, &err);
    }
    for (size_t i = 0; i < s.n; i++)
        json_decref(s.hits[i].place);
    free(s.hits);
}

static const struct svc_route routes[] = {
    {"GET", "/nearby", nearby},
};

const struct svc_service nearspot_service = {"nearspot", routes, sizeof(routes) / sizeof(routes[0]),
                                             NULL, 0};
