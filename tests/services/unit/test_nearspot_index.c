/* test_nearspot_index.c: the in-memory index of places: nearest first, the radius's edge, the
 * category, the poles and the antimeridian, and a brute-force comparison on random places. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "nearspot_index.h"
#include "svc_rand.h"

#define KM_PER_DEG (6371.0088 * M_PI / 180)

static struct nearspot_index *index_of(const double (*p)[2], size_t n, const char *category)
{
    struct nearspot_index *ix = nearspot_index_new();
    char name[32];
    assert_non_null(ix);
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "place %zu", i + 1);
        assert_true(
            nearspot_index_add(ix, (long long)i + 1, name, category, "street", p[i][0], p[i][1]));
    }
    nearspot_index_finish(ix);
    return ix;
}

static size_t search(const struct nearspot_index *ix, double lat, double lon, double r,
                     const char *category, struct nearspot_hit *out, size_t cap, size_t *total)
{
    struct nearspot_query q = {lat, lon, r, (long long)cap, category};
    return nearspot_index_search(ix, &q, out, cap, total);
}

static void nearest_first_ties_by_id(void **state)
{
    /* ids 1..5 on the equator at 4, 1, 3, 1 (tie: other side) and 2 km east of 0/0 */
    const double p[][2] = {{0, 4 / KM_PER_DEG},
                           {0, 1 / KM_PER_DEG},
                           {0, 3 / KM_PER_DEG},
                           {0, -1 / KM_PER_DEG},
                           {0, 2 / KM_PER_DEG}};
    struct nearspot_index *ix = index_of(p, 5, "cafe");
    struct nearspot_hit h[5];
    size_t total;
    (void)state;
    assert_int_equal(search(ix, 0, 0, 5, NULL, h, 5, &total), 5);
    assert_int_equal(total, 5);
    const long long want[] = {2, 4, 5, 3, 1};
    for (int i = 0; i < 5; i++)
        assert_int_equal(h[i].id, want[i]);
    assert_string_equal(h[0].name, "place 2");
    assert_string_equal(h[0].category, "cafe");
    assert_string_equal(h[0].address, "street");
    /* 1 km, to the 1e-7 degree (1.1 cm) the index keeps coordinates to */
    assert_true(fabs(h[0].km - 1) < 1e-5);
    /* a page of 2: the two nearest, total still counts all five */
    assert_int_equal(search(ix, 0, 0, 5, NULL, h, 2, &total), 2);
    assert_int_equal(total, 5);
    assert_int_equal(h[0].id, 2);
    assert_int_equal(h[1].id, 4);
    nearspot_index_free(ix);
}

static void radius_edge_is_inside(void **state)
{
    /* north of 48/2 by 4.999, 5.000 and 5.001 km */
    const double p[][2] = {{48 + 4.999 / KM_PER_DEG, 2},
                           {48 + 5.0 / KM_PER_DEG, 2},
                           {48 + 5.001 / KM_PER_DEG, 2}};
    struct nearspot_index *ix = index_of(p, 3, "museum");
    struct nearspot_hit h[3];
    size_t total;
    (void)state;
    /* 5 km exactly is in (<= radius) when the distance rounds to at most 5 */
    size_t n = search(ix, 48, 2, 5.0000001, NULL, h, 3, &total);
    assert_int_equal(n, 2);
    assert_int_equal(h[0].id, 1);
    assert_int_equal(h[1].id, 2);
    assert_int_equal(search(ix, 48, 2, 4.9995, NULL, h, 3, &total), 1);
    nearspot_index_free(ix);
}

static void category_filters(void **state)
{
    struct nearspot_index *ix = nearspot_index_new();
    struct nearspot_hit h[4];
    size_t total;
    (void)state;
    assert_true(nearspot_index_add(ix, 1, "a", "museum", "", 10, 10));
    assert_true(nearspot_index_add(ix, 2, "b", "cafe", "", 10.001, 10));
    assert_true(nearspot_index_add(ix, 3, "c", "museum", "", 10.002, 10));
    nearspot_index_finish(ix);
    assert_int_equal(search(ix, 10, 10, 1, "museum", h, 4, &total), 2);
    assert_int_equal(total, 2);
    assert_int_equal(h[0].id, 1);
    assert_int_equal(h[1].id, 3);
    assert_int_equal(search(ix, 10, 10, 1, "bar", h, 4, &total), 0);
    assert_int_equal(total, 0);
    nearspot_index_free(ix);
}

static void reserved_room_holds_places_and_can_be_exceeded(void **state)
{
    struct nearspot_index *ix = nearspot_index_new();
    struct nearspot_hit h[3];
    size_t total;
    (void)state;
    assert_true(nearspot_index_reserve(ix, 2, 16));
    assert_true(nearspot_index_add(ix, 1, "a long enough name", "cafe", "1 Main St", 1, 1));
    assert_true(nearspot_index_add(ix, 2, "b", "cafe", "", 1.001, 1));
    assert_true(nearspot_index_add(ix, 3, "c", "cafe", "", 1.002, 1)); /* past the reserve */
    nearspot_index_finish(ix);
    assert_int_equal(search(ix, 1, 1, 1, NULL, h, 3, &total), 3);
    assert_string_equal(h[0].name, "a long enough name");
    assert_string_equal(h[0].address, "1 Main St");
    assert_string_equal(h[2].name, "c");
    nearspot_index_free(ix);
}

/* Coordinates come back to the 1e-7 degree, exactly when they have at most 7 decimals (the seed
 * writes 6); ids of 64 bits; equal strings are stored once yet read back whole. */
static void places_read_back_as_added(void **state)
{
    struct nearspot_index *ix = nearspot_index_new();
    struct nearspot_hit h[4];
    size_t total;
    (void)state;
    assert_true(
        nearspot_index_add(ix, 1LL << 40, "park", "park", "1 Main St", 48.856613, 2.352222));
    assert_true(nearspot_index_add(ix, -7, "Cafe", "cafe", "1 Main St", 48.85661234567, 2.3522));
    assert_true(nearspot_index_add(ix, 3, "Cafe", "park", "2 Main St", -33.8688, 151.2093));
    assert_true(nearspot_index_add(ix, 4, "x", "bar", "y", -33.8688001, -179.9999999));
    nearspot_index_finish(ix);
    assert_int_equal(search(ix, 48.8566, 2.3522, 1, NULL, h, 4, &total), 2);
    assert_int_equal(h[0].id, -7);
    assert_true(fabs(h[0].lat - 48.85661234567) <= 0.5e-7);
    assert_true(h[1].lat == 48.856613 && h[1].lon == 2.352222);
    assert_true(h[1].id == 1LL << 40);
    assert_string_equal(h[1].name, "park");
    assert_string_equal(h[1].category, "park");
    assert_string_equal(h[1].address, "1 Main St");
    assert_string_equal(h[0].name, "Cafe");
    assert_string_equal(h[0].category, "cafe");
    assert_int_equal(search(ix, -33.8688, 151.2093, 1, "park", h, 4, &total), 1);
    assert_true(h[0].lat == -33.8688 && h[0].lon == 151.2093);
    assert_string_equal(h[0].address, "2 Main St");
    assert_int_equal(search(ix, -33.8688, 180, 1, "bar", h, 4, &total), 1);
    assert_true(h[0].lat == -33.8688001 && h[0].lon == -179.9999999);
    /* a category no place has; a page of none still counts */
    assert_int_equal(search(ix, 48.8566, 2.3522, 1, "museum", h, 4, &total), 0);
    assert_int_equal(total, 0);
    assert_int_equal(search(ix, 48.8566, 2.3522, 1, NULL, h, 0, &total), 0);
    assert_int_equal(total, 2);
    nearspot_index_free(ix);
}

static void empty_index_finds_nothing(void **state)
{
    struct nearspot_index *ix = nearspot_index_new();
    struct nearspot_hit h[1];
    size_t total = 7;
    (void)state;
    nearspot_index_finish(ix);
    assert_int_equal(search(ix, 0, 0, 50, NULL, h, 1, &total), 0);
    assert_int_equal(total, 0);
    assert_int_equal(nearspot_index_size(ix), 0);
    nearspot_index_free(ix);
}

static void antimeridian_and_poles(void **state)
{
    /* 1: 2.2 km west across the antimeridian; 2: same latitude, far side of the globe;
     * 3, 4: near the north pole on opposite meridians, 2.2 km apart through the pole;
     * 5: the south pole itself */
    const double p[][2] = {{0, -179.99}, {0, 0.01}, {89.99, 0}, {89.99, 180}, {-90, 0}};
    struct nearspot_index *ix = index_of(p, 5, "park");
    struct nearspot_hit h[5];
    size_t total;
    (void)state;
    assert_int_equal(search(ix, 0, 179.99, 5, NULL, h, 5, &total), 1);
    assert_int_equal(h[0].id, 1);
    assert_true(fabs(h[0].km - 0.02 * KM_PER_DEG) < 1e-6);
    /* from lon 180 itself, both directions */
    assert_int_equal(search(ix, 0, 180, 2, NULL, h, 5, &total), 1);
    assert_int_equal(search(ix, 0, -180, 2, NULL, h, 5, &total), 1);
    /* from the meridian 90 at 89.995: both points near the pole, ~0.7 km each way */
    assert_int_equal(search(ix, 89.995, 90, 5, NULL, h, 5, &total), 2);
    assert_int_equal(search(ix, 89.99, 0, 3, NULL, h, 5, &total), 2);
    assert_int_equal(h[0].id, 3);
    assert_int_equal(h[1].id, 4);
    assert_true(fabs(h[1].km - 0.02 * KM_PER_DEG) < 1e-6);
    /* the south pole from any longitude */
    assert_int_equal(search(ix, -89.99, 123, 2, NULL, h, 5, &total), 1);
    assert_int_equal(h[0].id, 5);
    nearspot_index_free(ix);
}

/* Random places clustered around a few centres (and the antimeridian), random searches: the
 * index gives exactly what a scan of every place with the same haversine gives (the places at
 * the 1e-7 degree the index stores: what its searches measure from). */
static void matches_a_scan_of_every_place(void **state)
{
    enum { N = 5000 };
    const double centres[][2] = {{48.85, 2.35}, {0, 179.95}, {-33.9, 151.2}, {89.9, 0}};
    static double p[N][2];
    uint64_t rng = 42;
    (void)state;
    for (size_t i = 0; i < N; i++) {
        const double *c = centres[i % 4];
        p[i][0] = fmin(90, fmax(-90, c[0] + (svc_rand_unit(&rng) - 0.5) * 0.6));
        double lon = c[1] + (svc_rand_unit(&rng) - 0.5) * 0.6;
        p[i][1] = lon > 180 ? lon - 360 : lon;
        p[i][0] = (double)lround(p[i][0] * 1e7) / 1e7;
        p[i][1] = (double)lround(p[i][1] * 1e7) / 1e7;
    }
    struct nearspot_index *ix = index_of(p, N, "shop");
    static struct nearspot_hit h[N];
    for (int s = 0; s < 200; s++) {
        const double *c = centres[s % 4];
        double lat = fmin(90, c[0] + (svc_rand_unit(&rng) - 0.5) * 0.4);
        double lon = c[1] + (svc_rand_unit(&rng) - 0.5) * 0.4;
        lon = lon > 180 ? lon - 360 : lon;
        double r = 0.5 + 20 * svc_rand_unit(&rng);
        size_t total, want = 0;
        double farthest = 0;
        for (size_t i = 0; i < N; i++) {
            double km = nearspot_haversine_km(lat, lon, p[i][0], p[i][1]);
            if (km <= r) {
                want++;
                farthest = fmax(farthest, km);
            }
        }
        size_t n = search(ix, lat, lon, r, NULL, h, N, &total);
        assert_int_equal(total, want);
        assert_int_equal(n, want);
        for (size_t i = 1; i < n; i++)
            assert_true(h[i - 1].km <= h[i].km);
        if (n)
            assert_true(h[n - 1].km == farthest);
    }
    nearspot_index_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nearest_first_ties_by_id),
        cmocka_unit_test(radius_edge_is_inside),
        cmocka_unit_test(category_filters),
        cmocka_unit_test(reserved_room_holds_places_and_can_be_exceeded),
        cmocka_unit_test(places_read_back_as_added),
        cmocka_unit_test(empty_index_finds_nothing),
        cmocka_unit_test(antimeridian_and_poles),
        cmocka_unit_test(matches_a_scan_of_every_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
