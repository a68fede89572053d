/* http.h: the HTTP front (libmicrohttpd): routes, auth, body limits, status codes. Never calls
 * Docker. */
#ifndef TRIP_HTTP_H
#define TRIP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "metrics.h"

/*
 * DESIGN
 * libmicrohttpd runs its own polling thread(s) (--http-threads) with MHD_ALLOW_SUSPEND_RESUME.
 * Handlers parse, authenticate and validate, then hand jobs to the engine and return: a webhook is
 * answered at once from the engine's container cache; a manual API call is suspended until its
 * job's done callback (an engine worker) stores the reply and resumes it, or until the reaper
 * thread resumes it with 504 after --request-timeout. `lock` guards the pending list and each
 * pending reply; a pending reply is freed by whichever of the request and the engine lets go last.
 */

typedef enum http_code {
    HTTP_OK = 0,
    HTTP_E_LISTEN, /* could not bind / start the daemon */
    HTTP_E_NOMEM,
} http_code;

struct http_err {
    http_code code;
    char msg[256];
};

struct http;

/* Binds and listens on cfg->listen_host:cfg->listen_port (port 0: any free port): *fd gets the
 * socket (close-on-exec, non-blocking), *port the port bound. */
http_code http_listen(const struct config *cfg, int *fd, uint16_t *port, struct http_err *err);
/* The HTTP process of privilege separation: serves on listen_fd, asking the privileged process on
 * ipc_fd (broker.h) for everything the engine knows or does. Both fds are the server's from now
 * on. cfg must outlive the server. Caller frees with http_free(). */
http_code http_start_fd(const struct config *cfg, int ipc_fd, int listen_fd, struct http **out,
                        struct http_err *err);
/* The same in one process (tests, the fuzzer): listens on cfg's address and talks to a broker
 * thread on e and m over a socketpair, through the same messages. cfg, e and m must outlive the
 * server. Caller frees with http_free(). */
http_code http_start(const struct config *cfg, struct engine *e, struct metrics *m,
                     struct http **out, struct http_err *err);
/* True once the privileged process closed the channel (it stopped or died). */
bool http_channel_closed(struct http *h);
/* The port actually bound. */
uint16_t http_port(const struct http *h);
/* Stops accepting new connections; requests in progress continue. Idempotent. */
void http_quiesce(struct http *h);
/* Resumes every suspended request (504 unless its reply arrived), stops the daemon and the reaper,
 * closes the channel, frees everything. In one process, call after engine_stop() so no done
 * callback can arrive later. NULL-safe. */
void http_free(struct http *h);

/* The manual API's reply to what a job came to: returns the HTTP status and sets *body (caller
 * frees; NULL only when out of memory) to {"container", "result", "reason", "state"?}. Any
 * thread. */
int http_engine_reply(const struct engine_result *res, char **body);

/* {"error": msg, "status": status} (caller frees; NULL only when out of memory). */
char *http_error_json(int status, const char *msg);
/* Docker names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, ids are hex; at most 128 bytes. Pure. */
bool http_valid_name(const char *s, size_t len);
/* The metrics label of route number i, NULL when there is no such route. */
const char *http_route_name(unsigned int i);

/* Constant-time comparison of two NUL-terminated strings (time depends only on their lengths).
 * Returns 1 when equal. Pure. */
int http_secret_equal(const char *a, const char *b);
/* Decodes standard base64 into out (NUL-terminated). Returns the length, or -1 when malformed or
 * longer than size-1. Pure. */
int http_base64_decode(const char *in, char *out, size_t size);

#endif
