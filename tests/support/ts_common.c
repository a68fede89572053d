/* ts_common.c: small helpers every test shares. */
#include "ts_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *ts_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out_close;
    buf = malloc((size_t)size + 1);
    if (!buf)
        goto out_close;
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
        goto out_close;
    }
    buf[size] = '\0';
    if (len)
        *len = (size_t)size;
out_close:
    fclose(f);
    return buf;
}

const char *ts_fixture(const char *name)
{
    static char path[4096];
    const char *dir = getenv("TRIP_SAMPLES_DIR");

    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/fixtures", name);
    return path;
}

int ts_in_ci(void)
{
    const char *ci = getenv("CI");
    return ci && strcmp(ci, "true") == 0;
}
