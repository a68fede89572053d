/* svc_httpc.h: a minimal HTTP/1.1 GET client for the services' plain-HTTP peers (user, place),
 * on sockets: no TLS, one request per connection (Connection: close), bounded in time and size.
 * It replaces libcurl, whose shared libraries (TLS, Kerberos, LDAP, SSH, HTTP/2) were 2.3 MB of
 * each idle service's 10 MB. */
#ifndef SVC_HTTPC_H
#define SVC_HTTPC_H

#include <stdbool.h>
#include <stddef.h>

#define SVC_HTTPC_ANSWER_MAX (64 * 1024) /* body */
#define SVC_HTTPC_HEAD_MAX (8 * 1024)    /* status line and headers */

enum svc_httpc_status {
    SVC_HTTPC_OK,          /* an answer arrived: status and body set */
    SVC_HTTPC_UNREACHABLE, /* name not resolved, connection refused or timed out: worth a retry */
    SVC_HTTPC_BROKEN,      /* sent, then the connection failed or closed before an answer */
    SVC_HTTPC_TIMEOUT,     /* no whole answer within the total time */
    SVC_HTTPC_BAD_ANSWER,  /* not HTTP/1.x, or over the bounds */
    SVC_HTTPC_BAD_URL,     /* base is not http://host[:port] */
};

struct svc_httpc_answer {
    long status;
    char *body; /* malloc'd, NUL-terminated; the caller frees it */
    size_t body_len;
};

/*
 * GET base + path (base "http://host[:port]", IPv6 as [::1]; path starts with '/'), connecting
 * within connect_ms, the whole exchange within total_ms. On SVC_HTTPC_OK *a is filled. err
 * (optional, errsize bytes) gets a reason otherwise. Any thread.
 */
enum svc_httpc_status svc_httpc_get(const char *base, const char *path, int connect_ms,
                                    int total_ms, struct svc_httpc_answer *a, char *err,
                                    size_t errsize);

/*
 * Parses a complete answer read up to the end of the connection: "HTTP/1.x NNN ...", headers,
 * blank line, then a body framed by Content-Length (which must be there whole), or chunked
 * (decoded into *body), or ending with the connection. False when malformed or over the bounds.
 * On success *body is malloc'd (NUL-terminated). Pure.
 */
bool svc_httpc_parse(const char *buf, size_t len, long *status, char **body, size_t *body_len);

/* Splits "http://host[:port]" (port default 80) into host and port; false when malformed. Pure. */
bool svc_httpc_parse_base(const char *base, char *host, size_t host_size, char *port,
                          size_t port_size);

#endif
