/* fuzz_docker_path.c: container names from outside (alert labels, API paths) into request paths:
 * docker_container_path() must either refuse the name or produce a path whose id segment decodes
 * back to exactly that name and cannot climb out of /containers/ (no '/', no dot segment).
 * Input: the name (bytes after the first NUL are ignored). */
#include "docker_internal.h"
#include "fuzz_common.h"

#include <ctype.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX escapes of s[0..n) into out (room for n + 1); -1 on a bad escape. */
static int unescape(const char *s, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
            return -1;
        out[o++] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
        i += 2;
    }
    out[o] = '\0';
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[DOCKER_PATH_MAX];
    char decoded[DOCKER_PATH_MAX];
    struct docker_err err = {0};
    char *name = fuzz_strndup(data, size);
    static const char prefix[] = "/v1.41/containers/";
    const char *seg;
    const char *end;
    docker_code code;

    if (!name)
        return 0;
    code = docker_container_path("1.41", name, "json", NULL, "inspect", path, sizeof(path), &err);
    if (code != DOCKER_OK) {
        FUZZ_CHECK(code == DOCKER_E_INVALID || code == DOCKER_E_TOOBIG);
        FUZZ_CHECK(err.code == code && err.msg[0] != '\0' && fuzz_utf8(err.msg));
        goto out;
    }
    FUZZ_CHECK(strncmp(path, prefix, sizeof(prefix) - 1) == 0);
    seg = path + sizeof(prefix) - 1;
    end = strchr(seg, '/');
    FUZZ_CHECK(end && strcmp(end, "/json") == 0);
    FUZZ_CHECK(end > seg);
    FUZZ_CHECK(!(end - seg == 1 && seg[0] == '.') && !(end - seg == 2 && seg[0] == '.' &&
                                                      seg[1] == '.'));
    for (const char *p = seg; p < end; p++)
        FUZZ_CHECK(isalnum((unsigned char)*p) || strchr("-_.~%", *p));
    FUZZ_CHECK(unescape(seg, (size_t)(end - seg), decoded) == 0);
    FUZZ_CHECK(strcmp(decoded, name) == 0);
out:
    free(name);
    return 0;
}
