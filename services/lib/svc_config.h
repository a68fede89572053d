/* svc_config.h: a service's settings from the environment (SVC_*, DB_*, *_URL). */
#ifndef SVC_CONFIG_H
#define SVC_CONFIG_H

#include <stdbool.h>

struct svc_config {
    char name[16];         /* "place": the binary is trip-place, defaults derive from it */
    char listen_host[64];  /* SVC_LISTEN host part (default 0.0.0.0) */
    int listen_port;       /* SVC_LISTEN port part (default 8000) */
    char db_host[256];     /* DB_HOST (db-mysql) */
    int db_port;           /* DB_PORT (3306) */
    char db_user[64];      /* DB_USER (svc_<name>) */
    char db_password[256]; /* first line of DB_PASSWORD_FILE (empty when unset) */
    char db_name[64];      /* DB_NAME (trip_<name>) */
    int db_pool;           /* DB_POOL (8), 1..64 */
    char user_url[256];    /* USER_URL (http://user:8000) */
    char place_url[256];   /* PLACE_URL (http://place:8000) */
    char place_db[64];     /* PLACE_DB (trip_place): the schema nearspot reads */
    int seed;              /* SVC_SEED (1): load the demo data set at first start */
    int log_level;         /* LOG_LEVEL (info) */
};

struct svc_config_err {
    char msg[256];
};

/* Fills cfg from the environment for the service `name`. Returns false with err->msg naming the
 * variable when a value is malformed or the password file cannot be read. Pure but for getenv
 * and reading DB_PASSWORD_FILE. */
bool svc_config_load(struct svc_config *cfg, const char *name, struct svc_config_err *err);

/* Splits "host:port" (IPv6 as "[::1]:8000"); false when malformed. Pure. */
bool svc_config_parse_listen(const char *s, char *host, unsigned host_size, int *port);

#endif
