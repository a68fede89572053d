/* place_seed.c: the deterministic data set: PLACE_SEED_COUNT places scattered around real city
 * centres (within 15 km, denser near the centre), named from fixed word lists. */
#include "place.h"

#include <math.h>
#include <stdio.h>

#include "svc_log.h"
#include "svc_rand.h"

static const struct {
    const char *name;
    double lat, lon;
} cities[] = {
    {"Paris", 48.8566, 2.3522},           {"London", 51.5074, -0.1278},
    {"Berlin", 52.5200, 13.4050},         {"Madrid", 40.4168, -3.7038},
    {"Rome", 41.9028, 12.4964},           {"Lisbon", 38.7223, -9.1393},
    {"Amsterdam", 52.3676, 4.9041},       {"Vienna", 48.2082, 16.3738},
    {"Prague", 50.0755, 14.4378},         {"Barcelona", 41.3874, 2.1686},
    {"Stockholm", 59.3293, 18.0686},      {"Athens", 37.9838, 23.7275},
    {"Istanbul", 41.0082, 28.9784},       {"Cairo", 30.0444, 31.2357},
    {"New York", 40.7128, -74.0060},      {"San Francisco", 37.7749, -122.4194},
    {"Mexico City", 19.4326, -99.1332},   {"Rio de Janeiro", -22.9068, -43.1729},
    {"Buenos Aires", -34.6037, -58.3816}, {"Tokyo", 35.6762, 139.6503},
    {"Seoul", 37.5665, 126.9780},         {"Bangkok", 13.7563, 100.5018},
    {"Sydney", -33.8688, 151.2093},       {"Cape Town", -33.9249, 18.4241},
    {"Marrakesh", 31.6295, -7.9811},
};
#define NCITIES (sizeof(cities) / sizeof(cities[0]))

static const char *const categories[] = {"restaurant", "cafe", "museum",    "park",
                                         "hotel",      "bar",  "viewpoint", "shop"};
static const char *const adjectives[] = {"Blue",   "Golden", "Old",    "Little", "Green", "Royal",
                                         "Hidden", "Sunny",  "Silver", "Quiet",  "Red",   "Grand"};
static const char *const nouns[] = {"Harbor", "Garden", "Lantern", "Bridge", "Fox",  "Oak",
                                    "Market", "Tower",  "River",   "Square", "Lion", "Corner"};
static const char *const kinds[] = {"Bistro", "Coffee", "Gallery", "Park",
                                    "Inn",    "Tavern", "Lookout", "Store"};
static const char *const streets[] = {"Main", "Station", "Church", "Park", "Market",
                                      "Hill", "Bridge",  "Garden", "Lake", "Castle"};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char sql_seed[] = "INSERT INTO places (name, category, address, lat, lon, created_by)"
                               " VALUES (?, ?, ?, ?, ?, 0)";

bool place_seed(struct svc_app *app, struct svc_db_conn *c, struct svc_db_err *err)
{
    uint64_t rng = 20260101;
    char name[PLACE_NAME_MAX], address[PLACE_ADDRESS_MAX];
    (void)app;

    if (svc_db_begin(c, err) != SVC_DB_OK)
        return false;
    for (int i = 0; i < PLACE_SEED_COUNT; i++) {
        size_t city = (size_t)i % NCITIES;
        size_t cat = svc_rand_below(&rng, N(categories));
        double r_km = 15.0 * pow(svc_rand_unit(&rng), 0.75);
        double bearing = 2 * M_PI * svc_rand_unit(&rng);
        double lat = cities[city].lat + r_km / 111.32 * cos(bearing);
        double lon =
            cities[city].lon + r_km / (111.32 * cos(cities[city].lat * M_PI / 180)) * sin(bearing);
        snprintf(name, sizeof(name), "%s %s %s", adjectives[svc_rand_below(&rng, N(adjectives))],
                 nouns[svc_rand_below(&rng, N(nouns))], kinds[cat]);
        snprintf(address, sizeof(address), "%d %s Street, %s", (int)svc_rand_below(&rng, 200) + 1,
                 streets[svc_rand_below(&rng, N(streets))], cities[city].name);
        struct svc_db_val v[5] = {svc_db_text(name), svc_db_text(categories[cat]),
                                  svc_db_text(address), svc_db_double(round(lat * 1e6) / 1e6),
                                  svc_db_double(round(lon * 1e6) / 1e6)};
        if (svc_db_exec(c, sql_seed, v, 5, NULL, 0, NULL, NULL, NULL, err) != SVC_DB_OK) {
            svc_db_rollback(c);
            return false;
        }
    }
    if (svc_db_commit(c, err) != SVC_DB_OK)
        return false;
    svc_log_info("seeded", "places=%d cities=%zu", PLACE_SEED_COUNT, NCITIES);
    return true;
}
