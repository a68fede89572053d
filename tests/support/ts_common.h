/* ts_common.h: small helpers every test shares (paths from the environment). */
#ifndef TRIP_TS_COMMON_H
#define TRIP_TS_COMMON_H

#include <stddef.h>

/* Reads a whole file into a NUL-terminated heap buffer; *len gets its size. NULL on failure.
 * Caller frees. */
char *ts_read_file(const char *path, size_t *len);
/* Path of a fixture under $TRIP_SAMPLES_DIR (default tests/fixtures of the source tree). Static
 * buffer: not thread-safe. */
const char *ts_fixture(const char *name);
/* True when getenv("CI") is "true": a missing dependency must fail, not skip. */
int ts_in_ci(void);

#endif
