/* fuzz_docker_reply.c: the daemon's small replies: error bodies (docker_reply_error), the
 * Api-Version header (docker_api_negotiate, as taken from GET /_ping), GET /version, /info and
 * /containers/{id}/stats.
 * Input: 2 bytes of HTTP status (big endian, 0..65535), then the body. */
#include "docker_internal.h"
#include "fuzz_common.h"

static void fuzz_error(long status, const char *body, size_t len)
{
    struct docker_err err = {0};
    docker_code code = docker_reply_error(status, body, len, "inspect x", &err);

    FUZZ_CHECK(code == docker_code_for_status(status));
    FUZZ_CHECK(err.code == code && err.http_status == (int)status);
    FUZZ_CHECK(FUZZ_TERMINATED(err.msg));
    FUZZ_CHECK(strncmp(err.msg, "inspect x: ", 11) == 0 && err.msg[11] != '\0');
    FUZZ_CHECK(fuzz_utf8(err.msg));
}

static void fuzz_negotiate(const char *body, size_t len)
{
    char hdr[64];
    char out[16];
    struct docker_err err = {0};
    size_t n = len < sizeof(hdr) - 1 ? len : sizeof(hdr) - 1;

    memcpy(hdr, body, n);
    hdr[n] = '\0';
    if (docker_api_negotiate(hdr, out, sizeof(out), &err) == DOCKER_OK) {
        FUZZ_CHECK(docker_api_valid(hdr));
        FUZZ_CHECK(docker_api_valid(out));
    } else {
        FUZZ_CHECK(!docker_api_valid(hdr) && err.code == DOCKER_E_MALFORMED);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct docker_version v;
    struct docker_info info;
    struct docker_stats st;
    struct docker_err err = {0};
    const char *body;
    long status;

    if (size < 2)
        return 0;
    status = (long)data[0] << 8 | data[1];
    body = (const char *)data + 2;
    size -= 2;
    fuzz_error(status, body, size);
    fuzz_negotiate(body, size);
    if (docker_parse_version(body, size, &v, &err) == DOCKER_OK)
        FUZZ_CHECK(docker_api_valid(v.api_version) && FUZZ_TERMINATED(v.kernel));
    else
        FUZZ_CHECK(err.code == DOCKER_E_MALFORMED && v.api_version[0] == '\0');
    memset(&err, 0, sizeof(err));
    if (docker_parse_info(body, size, &info, &err) == DOCKER_OK)
        FUZZ_CHECK(info.cgroup_version >= 0 && info.cgroup_version <= 2);
    memset(&err, 0, sizeof(err));
    (void)docker_parse_stats(body, size, &st, &err);
    return 0;
}
