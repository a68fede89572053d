/* svc_migrate.c: schema migrations, applied once each, recorded in schema_version. */
#include "svc_app.h"

#include <stdio.h>

#include "svc_log.h"

static const char sql_version_table[] =
    "CREATE TABLE IF NOT EXISTS schema_version (version INT PRIMARY KEY,"
    " applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB";
static const char sql_lock[] = "SELECT GET_LOCK(?, 60)";
static const char sql_unlock[] = "SELECT RELEASE_LOCK(?)";
static const char sql_applied[] = "SELECT COUNT(*) FROM schema_version WHERE version = ?";
static const char sql_record[] = "INSERT INTO schema_version (version) VALUES (?)";

static bool apply(struct svc_app *app, struct svc_db_conn *c, const struct svc_migration *m,
                  struct svc_db_err *err)
{
    struct svc_db_col n = {.type = SVC_DB_INT};
    struct svc_db_val v = svc_db_int(m->version);

    if (svc_db_exec(c, sql_applied, &v, 1, &n, 1, NULL, NULL, NULL, err) != SVC_DB_OK)
        return false;
    if (n.i > 0)
        return true;
    for (size_t i = 0; m->sql && m->sql[i]; i++) {
        if (svc_db_exec(c, m->sql[i], NULL, 0, NULL, 0, NULL, NULL, NULL, err) != SVC_DB_OK)
            return false;
    }
    if (m->fn && !m->fn(app, c, err))
        return false;
    if (svc_db_exec(c, sql_record, &v, 1, NULL, 0, NULL, NULL, NULL, err) != SVC_DB_OK)
        return false;
    svc_log_info("migration applied", "version=%d", m->version);
    return true;
}

bool svc_migrate(struct svc_app *app, struct svc_db_err *err)
{
    struct svc_db_col got = {.type = SVC_DB_INT};
    char name[96];
    bool ok = false;

    struct svc_db_conn *c = svc_db_acquire(app->db, SVC_DB_WAIT_MS, err);
    if (!c)
        return false;
    snprintf(name, sizeof(name), "%s.migrate", app->cfg.db_name);
    struct svc_db_val lock = svc_db_text(name);
    if (svc_db_exec(c, sql_version_table, NULL, 0, NULL, 0, NULL, NULL, NULL, err) != SVC_DB_OK ||
        svc_db_exec(c, sql_lock, &lock, 1, &got, 1, NULL, NULL, NULL, err) != SVC_DB_OK)
        goto out_release;
    ok = got.i == 1;
    for (size_t i = 0; ok && i < app->svc->nmigrations; i++)
        ok = apply(app, c, &app->svc->migrations[i], err);
    svc_db_exec(c, sql_unlock, &lock, 1, &got, 1, NULL, NULL, NULL, NULL);
out_release:
    svc_db_release(c);
    return ok;
}
