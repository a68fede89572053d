/* fuzz_actions.c: the action history file (<state dir>/actions.json) -> actions_parse(), as
 * actions_new() reads it at start. Whatever it accepts must be records we could have written:
 * terminated UTF-8 strings, a container and an action, sequence numbers rising and below next_seq. */
#include "actions.h"
#include "fuzz_common.h"

#define CAP 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct actions_record out[CAP];
    struct actions_err err = {0};
    size_t n = 0;
    uint64_t next = 0;

    actions_code rc = actions_parse((const char *)data, size, out, CAP, &n, &next, &err);
    if (rc != ACTIONS_OK) {
        FUZZ_CHECK(n == 0 && err.code == rc && err.msg[0]);
        return 0;
    }
    FUZZ_CHECK(n <= CAP && next >= 1);
    for (size_t i = 0; i < n; i++) {
        const struct actions_record *r = &out[i];
        FUZZ_CHECK(FUZZ_TERMINATED(r->container) && FUZZ_TERMINATED(r->action));
        FUZZ_CHECK(FUZZ_TERMINATED(r->error) && FUZZ_TERMINATED(r->reason));
        FUZZ_CHECK(fuzz_utf8(r->container) && fuzz_utf8(r->action) && fuzz_utf8(r->error));
        FUZZ_CHECK(fuzz_utf8(r->alertname) && fuzz_utf8(r->caller) && fuzz_utf8(r->reason));
        FUZZ_CHECK(r->container[0] && r->action[0]);
        FUZZ_CHECK(r->seq >= 1 && r->seq < next && (i == 0 || r->seq > out[i - 1].seq));
    }
    return 0;
}
