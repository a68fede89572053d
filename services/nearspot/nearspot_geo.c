/* nearspot_geo.c: haversine distance, bounding boxes and query validation. */
#include "nearspot.h"

#include <math.h>

#include "svc_valid.h"

#define EARTH_RADIUS_KM 6371.0088
#define DEG (M_PI / 180.0)

double nearspot_haversine_km(double lat1, double lon1, double lat2, double lon2)
{
    double dlat = (lat2 - lat1) * DEG;
    double dlon = (lon2 - lon1) * DEG;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * DEG) * cos(lat2 * DEG) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * EARTH_RADIUS_KM * asin(fmin(1.0, sqrt(a)));
}

void nearspot_box(double lat, double lon, double radius_km, struct nearspot_box *box)
{
    double dlat = radius_km / EARTH_RADIUS_KM / DEG;

    box->lat_min = lat - dlat;
    box->lat_max = lat + dlat;
    box->lon_min[1] = 1;
    box->lon_max[1] = -1;
    if (box->lat_min <= -90 || box->lat_max >= 90) {
        box->lat_min = fmax(box->lat_min, -90);
        box->lat_max = fmin(box->lat_max, 90);
        box->lon_min[0] = -180;
        box->lon_max[0] = 180;
        return;
    }
    /* the widest longitude span of the circle (at the latitude where it is tangent) */
    double dlon = asin(fmin(1.0, sin(radius_km / EARTH_RADIUS_KM) / cos(lat * DEG))) / DEG;
    box->lon_min[0] = lon - dlon;
    box->lon_max[0] = lon + dlon;
    if (box->lon_min[0] < -180) {
        box->lon_min[1] = box->lon_min[0] + 360;
        box->lon_max[1] = 180;
        box->lon_min[0] = -180;
    } else if (box->lon_max[0] > 180) {
        box->lon_min[1] = -180;
        box->lon_max[1] = box->lon_max[0] - 360;
        box->lon_max[0] = 180;
    }
}

static bool category_valid(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++) {
        if (!((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_'))
            return false;
    }
    return n >= 1 && n <= 32;
}

bool nearspot_query_parse(const struct svc_req *req, struct nearspot_query *q,
                          struct svc_reply *rep)
{
    q->category = svc_req_query(req, "category");
    if (q->category && *q->category == '\0')
        q->category = NULL;
    if (!svc_query_double(req, "lat", true, 0, -90, 90, &q->lat, rep) ||
        !svc_query_double(req, "lon", true, 0, -180, 180, &q->lon, rep) ||
        !svc_query_double(req, "radius_km", false, NEARSPOT_RADIUS_DEFAULT_KM, 0,
                          NEARSPOT_RADIUS_MAX_KM, &q->radius_km, rep) ||
        !svc_query_int(req, "limit", 20, 1, NEARSPOT_LIMIT_MAX, &q->limit, rep))
        return false;
    if (q->radius_km <= 0) {
        svc_reply_error(rep, 400, "invalid_field", "radius_km: must be more than 0");
        return false;
    }
    if (q->category && !category_valid(q->category)) {
        svc_reply_error(rep, 400, "invalid_field", "category: only a-z and _, 1 to 32 long");
        return false;
    }
    return true;
}
