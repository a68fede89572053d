/* svc_fixture.h: the services' integration fixture: a real MariaDB container (the image compose
 * builds, compose/images/mariadb) on a random loopback port, the trip-* binaries of this build
 * as child processes, and a small HTTP client. */
#ifndef SVC_FIXTURE_H
#define SVC_FIXTURE_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#define FX_IMAGE "trip-local/mariadb:10.11"

struct fx_db {
    char name[64];     /* container name, unique to this test process */
    char secrets[128]; /* temp dir holding root and svc-<name>-password files */
    int port;          /* loopback port mapped to 3306, kept across restarts */
};

struct fx_svc {
    char name[16];
    int port;
    pid_t pid;
};

/* Makes sure the image exists (tests/services/mariadb-image builds it), starts the container
 * with services/db/init.sql run by its entrypoint, and waits until svc_user can log in (60 s).
 * False with a message on stderr. When Docker is unreachable outside CI, *skip is set. */
bool fx_db_start(struct fx_db *db, bool *skip);
/* docker restart; waits until the server answers again. */
bool fx_db_restart(struct fx_db *db);
/* docker stop (the server is down until fx_db_start_again). */
bool fx_db_stop_server(struct fx_db *db);
bool fx_db_start_again(struct fx_db *db);
/* Removes the container, its volume and the secrets. */
void fx_db_remove(struct fx_db *db);
/* Runs one SQL statement as root inside the container; the first column of the first row
 * into out (may be NULL). */
bool fx_db_query(struct fx_db *db, const char *sql, char *out, size_t size);

/* Starts build/services/trip-<name> on s->port (a free loopback port when 0) against db, with the
 * peers' URLs pointing at user_port/place_port (0: a closed port), and waits until /ready answers
 * 200 (60 s). extra_env: NULL or "KEY=VALUE" strings, NULL-terminated. */
bool fx_svc_start(struct fx_svc *s, const char *name, const struct fx_db *db, int user_port,
                  int place_port, const char *const *extra_env);
/* Starts the five services against db in dependency order (user, place, then review, bookmark and
 * nearspot pointed at those two), each as fx_svc_start(). False at the first that does not become
 * ready; the ones already started keep running (the caller's teardown stops them). */
bool fx_svc_start_all(const struct fx_db *db, struct fx_svc *user, struct fx_svc *place,
                      struct fx_svc *review, struct fx_svc *bookmark, struct fx_svc *nearspot);
/* Stops those of the five still running, nearspot first and user last, as fx_svc_stop(). False
 * when one did not exit cleanly (its name printed on stderr). */
bool fx_svc_stop_all(struct fx_svc *user, struct fx_svc *place, struct fx_svc *review,
                     struct fx_svc *bookmark, struct fx_svc *nearspot);
/* SIGTERM and wait; returns the exit status (0 expected: also no leak under ASan). */
int fx_svc_stop(struct fx_svc *s);
/* SIGKILL and wait (the process is gone at once). */
void fx_svc_kill(struct fx_svc *s);

/* A free TCP port on 127.0.0.1 outside the ephemeral range (ts_free_port), -1 when none. */
int fx_free_port(void);

/*
 * One HTTP request to 127.0.0.1:port. token (may be NULL) becomes a Bearer header; body (may be
 * NULL) is sent as application/json. Returns the status (0 when no answer); *out gets the
 * parsed JSON answer when out is non-NULL (NULL when none). *ms gets the elapsed time when ms is
 * non-NULL.
 */
long fx_http(int port, const char *method, const char *path, const char *token, const char *body,
             json_t **out, double *ms);
/* Sends raw bytes with a given content type; returns the status. */
long fx_http_raw(int port, const char *method, const char *path, const char *content_type,
                 const char *body, size_t len);

/* GETs path as text into *text (malloc'd, caller frees); returns the status. */
long fx_http_text(int port, const char *path, char **text);

/* Logs demo user n in; returns a malloc'd token or NULL. */
char *fx_login(int user_port, int n);

#endif
