/* fuzz_ipc.c: the privilege-separation channel's decoders, above all the privileged process's
 * (ipc_decode_intent, then broker_check): the bytes a subverted HTTP process could send it.
 * Input: one whole message (12-byte header and payload). An intent that decodes holds only
 * terminated UTF-8 strings without NUL and encodes back to exactly the input bytes (one encoding
 * per intent); the same bytes read as a reply (the HTTP process's decoder) never overrun either. */
#include "broker.h"
#include "fuzz_common.h"
#include "http.h"
#include "ipc.h"

static void check_intent(const uint8_t *data, size_t size)
{
    struct ipc_intent in;
    struct ipc_err err = {0};
    uint8_t back[IPC_HDR_SIZE + IPC_MAX_INTENT];
    char why[160];

    if (ipc_decode_intent(data, size, &in, &err) != IPC_OK) {
        FUZZ_CHECK(err.code != IPC_OK && FUZZ_TERMINATED(err.msg) && err.msg[0]);
        return;
    }
    FUZZ_CHECK(size <= IPC_HDR_SIZE + IPC_MAX_INTENT);
    FUZZ_CHECK(in.type >= IPC_ALERT && in.type <= IPC_INTENT_MAX);
    FUZZ_CHECK(FUZZ_TERMINATED(in.container) && fuzz_utf8(in.container));
    FUZZ_CHECK(FUZZ_TERMINATED(in.fingerprint) && fuzz_utf8(in.fingerprint));
    FUZZ_CHECK(FUZZ_TERMINATED(in.alertname) && fuzz_utf8(in.alertname));
    FUZZ_CHECK(FUZZ_TERMINATED(in.duration) && fuzz_utf8(in.duration));
    FUZZ_CHECK(FUZZ_TERMINATED(in.remote) && fuzz_utf8(in.remote));
    FUZZ_CHECK(FUZZ_TERMINATED(in.problem) && fuzz_utf8(in.problem));
    size_t n = ipc_encode_intent(&in, back, sizeof(back));
    FUZZ_CHECK(n == size && memcmp(back, data, size) == 0);
    if (broker_check(&in, why, sizeof(why)) != 0) {
        FUZZ_CHECK(FUZZ_TERMINATED(why) && why[0]);
        return;
    }
    /* what the broker acts on: names of Docker's form where it names a container */
    if (in.type == IPC_JOB || in.type == IPC_MAINTENANCE)
        FUZZ_CHECK(http_valid_name(in.container, strlen(in.container)));
    if (in.type == IPC_COUNT_REQUEST)
        FUZZ_CHECK(http_route_name(in.route) != NULL);
}

static void check_reply(const uint8_t *data, size_t size)
{
    struct ipc_reply r;
    struct ipc_err err = {0};

    if (ipc_decode_reply(data, size, &r, &err) != IPC_OK)
        return;
    FUZZ_CHECK(FUZZ_TERMINATED(r.reason));
    FUZZ_CHECK(!r.body || strlen(r.body) == r.body_len);
    uint8_t *back = NULL;
    size_t n = ipc_encode_reply(&r, &back);
    FUZZ_CHECK(n == size && memcmp(back, data, size) == 0);
    free(back);
    ipc_reply_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_intent(data, size);
    check_reply(data, size);
    return 0;
}
