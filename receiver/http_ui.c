/* http_ui.c: the routes for people: the status page (/, /ui/...) and the action history
 * (GET /api/v1/actions). */
#include "http_internal.h"

#include <stdlib.h>

#include "actions.h"
#include "ui.h"

enum MHD_Result http_handle_ui(struct req *r, struct MHD_Connection *c)
{
    r->replied = true;
    return ui_queue(c, r->path, &r->status);
}

/* The query is parsed here; the privileged process checks its bounds again (IPC_ACTIONS). */
enum MHD_Result http_handle_actions(struct req *r, struct MHD_Connection *c)
{
    struct actions_query q;
    struct actions_err aerr = {0};

    if (actions_query_parse(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since"),
                            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit"), &q,
                            &aerr) != ACTIONS_OK)
        return http_queue_error(r, c, 400, "%s", aerr.msg);
    struct ipc_intent in = {.type = IPC_ACTIONS,
                            .since_seq = q.since_seq,
                            .since_ms = q.since_ms,
                            .limit = (uint32_t)q.limit};
    return reply_of(r, c, &in);
}
