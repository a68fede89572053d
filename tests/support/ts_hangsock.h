/* ts_hangsock.h: a fake Docker daemon on a Unix socket that accepts every connection and never
 * answers -- a hang the real daemon cannot be made to produce on demand. */
#ifndef TRIP_TS_HANGSOCK_H
#define TRIP_TS_HANGSOCK_H

/*
 * DESIGN
 * One thread accepts (poll, 50 ms) and keeps every accepted socket open without reading from it,
 * so a client's request sits in the socket buffer until the client gives up. The socket list is
 * touched only by that thread until ts_hangsock_free() has joined it.
 */
struct ts_hangsock;

/* Listens on `path` (removed first when it exists). NULL on failure (printed). */
struct ts_hangsock *ts_hangsock_new(const char *path);
/* Connections accepted so far. Thread-safe. */
int ts_hangsock_accepted(const struct ts_hangsock *h);
/* Stops the thread, closes every connection and the listener, unlinks the path. NULL-safe. */
void ts_hangsock_free(struct ts_hangsock *h);

#endif
