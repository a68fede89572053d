/* nearspot.h: the nearspot service: places within R km of a point, nearest first. */
#ifndef NEARSPOT_H
#define NEARSPOT_H

#include <stdbool.h>

#include "svc_app.h"

#define NEARSPOT_RADIUS_MAX_KM 50.0
#define NEARSPOT_RADIUS_DEFAULT_KM 5.0
#define NEARSPOT_LIMIT_MAX 100

extern const struct svc_service nearspot_service;

/* A search: the point, the radius, how many, and an optional category. */
struct nearspot_query {
    double lat, lon, radius_km;
    long long limit;
    const char *category; /* NULL: any */
};

/* The bounding box of a circle: lat_min..lat_max and one or two longitude ranges (two when the
 * circle crosses the antimeridian; the second is empty, min > max, otherwise). */
struct nearspot_box {
    double lat_min, lat_max;
    double lon_min[2], lon_max[2];
};

/* Validates GET /nearby's query: lat, lon required; radius_km in (0, 50], default 5; limit
 * 1..NEARSPOT_LIMIT_MAX, default 20; category as place's. False with rep set to 400. Pure. */
bool nearspot_query_parse(const struct svc_req *req, struct nearspot_query *q,
                          struct svc_reply *rep);

/* Great-circle distance in km on a sphere of radius 6371.0088 km (haversine). Pure. */
double nearspot_haversine_km(double lat1, double lon1, double lat2, double lon2);

/* The box holding every point within radius_km of (lat, lon); near a pole, every longitude.
 * Pure. */
void nearspot_box(double lat, double lon, double radius_km, struct nearspot_box *box);

#endif
