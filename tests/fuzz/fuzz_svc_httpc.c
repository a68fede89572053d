/* fuzz_svc_httpc.c: the peer client's answer parser (services/lib/svc_httpc.c): what user and
 * place send back to review and bookmark. Input: the bytes read from the connection. */
#include "fuzz_common.h"

#include "svc_httpc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long status = 0;
    char *body = NULL;
    size_t len = 0;

    if (svc_httpc_parse((const char *)data, size, &status, &body, &len)) {
        FUZZ_CHECK(status >= 200 && status <= 599);
        FUZZ_CHECK(body != NULL && len <= SVC_HTTPC_ANSWER_MAX && body[len] == '\0');
        FUZZ_CHECK(len <= size);
        free(body);
    }
    return 0;
}
