/* ts_proxy.h: a Unix-socket byte forwarder between a temporary socket and the Docker socket, which
 * a test can cut (every connection dropped, no new ones) and bring back: a daemon connection loss
 * the real daemon cannot be made to produce on demand. */
#ifndef TRIP_TS_PROXY_H
#define TRIP_TS_PROXY_H

#include <stdbool.h>

/*
 * DESIGN
 * One acceptor thread polls the listening socket every 50 ms; each accepted connection gets a
 * forwarding thread (poll on both ends, copy both ways). `lock` guards the connection table.
 * ts_proxy_cut() stops the acceptor, shuts every connection down, joins their threads and
 * removes the socket file, so connecting fails (ENOENT) like a daemon that is gone;
 * ts_proxy_resume() listens again on the same path.
 */
struct ts_proxy;

/* Listens on a fresh temporary socket forwarding to target (a socket path, e.g.
 * /var/run/docker.sock). NULL on failure (printed). */
struct ts_proxy *ts_proxy_new(const char *target);
/* "unix:///tmp/...": the value for --docker-host. */
const char *ts_proxy_url(const struct ts_proxy *p);
/* Drops every connection and stops listening. Idempotent. */
void ts_proxy_cut(struct ts_proxy *p);
/* Listens again after a cut. Returns 0, -1 on failure. */
int ts_proxy_resume(struct ts_proxy *p);
/* Calls hook(ud) once, on the forwarding thread, when a client sends bytes starting with prefix
 * (e.g. "POST /v1.41/services/"), before those bytes reach the daemon: a request held at a
 * precise moment, so that a test can change something at the real daemon in between (an
 * out-of-band update racing the client's own). Set it before the client connects. */
void ts_proxy_on_request(struct ts_proxy *p, const char *prefix, void (*hook)(void *ud), void *ud);
#define TS_PROXY_MAX_COUNTS 8
/* How many requests whose request line contains needle (e.g. "/services") clients sent through the
 * proxy since the needle was first asked for: the first call registers it and returns 0 (at most
 * TS_PROXY_MAX_COUNTS needles; -1 beyond). What a client asked of the daemon, counted where the
 * daemon cannot tell one client from another. */
long ts_proxy_count(struct ts_proxy *p, const char *needle);
/* Cuts and frees. NULL-safe. */
void ts_proxy_free(struct ts_proxy *p);

#endif
