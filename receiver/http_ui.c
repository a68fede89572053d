/* http_ui.c: the routes for people: the status page (/, /ui/...) and the action history
 * (GET /api/v1/actions). */
#include "http_internal.h"

#include <stdlib.h>

#include "actions.h"
#include "engine.h"
#include "ui.h"

enum MHD_Result http_handle_ui(struct req *r, struct MHD_Connection *c)
{
    r->replied = true;
    return ui_queue(c, r->path, &r->status);
}

enum MHD_Result http_handle_actions(struct req *r, struct MHD_Connection *c)
{
    struct actions *a = engine_actions(r->h->e);
    struct actions_query q;
    struct actions_err aerr = {0};

    if (!a)
        return http_queue_error(r, c, 404, "no action history kept");
    if (actions_query_parse(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since"),
                            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit"), &q,
                            &aerr) != ACTIONS_OK)
        return http_queue_error(r, c, 400, "%s", aerr.msg);
    char *text = actions_query_json(a, &q);
    if (!text)
        return http_queue_error(r, c, 500, "out of memory");
    enum MHD_Result ret = http_queue_json(r, c, 200, text);
    free(text);
    return ret;
}
