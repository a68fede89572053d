/* test_nearspot_geo.c: haversine distances, bounding boxes and GET /nearby's query. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "nearspot.h"
#include "svc_rand.h"

/* In double precision: cmocka 1.1's assert_float_equal converts to float (7 digits). */
#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

static void haversine_matches_known_distances(void **state)
{
    (void)state;
    assert_near(nearspot_haversine_km(48.8566, 2.3522, 48.8566, 2.3522), 0, 1e-9);
    /* Paris - London: 343.5 km on the mean-radius sphere */
    assert_near(nearspot_haversine_km(48.8566, 2.3522, 51.5074, -0.1278), 343.5, 0.5);
    /* one degree of latitude */
    assert_near(nearspot_haversine_km(0, 0, 1, 0), 111.195, 0.001);
    /* across the antimeridian: 0.2 degrees of longitude on the equator */
    assert_near(nearspot_haversine_km(0, 179.9, 0, -179.9), 22.239, 0.001);
    /* antipodes: half the circumference, no NaN from rounding */
    assert_near(nearspot_haversine_km(0, 0, 0, 180), M_PI * 6371.0088, 1e-6);
}

static bool inside(const struct nearspot_box *b, double lat, double lon)
{
    if (lat < b->lat_min || lat > b->lat_max)
        return false;
    for (int i = 0; i < 2; i++) {
        if (lon >= b->lon_min[i] && lon <= b->lon_max[i])
            return true;
    }
    return false;
}

/* Every point of the circle lies in the box: the prefilter never drops a true hit. */
static void boxes_hold_every_point_of_the_circle(void **state)
{
    const double centres[][2] = {{48.8566, 2.3522}, {0, 179.99},  {0, -179.99}, {-33.9, 151.2},
                                 {89.99, 0},        {-89.9, 120}, {64.1, -21.9}};
    uint64_t rng = 7;
    (void)state;
    for (size_t c = 0; c < sizeof(centres) / sizeof(centres[0]); c++) {
        for (double r = 0.5; r <= 50; r *= 3) {
            struct nearspot_box b;
            nearspot_box(centres[c][0], centres[c][1], r, &b);
            for (int i = 0; i < 2000; i++) {
                /* a point at distance <= r in a random direction */
                double d = r * svc_rand_unit(&rng) / 6371.0088,
                       brg = 2 * M_PI * svc_rand_unit(&rng);
                double la1 = centres[c][0] * M_PI / 180, lo1 = centres[c][1] * M_PI / 180;
                double la2 = asin(sin(la1) * cos(d) + cos(la1) * sin(d) * cos(brg));
                double lo2 =
                    lo1 + atan2(sin(brg) * sin(d) * cos(la1), cos(d) - sin(la1) * sin(la2));
                double lat = la2 * 180 / M_PI, lon = fmod(lo2 * 180 / M_PI + 540, 360) - 180;
                assert_true(inside(&b, lat, lon));
            }
        }
    }
}

static void boxes_split_at_the_antimeridian_and_open_at_the_poles(void **state)
{
    struct nearspot_box b;
    (void)state;
    nearspot_box(0, 179.99, 5, &b);
    assert_true(b.lon_max[0] == 180 && b.lon_min[1] == -180);
    assert_true(b.lon_max[1] > -180 && b.lon_max[1] < -179.9);
    nearspot_box(48.85, 2.35, 5, &b);
    assert_true(b.lon_min[1] > b.lon_max[1]); /* second range empty */
    assert_near(b.lat_max - b.lat_min, 2 * 5 / 111.195, 1e-3);
    nearspot_box(89.99, 0, 5, &b);
    assert_true(b.lon_min[0] == -180 && b.lon_max[0] == 180 && b.lat_max == 90);
}

static void nearby_query_defaults_and_refusals(void **state)
{
    struct svc_req req = {.nquery = 2, .query_keys = {"lat", "lon"}, .query_vals = {"1", "2"}};
    struct svc_reply rep = {0};
    struct nearspot_query q;
    (void)state;
    assert_true(nearspot_query_parse(&req, &q, &rep));
    assert_true(q.radius_km == 5 && q.limit == 20 && q.category == NULL);
    const char *bad[][2] = {{"radius_km", "0"},  {"radius_km", "50.1"}, {"limit", "101"},
                            {"category", "Bar"}, {"radius_km", "-1"},   {"limit", "1.5"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        req.nquery = 3;
        req.query_keys[2] = bad[i][0];
        req.query_vals[2] = bad[i][1];
        assert_false(nearspot_query_parse(&req, &q, &rep));
        assert_int_equal(rep.status, 400);
        svc_reply_free(&rep);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(haversine_matches_known_distances),
        cmocka_unit_test(boxes_hold_every_point_of_the_circle),
        cmocka_unit_test(boxes_split_at_the_antimeridian_and_open_at_the_poles),
        cmocka_unit_test(nearby_query_defaults_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
