/* fuzz_docker_list.c: GET /containers/json replies -> docker_parse_list(). */
#include "docker_internal.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct docker_summary_list l;
    struct docker_err err = {0};
    docker_code code = docker_parse_list((const char *)data, size, &l, &err);

    if (code != DOCKER_OK) {
        FUZZ_CHECK(err.code == code && err.msg[0] != '\0' && fuzz_utf8(err.msg));
        FUZZ_CHECK(l.n == 0 && l.v == NULL);
        return 0;
    }
    FUZZ_CHECK(l.n == 0 || l.v != NULL);
    for (size_t i = 0; i < l.n; i++) {
        const struct docker_summary *s = &l.v[i];

        FUZZ_CHECK(s->id[0] != '\0' && FUZZ_TERMINATED(s->id));
        FUZZ_CHECK(FUZZ_TERMINATED(s->name) && FUZZ_TERMINATED(s->image) &&
                   FUZZ_TERMINATED(s->state));
        for (size_t j = 0; j < s->labels.n; j++)
            FUZZ_CHECK(docker_labels_get(&s->labels, s->labels.v[j].key) != NULL);
    }
    docker_summary_list_free(&l);
    FUZZ_CHECK(l.n == 0 && l.v == NULL);
    return 0;
}
