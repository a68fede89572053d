/* place_input.c: validation of place bodies and searches. */
#include "place.h"

#include <string.h>

#include "svc_valid.h"

bool place_category_valid(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++) {
        if (!((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_'))
            return false;
    }
    return n >= 1 && n <= PLACE_CATEGORY_MAX;
}

bool place_input_parse(json_t *body, bool partial, struct place_input *in, struct svc_reply *rep)
{
    static const char *const keys[] = {"name", "category", "address", "lat", "lon", NULL};

    memset(in, 0, sizeof(*in));
    if (!svc_valid_keys(body, keys, rep) ||
        !svc_valid_text(body, "name", !partial, 1, PLACE_NAME_MAX, SVC_TEXT_LINE, &in->name, rep) ||
        !svc_valid_text(body, "category", !partial, 1, PLACE_CATEGORY_MAX, SVC_TEXT_LINE,
                        &in->category, rep) ||
        !svc_valid_text(body, "address", false, 0, PLACE_ADDRESS_MAX, SVC_TEXT_LINE, &in->address,
                        rep) ||
        !svc_valid_number(body, "lat", !partial, -90, 90, &in->lat, rep) ||
        !svc_valid_number(body, "lon", !partial, -180, 180, &in->lon, rep))
        return false;
    in->has_lat = json_object_get(body, "lat") != NULL;
    in->has_lon = json_object_get(body, "lon") != NULL;
    if (in->category && !place_category_valid(in->category)) {
        svc_reply_error(rep, 400, "invalid_field", "category: only a-z and _ are allowed");
        return false;
    }
    if (partial && json_object_size(body) == 0) {
        svc_reply_error(rep, 400, "invalid_field", "give at least one field to change");
        return false;
    }
    return true;
}

bool place_query_parse(const struct svc_req *req, struct place_query *q, struct svc_reply *rep)
{
    const char *prefix = svc_req_query(req, "prefix");
    size_t n = 0;

    memset(q, 0, sizeof(*q));
    if (!svc_query_page(req, &q->limit, &q->offset, rep))
        return false;
    q->category = svc_req_query(req, "category");
    if (q->category && *q->category == '\0')
        q->category = NULL;
    if (q->category && !place_category_valid(q->category)) {
        svc_reply_error(rep, 400, "invalid_field", "category: only a-z and _, 1 to 32 long");
        return false;
    }
    prefix = prefix ? prefix : "";
    long chars = svc_utf8_chars(prefix, strlen(prefix));
    if (chars < 0 || chars > PLACE_NAME_MAX) {
        svc_reply_error(rep, 400, "invalid_field", "prefix: valid UTF-8, at most %d characters",
                        PLACE_NAME_MAX);
        return false;
    }
    for (const char *p = prefix; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            q->like[n++] = '\\';
        q->like[n++] = *p;
    }
    q->like[n++] = '%';
    q->like[n] = '\0';
    return true;
}
