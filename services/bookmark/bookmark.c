/* bookmark.c: the bookmark service's routes, schema and handlers. A bookmark is added only for a
 * place that place's API knows (GET /places/{id}); the user comes from the bearer token. */
#include "bookmark.h"

#include <string.h>

#include "svc_peer.h"
#include "svc_valid.h"

static const char sql_add[] = "INSERT IGNORE INTO bookmarks (user_id, place_id) VALUES (?, ?)";
static const char sql_del[] = "DELETE FROM bookmarks WHERE user_id = ? AND place_id = ?";
static const char sql_list[] =
    "SELECT place_id, DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ') FROM bookmarks"
    " WHERE user_id = ? ORDER BY created_at DESC, place_id DESC LIMIT ? OFFSET ?";

static bool place_param(const struct svc_req *req, long long *id, struct svc_reply *rep)
{
    if (svc_parse_id(req->params[0], id))
        return true;
    svc_reply_error(rep, 404, "place_not_found", "no place %.20s", req->params[0]);
    return false;
}

static void add(struct svc_req *req, struct svc_reply *rep)
{
    struct svc_app *app = req->app;
    struct svc_db_err err = {0};
    struct svc_db_result res;
    long long place, user;

    if (!place_param(req, &place, rep) || !svc_peer_auth(app, req, &user, rep) ||
        !svc_peer_place_exists(app, place, rep))
        return;
    struct svc_db_conn *c = svc_app_db(app, rep);
    if (!c)
        return;
    struct svc_db_val v[2] = {svc_db_int(user), svc_db_int(place)};
    if (svc_db_exec(c, sql_add, v, 2, NULL, 0, NULL, NULL, &res, &err) != SVC_DB_OK)
        svc_reply_db_error(rep, &err);
    else
        svc_reply_json(rep, res.affected ? 201 : 200,
                       json_pack("{s:I,s:I,s:b}", "user_id", (json_int_t)user, "place_id",
                                 (json_int_t)place, "created", res.affected > 0));
    svc_db_release(c);
}

static void remove_one(struct svc_req *req, struct svc_reply *rep)
{
    struct svc_app *app = req->app;
    struct svc_db_err err = {0};
    struct svc_db_result res;
    long long place, user;

    if (!place_param(req, &place, rep) || !svc_peer_auth(app, req, &user, rep))
        return;
    struct svc_db_conn *c = svc_app_db(app, rep);
    if (!c)
        return;
    struct svc_db_val v[2] = {svc_db_int(user), svc_db_int(place)};
    if (svc_db_exec(c, sql_del, v, 2, NULL, 0, NULL, NULL, &res, &err) != SVC_DB_OK)
        svc_reply_db_error(rep, &err);
    else if (res.affected == 0)
        svc_reply_error(rep, 404, "not_found", "place %lld is not bookmarked", place);
    else
        svc_reply_json(rep, 204, NULL);
    svc_db_release(c);
}

static void add_row(void *arg, const struct svc_db_col *c)
{
    json_array_append_new(
        arg, json_pack("{s:I,s:s}", "place_id", (json_int_t)c[0].i, "created_at", c[1].buf));
}

static void list(struct svc_req *req, struct svc_reply *rep)
{
    struct svc_app *app = req->app;
    struct svc_db_err err = {0};
    char created[32];
    struct svc_db_col cols[2] = {{.type = SVC_DB_INT},
                                 {.type = SVC_DB_TEXT, .buf = created, .cap = sizeof(created)}};
    long long user, limit, offset;

    if (!svc_query_page(req, &limit, &offset, rep) || !svc_peer_auth(app, req, &user, rep))
        return;
    struct svc_db_conn *c = svc_app_db(app, rep);
    if (!c)
        return;
    json_t *items = json_array();
    struct svc_db_val v[3] = {svc_db_int(user), svc_db_int(limit), svc_db_int(offset)};
    enum svc_db_status st = svc_db_exec(c, sql_list, v, 3, cols, 2, add_row, items, NULL, &err);
    svc_db_release(c);
    if (st != SVC_DB_OK) {
        json_decref(items);
        svc_reply_db_error(rep, &err);
        return;
    }
    svc_reply_json(rep, 200,
                   json_pack("{s:I,s:o,s:I,s:I}", "user_id", (json_int_t)user, "items", items,
                             "limit", (json_int_t)limit, "offset", (json_int_t)offset));
}

static const char *const schema_v1[] = {"CREATE TABLE IF NOT EXISTS bookmarks ("
                                        " user_id BIGINT NOT NULL,"
                                        " place_id BIGINT NOT NULL,"
                                        " created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,"
                                        " PRIMARY KEY (user_id, place_id),"
                                        " KEY bookmarks_recent (user_id, created_at)"
                                        ") ENGINE=InnoDB",
                                        NULL};

static const struct svc_migration migrations[] = {
    {1, schema_v1, NULL},
};

static const struct svc_route routes[] = {
    {"PUT", "/bookmarks/{}", add},
    {"DELETE", "/bookmarks/{}", remove_one},
    {"GET", "/bookmarks", list},
};

const struct svc_service bookmark_service = {"bookmark", routes, sizeof(routes) / sizeof(routes[0]),
                                             migrations,
                                             sizeof(migrations) / sizeof(migrations[0])};
