/* ts_webhook.c: Alertmanager webhook bodies for tests (see ts_webhook.h). */
#include "ts_webhook.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

static json_t *alert_json(const struct ts_alert *a)
{
    json_t *labels = json_pack("{s:s, s:s}", "alertname", a->alertname, "name", a->container);

    for (const char *const *l = a->labels; labels && l && *l; l++) {
        const char *eq = strchr(*l, '=');
        assert_non_null(eq);
        json_t *key = json_stringn(*l, (size_t)(eq - *l));
        json_object_set_new(labels, json_string_value(key), json_string(eq + 1));
        json_decref(key);
    }
    return json_pack("{s:s, s:o, s:{}, s:s, s:s, s:s}", "status", a->status, "labels", labels,
                     "annotations", "startsAt", "2026-01-01T00:00:00Z", "endsAt",
                     strcmp(a->status, "resolved") == 0 ? "2026-01-01T00:05:00Z"
                                                        : "0001-01-01T00:00:00Z",
                     "fingerprint", a->fingerprint);
}

char *ts_webhook_body(const struct ts_alert *alerts, int n)
{
    json_t *arr = json_array();

    for (int i = 0; arr && i < n; i++)
        json_array_append_new(arr, alert_json(&alerts[i]));
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:o}", "version", "4", "status",
                  n > 0 ? alerts[0].status : "firing", "receiver", "trip-receiver", "alerts", arr);
    assert_non_null(doc);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_non_null(text);
    return text;
}
