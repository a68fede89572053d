/* ui.h: the status page, served from assets compiled into the binary (GET / and /ui/...). */
#ifndef TRIP_UI_H
#define TRIP_UI_H

#include <microhttpd.h>
#include <stdbool.h>

/* The Content-Security-Policy every page reply carries: own scripts, styles and API only. */
#define UI_CSP                                                                                     \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "                \
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* True when url belongs to the page: "/", "/index.html" or anything under "/ui/". */
bool ui_is_path(const char *url);

/* Queues on c the asset for url (a query string is ignored): 200 with its Content-Type, the CSP,
 * nosniff, no-referrer, frame denial and no-cache headers; or a 404 in plain text. *status gets the
 * code. Any thread (the assets are constant). Returns what MHD_queue_response() returned. */
enum MHD_Result ui_queue(struct MHD_Connection *c, const char *url, int *status);

#endif
