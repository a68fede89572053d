/* svc_config.c: environment settings. */
#include "svc_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_log.h"

static const char *env_or(const char *key, const char *def)
{
    const char *v = getenv(key);
    return v && *v ? v : def;
}

static bool int_env(const char *key, int def, int lo, int hi, int *out, struct svc_config_err *err)
{
    const char *v = getenv(key);
    char *end;

    if (!v || !*v) {
        *out = def;
        return true;
    }
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < lo || n > hi) {
        snprintf(err->msg, sizeof(err->msg), "%s: expected an integer in %d..%d", key, lo, hi);
        return false;
    }
    *out = (int)n;
    return true;
}

static bool copy_env(const char *key, const char *def, char *dst, size_t size,
                     struct svc_config_err *err)
{
    const char *v = env_or(key, def);
    if (strlen(v) >= size) {
        snprintf(err->msg, sizeof(err->msg), "%s: longer than %zu bytes", key, size - 1);
        return false;
    }
    memcpy(dst, v, strlen(v) + 1);
    return true;
}

bool svc_config_parse_listen(const char *s, char *host, unsigned host_size, int *port)
{
    const char *colon = strrchr(s, ':');
    char *end;

    if (!colon || colon == s)
        return false;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (*h == '[') {
        if (hl < 3 || h[hl - 1] != ']')
            return false;
        h++;
        hl -= 2;
    }
    if (hl >= host_size)
        return false;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || colon[1] == '\0' || p < 1 || p > 65535)
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return true;
}

static bool read_password(const char *path, char *dst, size_t size, struct svc_config_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err->msg, sizeof(err->msg), "DB_PASSWORD_FILE: cannot open %s", path);
        return false;
    }
    if (!fgets(dst, (int)size, f))
        dst[0] = '\0';
    fclose(f);
    dst[strcspn(dst, "\r\n")] = '\0';
    return true;
}

static bool valid_identifier(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    }
    return true;
}

bool svc_config_load(struct svc_config *cfg, const char *name, struct svc_config_err *err)
{
    char def[80];

    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->name, sizeof(cfg->name), "%s", name);
    if (!svc_config_parse_listen(env_or("SVC_LISTEN", "0.0.0.0:8000"), cfg->listen_host,
                                 sizeof(cfg->listen_host), &cfg->listen_port)) {
        snprintf(err->msg, sizeof(err->msg), "SVC_LISTEN: expected host:port");
        return false;
    }
    if (!copy_env("DB_HOST", "db-mysql", cfg->db_host, sizeof(cfg->db_host), err) ||
        !int_env("DB_PORT", 3306, 1, 65535, &cfg->db_port, err) ||
        !int_env("DB_POOL", 8, 1, 64, &cfg->db_pool, err) ||
        !int_env("SVC_SEED", 1, 0, 1, &cfg->seed, err) ||
        !copy_env("USER_URL", "http://user:8000", cfg->user_url, sizeof(cfg->user_url), err) ||
        !copy_env("PLACE_URL", "http://place:8000", cfg->place_url, sizeof(cfg->place_url), err) ||
        !copy_env("PLACE_DB", "trip_place", cfg->place_db, sizeof(cfg->place_db), err))
        return false;
    snprintf(def, sizeof(def), "svc_%s", name);
    if (!copy_env("DB_USER", def, cfg->db_user, sizeof(cfg->db_user), err))
        return false;
    snprintf(def, sizeof(def), "trip_%s", name);
    if (!copy_env("DB_NAME", def, cfg->db_name, sizeof(cfg->db_name), err))
        return false;
    if (!valid_identifier(cfg->place_db)) {
        snprintf(err->msg, sizeof(err->msg), "PLACE_DB: only a-z, 0-9 and _ are allowed");
        return false;
    }
    const char *pw = getenv("DB_PASSWORD_FILE");
    if (pw && *pw && !read_password(pw, cfg->db_password, sizeof(cfg->db_password), err))
        return false;
    int level = svc_log_level_parse(env_or("LOG_LEVEL", "info"));
    if (level < 0) {
        snprintf(err->msg, sizeof(err->msg), "LOG_LEVEL: expected error, warn, info or debug");
        return false;
    }
    cfg->log_level = level;
    return true;
}
