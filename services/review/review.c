/* review.c: the review service's routes, schema and handlers. A post inserts the review and
 * bumps the place's (count, sum) row in one transaction, so the rating is exact under concurrent
 * posts; a deadlock between two first posts of a place is retried. */
#include "review.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>

#include "svc_log.h"
#include "svc_peer.h"
#include "svc_rand.h"
#include "svc_valid.h"

static const char sql_insert[] =
    "INSERT INTO reviews (place_id, user_id, stars, text) VALUES (?, ?, ?, ?)";
static const char sql_bump[] =
    "INSERT INTO ratings (place_id, count, sum) VALUES (?, 1, ?)"
    " ON DUPLICATE KEY UPDATE count = count + 1, sum = sum + VALUES(sum)";
static const char sql_created_at[] =
    "SELECT DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ') FROM reviews WHERE id = ?";
static const char sql_list[] =
    "SELECT id, place_id, user_id, stars, text, DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ')"
    " FROM reviews WHERE place_id = ? ORDER BY id DESC LIMIT ? OFFSET ?";
static const char sql_rating[] = "SELECT count, sum FROM ratings WHERE place_id = ?";

struct review_row {
    char text[REVIEW_TEXT_MAX * 4 + 1], created_at[32];
    struct svc_db_col cols[6];
};

static void row_init(struct review_row *r)
{
    struct svc_db_col c[6] = {
        {.type = SVC_DB_INT},
        {.type = SVC_DB_INT},
        {.type = SVC_DB_INT},
        {.type = SVC_DB_INT},
        {.type = SVC_DB_TEXT, .buf = r->text, .cap = sizeof(r->text)},
        {.type = SVC_DB_TEXT, .buf = r->created_at, .cap = sizeof(r->created_at)},
    };
    memcpy(r->cols, c, sizeof(c));
}

static json_t *review_json(const struct svc_db_col *c)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:s,s:s}", "id", (json_int_t)c[0].i, "place_id",
                     (json_int_t)c[1].i, "user_id", (json_int_t)c[2].i, "stars", (json_int_t)c[3].i,
                     "text", c[4].buf, "created_at", c[5].buf);
}

static void add_row(void *arg, const struct svc_db_col *cols)
{
    json_array_append_new(arg, review_json(cols));
}

static bool place_id(const struct svc_req *req, long long *id, struct svc_reply *rep)
{
    if (svc_parse_id(req->params[0], id))
        return true;
    svc_reply_error(rep, 404, "place_not_found", "no place %.20s", req->params[0]);
    return false;
}

/* One attempt at the post's transaction: the review, its place's (count, sum), and the row's
 * created_at read back inside the transaction, so that a commit acknowledged is answered from
 * values in hand (no read after the commit that a dying connection could lose). *id gets the
 * review's id, created_at its time. */
static enum svc_db_status post_tx(struct svc_db_conn *c, long long place, long long user,
                                  const struct review_input *in, long long *id,
                                  char created_at[32], struct svc_db_err *err)
{
    struct svc_db_result res, got;
    struct svc_db_val v[4] = {svc_db_int(place), svc_db_int(user), svc_db_int(in->stars),
                              svc_db_text(in->text)};
    struct svc_db_val b[2] = {svc_db_int(place), svc_db_int(in->stars)};
    struct svc_db_col at = {.type = SVC_DB_TEXT, .buf = created_at, .cap = 32};

    if (svc_db_begin(c, err) != SVC_DB_OK)
        return err->code;
    if (svc_db_exec(c, sql_insert, v, 4, NULL, 0, NULL, NULL, &res, err) != SVC_DB_OK)
        goto out_rollback;
    struct svc_db_val key = svc_db_int((long long)res.insert_id);
    if (svc_db_exec(c, sql_bump, b, 2, NULL, 0, NULL, NULL, NULL, err) != SVC_DB_OK ||
        svc_db_exec(c, sql_created_at, &key, 1, &at, 1, NULL, NULL, &got, err) != SVC_DB_OK)
        goto out_rollback;
    if (res.insert_id == 0 || got.rows != 1) {
        err->code = SVC_DB_ERROR;
        snprintf(err->msg, sizeof(err->msg), "insert: no id for the new review");
        goto out_rollback;
    }
    *id = (long long)res.insert_id;
    return svc_db_commit(c, err);
out_rollback:
    svc_db_rollback(c);
    return err->code;
}

static void post(struct svc_req *req, struct svc_reply *rep)
{
    struct svc_app *app = req->app;
    struct review_input in;
    struct svc_db_err err = {0};
    char created_at[32] = "";
    long long place, user, id = 0;

    if (!place_id(req, &place, rep) || !svc_peer_auth(app, req, &user, rep))
        return;
    json_t *body = svc_req_json(req, rep);
    if (!body)
        return;
    if (!review_input_parse(body, &in, rep) || !svc_peer_place_exists(app, place, rep))
        goto out_body;
    struct svc_db_conn *c = svc_app_db(app, rep);
    if (!c)
        goto out_body;
    for (int attempt = 0; attempt < 3; attempt++) {
        memset(&err, 0, sizeof(err));
        if (post_tx(c, place, user, &in, &id, created_at, &err) == SVC_DB_OK ||
            (err.errnum != ER_LOCK_DEADLOCK && err.errnum != ER_LOCK_WAIT_TIMEOUT))
            break;
    }
    svc_db_release(c);
    if (err.code != SVC_DB_OK) {
        svc_reply_db_error(rep, &err);
        goto out_body;
    }
    json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:s,s:s}", "id", (json_int_t)id, "place_id",
                          (json_int_t)place, "user_id", (json_int_t)user, "stars",
                          (json_int_t)in.stars, "text", in.text, "created_at", created_at);
    if (j)
        svc_reply_json(rep, 201, j);
    else
        svc_reply_error(rep, 500, "internal", "review %lld stored; out of memory answering", id);
out_body:
    json_decref(body);
}

static void list(struct svc_req *req, struct svc_reply *rep)
{
    struct svc_db_err err = {0};
    struct review_row r;
    long long place, limit, offset;

    if (!place_id(req, &place, rep) || !svc_query_page(req, &limit, &offset, rep))
        return;
    struct svc_db_conn *c = svc_app_db(req->app, rep);
    if (!c)
        return;
    row_init(&r);
    json_t *items = json_array();
    struct svc_db_val v[3] = {svc_db_int(place), svc_db_int(limit), svc_db_int(offset)};
    enum svc_db_status st = svc_db_exec(c, sql_list, v, 3, r.cols, 6, add_row, items, NULL, &err);
    svc_db_release(c);
    if (st != SVC_DB_OK) {
        json_decref(items);
        svc_reply_db_error(rep, &err);
        return;
    }
    svc_reply_json(rep, 200,
                   json_pack("{s:I,s:o,s:I,s:I}", "place_id", (json_int_t)place, "items", items,
                             "limit", (json_int_t)limit, "offset", (json_int_t)offset));
}

static void rating(struct svc_req *req, struct svc_reply *rep)
{
    struct svc_db_err err = {0};
    struct svc_db_col cols[2] = {{.type = SVC_DB_INT}, {.type = SVC_DB_INT}};
    long long place;

    if (!place_id(req, &place, rep))
        return;
    struct svc_db_conn *c = svc_app_db(req->app, rep);
    if (!c)
        return;
    struct svc_db_val v = svc_db_int(place);
    if (svc_db_exec(c, sql_rating, &v, 1, cols, 2, NULL, NULL, NULL, &err) != SVC_DB_OK)
        svc_reply_db_error(rep, &err);
    else
        svc_reply_json(
            rep, 200,
            json_pack("{s:I,s:I,s:I,s:o}", "place_id", (json_int_t)place, "count",
                      (json_int_t)cols[0].i, "sum", (json_int_t)cols[1].i, "average",
                      cols[0].i ? json_real(review_average(cols[1].i, cols[0].i)) : json_null()));
    svc_db_release(c);
}

static const char *const schema_v1[] = {
    "CREATE TABLE IF NOT EXISTS reviews ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " place_id BIGINT NOT NULL,"
    " user_id BIGINT NOT NULL,"
    " stars TINYINT NOT NULL,"
    " text TEXT NOT NULL,"
    " created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    " KEY reviews_place (place_id, id),"
    " CONSTRAINT reviews_stars CHECK (stars BETWEEN 1 AND 5)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
    "CREATE TABLE IF NOT EXISTS ratings ("
    " place_id BIGINT NOT NULL PRIMARY KEY,"
    " count BIGINT NOT NULL,"
    " sum BIGINT NOT NULL"
    ") ENGINE=InnoDB",
    NULL};

static const char *const seed_texts[] = {"",
                                         "Lovely spot, would come again.",
                                         "Crowded at noon but worth it.",
                                         "Friendly staff.\nA bit pricey.",
                                         "Not what the photos promised.",
                                         "Great view at sunset."};

/* 1 to 5 reviews on each of the first REVIEW_SEED_PLACES places, by the demo users. */
static bool seed(struct svc_app *app, struct svc_db_conn *c, struct svc_db_err *err)
{
    uint64_t rng = 20260102;
    int n = 0;

    if (!app->cfg.seed)
        return true;
    if (svc_db_begin(c, err) != SVC_DB_OK)
        return false;
    for (long long place = 1; place <= REVIEW_SEED_PLACES; place++) {
        int k = 1 + (int)svc_rand_below(&rng, 5);
        for (int i = 0; i < k; i++, n++) {
            struct svc_db_val v[4] = {svc_db_int(place),
                                      svc_db_int(1 + (long long)svc_rand_below(&rng, 100)),
                                      svc_db_int(1 + (long long)svc_rand_below(&rng, 5)),
                                      svc_db_text(seed_texts[svc_rand_below(&rng, 6)])};
            struct svc_db_val b[2] = {v[0], v[2]};
            if (svc_db_exec(c, sql_insert, v, 4, NULL, 0, NULL, NULL, NULL, err) != SVC_DB_OK ||
                svc_db_exec(c, sql_bump, b, 2, NULL, 0, NULL, NULL, NULL, err) != SVC_DB_OK) {
                svc_db_rollback(c);
                return false;
            }
        }
    }
    if (svc_db_commit(c, err) != SVC_DB_OK)
        return false;
    svc_log_info("seeded", "reviews=%d places=%d", n, REVIEW_SEED_PLACES);
    return true;
}

static const struct svc_migration migrations[] = {
    {1, schema_v1, NULL},
    {2, NULL, seed},
};

static const struct svc_route routes[] = {
    {"POST", "/places/{}/reviews", post},
    {"GET", "/places/{}/reviews", list},
    {"GET", "/places/{}/rating", rating},
};

const struct svc_service review_service = {
    .name = "review",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .migrations = migrations,
    .nmigrations = sizeof(migrations) / sizeof(migrations[0]),
};
