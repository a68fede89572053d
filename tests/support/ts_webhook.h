/* ts_webhook.h: Alertmanager webhook bodies (payload version 4) for tests, built rather than
 * hand-written. */
#ifndef TRIP_TS_WEBHOOK_H
#define TRIP_TS_WEBHOOK_H

/* One alert of a webhook. labels: NULL or NULL-terminated "k=v" strings added to alertname and the
 * container label `name`. */
struct ts_alert {
    const char *status; /* "firing" or "resolved" */
    const char *alertname;
    const char *container; /* the `name` label */
    const char *fingerprint;
    const char *const *labels;
};

/* The JSON body {"version":"4","status":...,"alerts":[...]} of n alerts. Caller frees; asserts
 * (cmocka) that it could be built. */
char *ts_webhook_body(const struct ts_alert *alerts, int n);

#endif
