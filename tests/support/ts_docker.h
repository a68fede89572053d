/* ts_docker.h: fixtures for tests that need the real Docker Engine (the docker CLI via fork/exec,
 * per-process container names, cleanup, cgroup files, the daemon's event log). */
#ifndef TRIP_TS_DOCKER_H
#define TRIP_TS_DOCKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * DESIGN
 * Every container a test process creates is named "<prefix><suffix>" where the prefix is
 * "trip-it-<pid>-" and carries the label trip.test=1. ts_docker_cleanup() removes exactly the
 * containers whose name starts with this process's prefix; it is registered with atexit() the
 * first time a name is made, and tests should also call it from their cmocka group teardown
 * (ts_docker_group_teardown), so a failing test leaves nothing behind. Helpers run the docker CLI
 * with fork/execvp (no shell). None of these helpers is thread-safe unless it says so.
 */

/* Skips the calling cmocka test when the Docker daemon is unreachable; fails it instead when
 * getenv("CI") is "true". Call at the top of a test (or in a per-test setup), not in a group setup.
 */
void ts_require_docker(void);
/* ts_require_docker() plus: the test image ($TRIP_TEST_IMAGE, default trip-workload:test) exists.
 * Missing image: skip, or fail under CI (tests/support/build-images builds it). */
void ts_require_docker_image(void);
/* True when the daemon answers (docker version). Does not skip or fail. */
bool ts_docker_available(void);

/* $TRIP_TEST_IMAGE or "trip-workload:test". */
const char *ts_test_image(void);

/* "trip-it-<pid>-": the name prefix of every container this process creates. Static storage. */
const char *ts_docker_prefix(void);
/* Writes "<prefix><what>-<n>" into buf (n: a per-process counter) so names never collide between
 * tests of one run or between runs. Returns buf. Registers the atexit cleanup. */
char *ts_docker_name(char *buf, size_t len, const char *what);

/* Runs `docker argv...` (argv NULL-terminated, without "docker") with fork/execvp. stdout is
 * captured into out (NUL-terminated, trailing newline removed, truncated at len-1; out may be NULL
 * to discard); stderr likewise into errout when not NULL. Returns the exit status (0 success),
 * 127 when docker cannot be executed, -1 on a local failure. */
int ts_docker_argv(char *out, size_t len, char *errout, size_t errlen, const char *const *argv);
/* Variadic form of ts_docker_argv: ts_docker(out, len, "inspect", "-f", "{{.Id}}", name, NULL).
 * stderr is passed through to the test's stderr. At most 63 arguments. */
int ts_docker(char *out, size_t len, const char *arg, ...);

/* "trip.test.run=<prefix>": a label every container and service of this run gets, and the
 * receivers it starts pass as --selector, so a test's receiver never touches another run's
 * containers (nor a user's stack beside the suite). */
const char *ts_docker_run_label(void);

/* Creates and starts (docker run -d) a container named `name` from ts_test_image() with
 * --label trip.test=1, each entry of `labels` (NULL-terminated "k=v"; may be NULL) as --label,
 * and the defaults --cpu-shares 512 --memory 1g --stop-timeout 2. The variadic, NULL-terminated
 * arguments follow: docker run options (a later --memory / --cpu-shares overrides the default),
 * then optionally "--" and the container's own arguments (passed to the workload). The full
 * container id goes to id (len >= 65). Returns 0, or the docker exit status (stderr is printed). */
int ts_docker_run_container(char *id, size_t len, const char *name, const char *const *labels, ...);

/* GET http://<ip>:8000<path> of the test image's workload server (tests/support/workload.c, e.g.
 * "/mem/hold?mb=300", "/cpu/start") on the container's bridge address, with a 20 s timeout.
 * Returns the HTTP status, 0 when no reply came. Thread-safe. */
long ts_workload_get(const char *ip, const char *path);

/* Waits up to 30 s for the workload at ip to answer /health 200 (`docker run -d` returns once the
 * container started, possibly before its workload listens); fails the calling cmocka test if not. */
void ts_workload_wait_ready(const char *ip);

/* `docker rm -f` of every container whose name starts with ts_docker_prefix(). Never touches
 * other containers. Safe to call many times. */
void ts_docker_cleanup(void);
/* cmocka group teardown calling ts_docker_cleanup(); returns 0. */
int ts_docker_group_teardown(void **state);

/* `docker inspect -f format target` into out. Returns the docker exit status. */
int ts_docker_inspect(const char *target, const char *format, char *out, size_t len);

/* The engine's socket path: $DOCKER_HOST's when it is unix://..., else /var/run/docker.sock (the
 * engine tests, tests/engines/, point DOCKER_HOST at a test engine). Static or environment storage.
 */
const char *ts_docker_socket(void);
/* The API version a docker-client negotiates with the engine now (DOCKER_API_MAX or the engine's
 * newest), into out. 0, or -1 when the engine cannot be reached. */
int ts_docker_api_in_use(char *out, size_t len);

/* True when the engine is Podman's Docker-compatible API (docs/docker-engine.md lists what
 * differs). */
bool ts_docker_is_podman(void);

/* Cgroup version of this host: 2 when /sys/fs/cgroup/cgroup.controllers exists, else 1. */
int ts_cgroup_version(void);
/* Reads one integer from a container's cgroup file: v1 <ctrl>/docker/<id>/<file> (found through
 * /proc/<pid>/cgroup of the container's init when visible, else /sys/fs/cgroup/<ctrl>/docker/<id>);
 * v2 /sys/fs/cgroup/<path>/<file>. "max" reads as -1. `ctrl` is the v1 controller ("cpu",
 * "memory"). Returns 0 on success, -1 when the file is missing or unreadable (path tried goes to
 * stderr). */
int ts_cgroup_read(const char *id, const char *ctrl, const char *file, int64_t *out);
/* The container's CPU share as the kernel holds it: v1 cpu.shares; v2 cpu.weight converted back
 * is not exact, so *out gets cpu.weight and *is_weight is set. Returns 0 or -1. */
int ts_cgroup_cpu(const char *id, int64_t *out, bool *is_weight);
/* The container's memory limit in bytes: v1 memory.limit_in_bytes, v2 memory.max (-1: max). */
int ts_cgroup_memory_limit(const char *id, int64_t *out);
/* Memory plus swap, Docker's MemorySwap: v1 memory.memsw.limit_in_bytes, v2 memory.max +
 * memory.swap.max (-1 when either is "max"). 0, or -1 when a file is unreadable (v1 without
 * swap accounting has no memsw file). */
int ts_cgroup_memory_swap(const char *id, int64_t *out);
/* runc's conversion of CpuShares to cgroup v2 cpu.weight. */
int64_t ts_cgroup_weight_from_shares(int64_t shares);

/* Wall clock in nanoseconds since the epoch. */
int64_t ts_now_ns(void);
/* The same in milliseconds. */
int64_t ts_now_ms(void);
/* Sleeps ms milliseconds. */
void ts_sleep_ms(int ms);
/* The integer `docker inspect -f format target` prints; fails the test when inspect fails. */
int64_t ts_docker_inspect_i64(const char *target, const char *format);
/* Polls that integer every 50 ms until it equals want: the ms waited, or -1 after timeout_ms. */
int64_t ts_docker_wait_i64(const char *target, const char *format, int64_t want, int timeout_ms);
/* The daemon's events for one container between since_ns and since_ns + window_ms (blocks until
 * that moment has passed), one "timeNano action" line each, in order, into out. Use it as:
 * t0 = ts_now_ns(); act; ts_docker_events(name, t0, 1500, buf, sizeof buf). Returns the docker exit
 * status. */
int ts_docker_events(const char *container, int64_t since_ns, int window_ms, char *out, size_t len);
/* Nanosecond timestamp of the first event `action` (exact match of the action word) at or after
 * from_ns in the text returned by ts_docker_events(), or -1. */
int64_t ts_docker_event_time(const char *events, const char *action, int64_t from_ns);

#endif
