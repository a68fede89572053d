/* fuzz_docker_reply.c: the daemon's small replies: error bodies (docker_reply_error), the
 * version range (docker_api_negotiate: the body's first line as ApiVersion, its second as
 * MinAPIVersion), GET /version (also as the engine's identity), /info and /containers/{id}/stats.
 * Input: 2 bytes of HTTP status (big endian, 0..65535), then the body. */
#include "docker_internal.h"
#include "fuzz_common.h"

static void fuzz_error(long status, const char *body, size_t len)
{
    struct docker_err err = {0};
    docker_code code = docker_reply_error(status, body, len, "inspect x", &err);

    size_t ml = strlen(err.msg), nl = strlen(": no such container");
    FUZZ_CHECK(code == docker_code_for_status(status) ||
               (status == 400 && code == DOCKER_E_API_VERSION) ||
               /* Podman's 500 for a container removed meanwhile is not-found */
               (status == 500 && code == DOCKER_E_NOT_FOUND && ml >= nl &&
                strcmp(err.msg + ml - nl, ": no such container") == 0));
    FUZZ_CHECK(err.code == code && err.http_status == (int)status);
    FUZZ_CHECK(FUZZ_TERMINATED(err.msg));
    FUZZ_CHECK(strncmp(err.msg, "inspect x: ", 11) == 0 && err.msg[11] != '\0');
    FUZZ_CHECK(fuzz_utf8(err.msg));
}

static void fuzz_negotiate(const char *body, size_t len)
{
    char max[64];
    char out[16];
    const char *min;
    char *nl;
    struct docker_err err = {0};
    size_t n = len < sizeof(max) - 1 ? len : sizeof(max) - 1;

    memcpy(max, body, n);
    max[n] = '\0';
    nl = strchr(max, '\n');
    if (nl)
        *nl = '\0';
    min = nl ? nl + 1 : "";
    if (docker_api_negotiate(max, min, out, sizeof(out), &err) == DOCKER_OK) {
        FUZZ_CHECK(docker_api_valid(max) && docker_api_valid(out));
        FUZZ_CHECK(docker_api_cmp(out, DOCKER_API_MAX) <= 0 && docker_api_cmp(out, max) <= 0);
        FUZZ_CHECK(docker_api_cmp(out, DOCKER_API_MIN) >= 0);
        FUZZ_CHECK(!min[0] || docker_api_cmp(out, min) >= 0);
    } else if (err.code == DOCKER_E_API_VERSION) {
        FUZZ_CHECK(docker_api_valid(max) && FUZZ_TERMINATED(err.msg));
    } else {
        FUZZ_CHECK(err.code == DOCKER_E_MALFORMED);
        FUZZ_CHECK(!docker_api_valid(max) || (min[0] && !docker_api_valid(min)));
    }
}

static void fuzz_engine(const char *body, size_t len)
{
    struct docker_engine e = {0};
    struct docker_err err = {0};

    if (docker_parse_engine(body, len, &e, &err) == DOCKER_OK)
        FUZZ_CHECK(docker_api_valid(e.api_max) && e.name[0] && FUZZ_TERMINATED(e.version));
    else
        FUZZ_CHECK(err.code == DOCKER_E_MALFORMED);
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
    fuzz_engine(body, size);
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
