/* fuzz_alerts.c: the Alertmanager webhook body -> alerts_parse() -> policy_decide(), as the webhook
 * handler runs them. Input: 1 byte choosing the options (default or configured container labels and
 * a small max_alerts), then the body. */
#include "alerts.h"
#include "docker_client.h"
#include "fuzz_policy_check.h"

static void check_record(const struct alerts_record *r)
{
    struct policy_request req;
    struct policy_container unknown = {0};
    struct policy_kv kv[2] = {{"trip.enable", "true"}, {"trip.scale-duration", "1m"}};
    struct policy_container c;

    FUZZ_CHECK(FUZZ_TERMINATED(r->alertname) && FUZZ_TERMINATED(r->container));
    FUZZ_CHECK(FUZZ_TERMINATED(r->fingerprint) && FUZZ_TERMINATED(r->duration));
    FUZZ_CHECK(FUZZ_TERMINATED(r->problem));
    FUZZ_CHECK(r->status == ALERTS_FIRING || r->status == ALERTS_RESOLVED);
    /* the webhook reply and the state file are JSON: every string must stay UTF-8 */
    FUZZ_CHECK(fuzz_utf8(r->alertname) && fuzz_utf8(r->container));
    FUZZ_CHECK(fuzz_utf8(r->fingerprint) && fuzz_utf8(r->duration) && fuzz_utf8(r->problem));
    if (!r->problem[0]) {
        /* a usable record names a container and something to do */
        FUZZ_CHECK(r->container[0] != '\0' && r->action != ALERTS_ACTION_NONE);
        FUZZ_CHECK(r->fingerprint[0] != '\0');
    }
    policy_request_from_alert(&req, r);
    if (r->problem[0])
        FUZZ_CHECK(req.kind == POLICY_NONE);
    fuzz_decide_and_check(&req, &unknown);
    policy_container_from_labels(&c, kv, 2, true);
    fuzz_decide_and_check(&req, &c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"container", "name", "container_label_com_docker_compose_service"};
    struct alerts_opts custom = {.container_labels = names, .n_container_labels = 3,
                                 .cpu_alert = "Cpu", .memory_alert = "Mem", .down_alert = "Down",
                                 .max_alerts = 8};
    struct alerts_batch b;
    struct alerts_err err = {0};
    const struct alerts_opts *o;
    alerts_code code;

    if (size < 1)
        return 0;
    o = data[0] & 1 ? &custom : NULL;
    code = alerts_parse((const char *)data + 1, size - 1, o, &b, &err);
    if (code != ALERTS_OK) {
        FUZZ_CHECK(err.code == code && err.msg[0] != '\0' && FUZZ_TERMINATED(err.msg));
        FUZZ_CHECK(b.n == 0 && b.v == NULL);
        return 0;
    }
    FUZZ_CHECK(b.n <= (o ? o->max_alerts : 1000));
    FUZZ_CHECK(b.n == 0 || b.v != NULL);
    for (size_t i = 0; i < b.n; i++)
        check_record(&b.v[i]);
    FUZZ_CHECK(alerts_action_name(ALERTS_RESTART) && alerts_status_name(ALERTS_FIRING));
    alerts_batch_free(&b);
    return 0;
}
