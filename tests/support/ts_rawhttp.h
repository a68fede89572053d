/* ts_rawhttp.h: byte-exact HTTP over a plain TCP socket, for requests libcurl would repair
 * (dot segments, HTTP/1.0, pipelining, slow or oversized senders). */
#ifndef TRIP_TS_RAWHTTP_H
#define TRIP_TS_RAWHTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ts_raw_reply {
    int status;         /* status code of the first response, 0 when none came */
    int responses;      /* number of complete responses (by Content-Length) */
    int statuses[8];    /* status of each of the first 8 responses */
    bool closed;        /* the server closed the connection (EOF or reset) */
    bool reset;         /* ... with a reset rather than an orderly close */
    int64_t elapsed_ms; /* from connect until EOF or the timeout */
    size_t received;    /* bytes received (text keeps the first sizeof(text) - 1) */
    char text[65536];   /* everything received, NUL-terminated */
};

/* Connects to 127.0.0.1:port (blocking). Returns the socket or -1. */
int ts_raw_connect(uint16_t port);
/* Sends all of buf on fd. Returns 0, or -1 when the peer closed or reset. */
int ts_raw_send(int fd, const void *buf, size_t len);
/* Reads from fd into out until the peer closes or timeout_ms passes without the connection
 * closing; stops early once `want_responses` complete responses (by Content-Length) arrived when
 * want_responses > 0. Does not close fd. */
void ts_raw_read(int fd, int timeout_ms, int want_responses, struct ts_raw_reply *out);
/* connect + send + read (want_responses 0: until close or timeout) + close. Returns 0, or -1 when
 * the connection could not be made. */
int ts_raw_exchange(uint16_t port, const char *req, size_t len, int timeout_ms,
                    struct ts_raw_reply *out);
/* Builds "METHOD path HTTP/1.1" with Host, Connection: close, the optional Authorization: Bearer
 * token and Content-Type (NULL: left out) and Content-Length of body (NULL: no body). Caller frees.
 */
char *ts_raw_request(const char *method, const char *path, const char *token, const char *ctype,
                     const char *body, size_t *len);
/* Body of the first response in r (after the blank line), or "" . Points into r->text. */
const char *ts_raw_body(const struct ts_raw_reply *r);

#endif
