/* fuzz_svc_query.c: what the trip services read from a URL (services/): the path through every
 * service's route table, the query values through GET /places's, GET /nearby's and the list
 * endpoints' parsers, path ids and session tokens. Input: "path\nkey=value\nkey=value...". */
#include "fuzz_common.h"

#include "bookmark.h"
#include "nearspot.h"
#include "place.h"
#include "review.h"
#include "svc_peer.h"
#include "svc_valid.h"
#include "user.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void routes(const char *path)
{
    const struct svc_service *all[] = {&user_service, &place_service, &review_service,
                                       &bookmark_service, &nearspot_service};
    const char *methods[] = {"GET", "POST", "PATCH", "PUT", "DELETE"};
    for (size_t s = 0; s < 5; s++) {
        for (size_t m = 0; m < 5; m++) {
            struct svc_req req = {0};
            bool wrong;
            int i =
                svc_route_match(all[s]->routes, all[s]->nroutes, methods[m], path, &req, &wrong);
            FUZZ_CHECK(i < (int)all[s]->nroutes);
            for (int p = 0; i >= 0 && p < req.nparams; p++) {
                FUZZ_CHECK(FUZZ_TERMINATED(req.params[p]) && req.params[p][0] != '\0');
                FUZZ_CHECK(strchr(req.params[p], '/') == NULL);
                long long id;
                if (svc_parse_id(req.params[p], &id))
                    FUZZ_CHECK(id >= 1 && id <= (1LL << 53));
                (void)svc_token_valid(req.params[p]);
            }
        }
    }
}

static void queries(struct svc_req *req)
{
    struct svc_reply rep = {0};
    struct place_query pq;
    struct nearspot_query nq;
    long long limit, offset;

    if (place_query_parse(req, &pq, &rep)) {
        FUZZ_CHECK(pq.limit >= 1 && pq.limit <= 100 && pq.offset >= 0);
        FUZZ_CHECK(FUZZ_TERMINATED(pq.like) && fuzz_utf8(pq.like));
    }
    svc_reply_free(&rep);
    if (nearspot_query_parse(req, &nq, &rep)) {
        FUZZ_CHECK(nq.radius_km > 0 && nq.radius_km <= NEARSPOT_RADIUS_MAX_KM);
        struct nearspot_box b;
        nearspot_box(nq.lat, nq.lon, nq.radius_km, &b);
        FUZZ_CHECK(b.lat_min <= nq.lat && nq.lat <= b.lat_max);
        FUZZ_CHECK(b.lon_min[0] <= b.lon_max[0]);
    }
    svc_reply_free(&rep);
    if (svc_query_page(req, &limit, &offset, &rep))
        FUZZ_CHECK(limit >= 1 && limit <= 100 && offset >= 0 && offset <= 100000);
    svc_reply_free(&rep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    struct svc_req req = {0};

    memcpy(text, data, size);
    text[size] = '\0';
    char *save = NULL;
    char *path = strtok_r(text, "\n", &save);
    if (path)
        routes(path);
    for (char *kv = strtok_r(NULL, "\n", &save); kv && req.nquery < SVC_MAX_QUERY;
         kv = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq++ = '\0';
        req.query_keys[req.nquery] = kv;
        req.query_vals[req.nquery++] = eq ? eq : "";
    }
    queries(&req);
    free(text);
    return 0;
}
