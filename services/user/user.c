/* user.c: the user service's routes, schema and handlers. Passwords only ever go to
 * user_password_hash/check; sessions are stored as the SHA-256 of their token. */
#include "user.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "svc_log.h"
#include "svc_peer.h"
#include "svc_valid.h"

static const char sql_insert[] = "INSERT INTO users (email, name, password_hash) VALUES (?, ?, ?)";
static const char sql_profile[] =
    "SELECT id, email, name, DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ') FROM users WHERE id = ?";
static const char sql_by_email[] = "SELECT id, password_hash FROM users WHERE email = ?";
static const char sql_update[] = "UPDATE users SET name = COALESCE(?, name),"
                                 " password_hash = COALESCE(?, password_hash) WHERE id = ?";
static const char sql_session_add[] =
    "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?, ?, ?)";
static const char sql_session_get[] =
    "SELECT user_id, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?";
static const char sql_session_del[] = "DELETE FROM sessions WHERE token_hash = ?";
static const char sql_session_gc[] = "DELETE FROM sessions WHERE expires_at <= ? LIMIT 100";

struct profile {
    char email[USER_EMAIL_MAX + 1], name[USER_NAME_MAX * 4 + 1], created_at[32];
    struct svc_db_col cols[4];
};

static void profile_init(struct profile *p)
{
    struct svc_db_col c[4] = {
        {.type = SVC_DB_INT},
        {.type = SVC_DB_TEXT, .buf = p->email, .cap = sizeof(p->email)},
        {.type = SVC_DB_TEXT, .buf = p->name, .cap = sizeof(p->name)},
        {.type = SVC_DB_TEXT, .buf = p->created_at, .cap = sizeof(p->created_at)},
    };
    memcpy(p->cols, c, sizeof(c));
}

/* Answers rep with user id's profile (the email only when with_email). */
static void reply_profile(struct svc_db_conn *c, long long id, bool with_email, int status,
                          struct svc_reply *rep)
{
    struct profile p;
    struct svc_db_err err = {0};
    struct svc_db_result res;
    struct svc_db_val v = svc_db_int(id);

    profile_init(&p);
    if (svc_db_exec(c, sql_profile, &v, 1, p.cols, 4, NULL, NULL, &res, &err) != SVC_DB_OK) {
        svc_reply_db_error(rep, &err);
        return;
    }
    if (res.rows == 0) {
        svc_reply_error(rep, 404, "not_found", "no user %lld", id);
        return;
    }
    json_t *j = json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "name", p.name, "created_at",
                          p.created_at);
    if (with_email)
        json_object_set_new(j, "email", json_string(p.email));
    svc_reply_json(rep, status, j);
}

static void token_key(const char *token, char out[65])
{
    unsigned char h[32];
    user_token_hash(token, h);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Looks the token up: SVC_DB_OK with *user_id 0 when unknown or expired. */
static enum svc_db_status session_find(struct svc_db_conn *c, const char *token, long long *user_id,
                                       long long *expires, struct svc_db_err *err)
{
    char key[65];
    struct svc_db_col cols[2] = {{.type = SVC_DB_INT}, {.type = SVC_DB_INT}};

    *user_id = 0;
    if (!svc_token_valid(token))
        return SVC_DB_OK;
    token_key(token, key);
    struct svc_db_val v[2] = {svc_db_text(key), svc_db_int((long long)time(NULL))};
    struct svc_db_result res;
    enum svc_db_status st = svc_db_exec(c, sql_session_get, v, 2, cols, 2, NULL, NULL, &res, err);
    if (st == SVC_DB_OK && res.rows == 1) {
        *user_id = cols[0].i;
        *expires = cols[1].i;
    }
    return st;
}

static void sign_up(struct svc_req *req, struct svc_reply *rep)
{
    struct user_input in;
    struct svc_db_err err = {0};
    struct svc_db_result res;
    char hash[256];

    json_t *body = svc_req_json(req, rep);
    if (!body)
        return;
    if (!user_input_parse(body, false, &in, rep))
        goto out_body;
    if (!user_password_hash(in.password, hash, sizeof(hash))) {
        svc_reply_error(rep, 500, "internal", "cannot hash the password");
        goto out_body;
    }
    struct svc_db_conn *c = svc_app_db(req->app, rep);
    if (!c)
        goto out_body;
    struct svc_db_val v[3] = {svc_db_text(in.email), svc_db_text(in.name), svc_db_text(hash)};
    if (svc_db_exec(c, sql_insert, v, 3, NULL, 0, NULL, NULL, &res, &err) == SVC_DB_OK)
        reply_profile(c, (long long)res.insert_id, true, 201, rep);
    else if (err.code == SVC_DB_DUPLICATE)
        svc_reply_error(rep, 409, "email_taken", "an account with this email exists");
    else
        svc_reply_db_error(rep, &err);
    svc_db_release(c);
out_body:
    explicit_bzero(hash, sizeof(hash));
    json_decref(body);
}

/* Checks the credentials: *user_id set when they match, 0 when not. */
static enum svc_db_status check_login(struct svc_db_conn *c, const struct user_input *in,
                                      long long *user_id, struct svc_db_err *err)
{
    char hash[256];
    struct svc_db_col cols[2] = {{.type = SVC_DB_INT},
                                 {.type = SVC_DB_TEXT, .buf = hash, .cap = sizeof(hash)}};
    struct svc_db_val v = svc_db_text(in->email);
    struct svc_db_result res;

    *user_id = 0;
    enum svc_db_status st = svc_db_exec(c, sql_by_email, &v, 1, cols, 2, NULL, NULL, &res, err);
    if (st != SVC_DB_OK)
        return st;
    /* an unknown email costs the same hashing time as a wrong password */
    bool ok = user_password_check(in->password, res.rows ? hash : USER_DEMO_HASH);
    if (ok && res.rows)
        *user_id = cols[0].i;
    return SVC_DB_OK;
}

static void log_in(struct svc_req *req, struct svc_reply *rep)
{
    struct user_input in;
    struct svc_db_err err = {0};
    char token[USER_TOKEN_HEX + 1], key[65], expires[32];
    long long user;

    json_t *body = svc_req_json(req, rep);
    if (!body)
        return;
    if (!user_login_parse(body, &in, rep))
        goto out_body;
    struct svc_db_conn *c = svc_app_db(req->app, rep);
    if (!c)
        goto out_body;
    if (check_login(c, &in, &user, &err) != SVC_DB_OK) {
        svc_reply_db_error(rep, &err);
        goto out_release;
    }
    if (!user) {
        svc_reply_error(rep, 401, "invalid_credentials", "wrong email or password");
        goto out_release;
    }
    if (!user_token_new(token)) {
        svc_reply_error(rep, 500, "internal", "no randomness for a token");
        goto out_release;
    }
    token_key(token, key);
    long long now = (long long)time(NULL);
    struct svc_db_val v[3] = {svc_db_text(key), svc_db_int(user),
                              svc_db_int(now + USER_SESSION_TTL_S)};
    struct svc_db_val gc = svc_db_int(now);
    svc_db_exec(c, sql_session_gc, &gc, 1, NULL, 0, NULL, NULL, NULL, NULL);
    if (svc_db_exec(c, sql_session_add, v, 3, NULL, 0, NULL, NULL, NULL, &err) != SVC_DB_OK) {
        svc_reply_db_error(rep, &err);
        goto out_release;
    }
    user_time_format(now + USER_SESSION_TTL_S, expires);
    svc_reply_json(rep, 201,
                   json_pack("{s:s,s:I,s:s}", "token", token, "user_id", (json_int_t)user,
                             "expires_at", expires));
out_release:
    svc_db_release(c);
out_body:
    json_decref(body);
}

static void session_get(struct svc_req *req, struct svc_reply *rep)
{
    struct svc_db_err err = {0};
    long long user, expires = 0;
    char when[32];

    struct svc_db_conn *c = svc_app_db(req->app, rep);
    if (!c)
        return;
    if (session_find(c, req->params[0], &user, &expires, &err) != SVC_DB_OK) {
        svc_reply_db_error(rep, &err);
    } else if (!user) {
        svc_reply_error(rep, 404, "not_found", "unknown or expired session");
    } else {
        user_time_format(expires, when);
        svc_reply_json(rep, 200,
                       json_pack("{s:I,s:s}", "user_id", (json_int_t)user, "expires_at", when));
    }
    svc_db_release(c);
}

static void session_delete(struct svc_req *req, struct svc_reply *rep)
{
    struct svc_db_err err = {0};
    struct svc_db_result res = {0};
    char key[65];

    if (!svc_token_valid(req->params[0])) {
        svc_reply_error(rep, 404, "not_found", "unknown session");
        return;
    }
    struct svc_db_conn *c = svc_app_db(req->app, rep);
    if (!c)
        return;
    token_key(req->params[0], key);
    struct svc_db_val v = svc_db_text(key);
    if (svc_db_exec(c, sql_session_del, &v, 1, NULL, 0, NULL, NULL, &res, &err) != SVC_DB_OK)
        svc_reply_db_error(rep, &err);
    else if (res.affected == 0)
        svc_reply_error(rep, 404, "not_found", "unknown session");
    else
        svc_reply_json(rep, 204, NULL);
    svc_db_release(c);
}

/* The user of the request's bearer token, 0 when none or invalid. */
static long long bearer_user(struct svc_db_conn *c, const struct svc_req *req,
                             struct svc_db_err *err)
{
    long long user = 0, expires;
    const char *a = req->authorization;

    if (a && strncmp(a, "Bearer ", 7) == 0 &&
        session_find(c, a + 7, &user, &expires, err) != SVC_DB_OK)
        return -1;
    return user;
}

static void profile_get(struct svc_req *req, struct svc_reply *rep)
{
    struct svc_db_err err = {0};
    long long id;

    if (!svc_parse_id(req->params[0], &id)) {
        svc_reply_error(rep, 404, "not_found", "no user %.20s", req->params[0]);
        return;
    }
    struct svc_db_conn *c = svc_app_db(req->app, rep);
    if (!c)
        return;
    long long me = bearer_user(c, req, &err);
    if (me < 0)
        svc_reply_db_error(rep, &err);
    else
        reply_profile(c, id, me == id, 200, rep);
    svc_db_release(c);
}

static void profile_update(struct svc_req *req, struct svc_reply *rep)
{
    struct user_input in;
    struct svc_db_err err = {0};
    char hash[256] = "";
    long long id;

    if (!svc_parse_id(req->params[0], &id)) {
        svc_reply_error(rep, 404, "not_found", "no user %.20s", req->params[0]);
        return;
    }
    struct svc_db_conn *c = svc_app_db(req->app, rep);
    if (!c)
        return;
    json_t *body = NULL;
    long long me = bearer_user(c, req, &err);
    if (me <= 0) {
        if (me < 0)
            svc_reply_db_error(rep, &err);
        else
            svc_reply_error(rep, 401, "unauthorized", "send Authorization: Bearer <token>");
        goto out_release;
    }
    if (me != id) {
        svc_reply_error(rep, 403, "forbidden", "a user may change only their own profile");
        goto out_release;
    }
    body = svc_req_json(req, rep);
    if (!body || !user_input_parse(body, true, &in, rep))
        goto out_release;
    if (in.password && !user_password_hash(in.password, hash, sizeof(hash))) {
        svc_reply_error(rep, 500, "internal", "cannot hash the password");
        goto out_release;
    }
    struct svc_db_val v[3] = {
        in.name ? svc_db_text(in.name) : (struct svc_db_val){.type = SVC_DB_NULL},
        in.password ? svc_db_text(hash) : (struct svc_db_val){.type = SVC_DB_NULL}, svc_db_int(id)};
    if (svc_db_exec(c, sql_update, v, 3, NULL, 0, NULL, NULL, NULL, &err) != SVC_DB_OK)
        svc_reply_db_error(rep, &err);
    else
        reply_profile(c, id, true, 200, rep);
out_release:
    explicit_bzero(hash, sizeof(hash));
    json_decref(body);
    svc_db_release(c);
}

static const char *const schema_v1[] = {
    "CREATE TABLE IF NOT EXISTS users ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " email VARCHAR(254) NOT NULL,"
    " name VARCHAR(100) NOT NULL,"
    " password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    " UNIQUE KEY users_email (email)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
    "CREATE TABLE IF NOT EXISTS sessions ("
    " token_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,"
    " user_id BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " KEY sessions_user (user_id),"
    " KEY sessions_expires (expires_at)"
    ") ENGINE=InnoDB",
    NULL};

static bool seed(struct svc_app *app, struct svc_db_conn *c, struct svc_db_err *err)
{
    char email[64], name[32];

    if (!app->cfg.seed)
        return true;
    for (int i = 1; i <= USER_SEED_COUNT; i++) {
        snprintf(email, sizeof(email), "demo%d@trip.example", i);
        snprintf(name, sizeof(name), "Demo User %d", i);
        struct svc_db_val v[3] = {svc_db_text(email), svc_db_text(name),
                                  svc_db_text(USER_DEMO_HASH)};
        if (svc_db_exec(c, sql_insert, v, 3, NULL, 0, NULL, NULL, NULL, err) != SVC_DB_OK)
            return false;
    }
    svc_log_info("seeded", "users=%d", USER_SEED_COUNT);
    return true;
}

static const struct svc_migration migrations[] = {
    {1, schema_v1, NULL},
    {2, NULL, seed},
};

static const struct svc_route routes[] = {
    {"POST", "/users", sign_up},
    {"GET", "/users/{}", profile_get},
    {"PATCH", "/users/{}", profile_update},
    {"POST", "/sessions", log_in},
    {"GET", "/sessions/{}", session_get},
    {"DELETE", "/sessions/{}", session_delete},
};

const struct svc_service user_service = {"user", routes, sizeof(routes) / sizeof(routes[0]),
                                         migrations, sizeof(migrations) / sizeof(migrations[0])};
