/* ui.c: looks up the status page's compiled-in assets and queues them with strict headers. */
#include "ui.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ui_assets.h"

bool ui_is_path(const char *url)
{
    return strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0 || strncmp(url, "/ui/", 4) == 0;
}

/* The asset for url, or NULL. "/index.html" is "/". */
static const struct ui_asset *find(const char *url)
{
    size_t len = strcspn(url, "?#");

    if (len == strlen("/index.html") && strncmp(url, "/index.html", len) == 0)
        len = 1;
    for (size_t i = 0; i < ui_n_assets; i++) {
        const char *p = ui_assets[i].path;
        if (strlen(p) == len && strncmp(p, url, len) == 0)
            return &ui_assets[i];
    }
    return NULL;
}

static void add_headers(struct MHD_Response *resp)
{
    static const char *const headers[][2] = {
        {"Content-Security-Policy", UI_CSP},
        {"X-Content-Type-Options", "nosniff"},
        {"Referrer-Policy", "no-referrer"},
        {"X-Frame-Options", "DENY"},
        {"Cross-Origin-Opener-Policy", "same-origin"},
        {"Cache-Control", "no-cache"},
    };

    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
        MHD_add_response_header(resp, headers[i][0], headers[i][1]);
}

enum MHD_Result ui_queue(struct MHD_Connection *c, const char *url, int *status)
{
    static const char missing[] = "no such page\n";
    const struct ui_asset *a = find(url);
    char type[64];
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (a) {
        resp =
            MHD_create_response_from_buffer(a->len, (void *)(uintptr_t)a->data, /* never written */
                                            MHD_RESPMEM_PERSISTENT);
        snprintf(type, sizeof(type), "%s; charset=utf-8", a->type);
    } else {
        resp = MHD_create_response_from_buffer(sizeof(missing) - 1, (void *)(uintptr_t)missing,
                                               MHD_RESPMEM_PERSISTENT);
        snprintf(type, sizeof(type), "text/plain; charset=utf-8");
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    add_headers(resp);
    *status = a ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND;
    ret = MHD_queue_response(c, (unsigned int)*status, resp);
    MHD_destroy_response(resp);
    return ret;
}
