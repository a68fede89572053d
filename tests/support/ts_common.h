/* ts_common.h: small helpers every test shares (paths from the environment). */
#ifndef TRIP_TS_COMMON_H
#define TRIP_TS_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Reads a whole file into a NUL-terminated heap buffer; *len gets its size. NULL on failure.
 * Caller frees. */
char *ts_read_file(const char *path, size_t *len);
/* Path of a fixture under $TRIP_SAMPLES_DIR (default tests/fixtures of the source tree). Static
 * buffer: not thread-safe. */
const char *ts_fixture(const char *name);
/* A TCP port on 127.0.0.1 that was free a moment ago (bound and released), 0 when none was found.
 * It is picked at random between TS_PORT_FLOOR and the kernel's ephemeral range, which outgoing
 * connections and Docker's published ports use; another test may still take it before the caller
 * binds it, but no connection does. */
#define TS_PORT_FLOOR 10000u
uint16_t ts_free_port(void);
/* True when getenv("CI") is "true": a missing dependency must fail, not skip. */
int ts_in_ci(void);

/*
 * Skips and the exit status. cmocka 1.1.5 exits 0 after a skip() and after a failed group
 * teardown; ctest would show both as "Passed". A test program therefore skips through these
 * helpers and returns ts_exit_status() from main: 1 when a test or something outside the tests
 * failed, TS_SKIP_CODE (ctest's SKIP_RETURN_CODE, set for every test in tests/CMakeLists.txt)
 * when nothing failed but a test skipped, 0 otherwise. Not thread-safe: call from the test thread.
 */
#define TS_SKIP_CODE 77
/* Skips the calling cmocka test because a dependency (Docker, the test image, prometheus, root) is
 * missing: prints "skipping: <reason>". Under CI=true it fails the test instead. Does not return. */
void ts_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Skips the calling test, under CI=true too, for what cannot exist on this machine (a cgroup v1
 * refusal on a cgroup v2 host, a swarm this test may not leave). Only the tests named in
 * tests/run-all's CI skip list may call it. Does not return. */
void ts_skip_on_this_machine(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Records a failure outside any test (a shared daemon's exit status checked in a group teardown):
 * prints "FAILED: <reason>" and makes ts_exit_status() return 1. */
void ts_fail_outside_tests(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* main's return value from cmocka_run_group_tests()' result (the number of failed tests). */
int ts_exit_status(int failed_tests);

#endif
