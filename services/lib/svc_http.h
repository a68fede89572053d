/* svc_http.h: the HTTP front on libmicrohttpd; turns requests into svc_dispatch calls. */
#ifndef SVC_HTTP_H
#define SVC_HTTP_H

#include "svc_app.h"

struct svc_http;

/* Listens on app->cfg.listen_host:listen_port, one thread per connection (a handler may block
 * on the database or a peer). NULL with errmsg filled when the address cannot be bound. */
struct svc_http *svc_http_start(struct svc_app *app, char *errmsg, size_t size);
/* Stops accepting, finishes or closes open connections, frees. NULL is a no-op. */
void svc_http_stop(struct svc_http *h);

#endif
