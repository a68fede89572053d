/* fuzz_docker_inspect.c: GET /containers/{id}/json replies -> docker_parse_inspect(). */
#include "docker_internal.h"
#include "fuzz_common.h"

static void check_labels(const struct docker_labels *l)
{
    FUZZ_CHECK(l->n == 0 || l->v != NULL);
    for (size_t i = 0; i < l->n; i++) {
        FUZZ_CHECK(l->v[i].key && l->v[i].value);
        /* the first entry with a key is what a lookup returns */
        FUZZ_CHECK(docker_labels_get(l, l->v[i].key) != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct docker_container ct;
    struct docker_err err = {0};
    docker_code code = docker_parse_inspect((const char *)data, size, &ct, &err);

    if (code != DOCKER_OK) {
        FUZZ_CHECK(err.code == code && err.msg[0] != '\0' && fuzz_utf8(err.msg) && FUZZ_TERMINATED(err.msg));
        FUZZ_CHECK(ct.labels.n == 0 && ct.labels.v == NULL);
        return 0;
    }
    FUZZ_CHECK(err.code == DOCKER_OK);
    FUZZ_CHECK(ct.id[0] != '\0' && FUZZ_TERMINATED(ct.id));
    FUZZ_CHECK(FUZZ_TERMINATED(ct.name) && FUZZ_TERMINATED(ct.image));
    FUZZ_CHECK(FUZZ_TERMINATED(ct.status) && FUZZ_TERMINATED(ct.health));
    FUZZ_CHECK(FUZZ_TERMINATED(ct.started_at) && FUZZ_TERMINATED(ct.finished_at));
    check_labels(&ct.labels);
    docker_container_free(&ct);
    FUZZ_CHECK(ct.labels.n == 0 && ct.labels.v == NULL);
    return 0;
}
