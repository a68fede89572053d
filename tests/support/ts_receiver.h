/* ts_receiver.h: runs the real trip-receiver binary for integration tests and talks HTTP to it. */
#ifndef TRIP_TS_RECEIVER_H
#define TRIP_TS_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * DESIGN
 * A struct ts_receiver is one daemon process: a temporary state dir, a free loopback port, stderr
 * captured in <state dir>.log. Started with fork/execv of $TRIP_BINARY_DIR/receiver/trip-receiver
 * (no shell). ts_receiver_stop() kills it when still running and removes the state dir and log.
 * Not thread-safe, except ts_http() which may run from many threads at once.
 */
struct ts_receiver {
    pid_t pid;
    uint16_t port;
    char state_dir[128];
    char log_path[160];
    char *wrap[16]; /* a launcher run before the binary (e.g. setpriv ...), owned, NULL-terminated */
    char base_url[64];
    char *args[32]; /* extra flags, owned copies, NULL-terminated */
};

/* Starts the daemon with --listen 127.0.0.1:<free port> --state-dir <tmp> --refresh-interval 200ms
 * (and --insecure-no-auth unless args give --token* or --basic-auth-user) plus `args` (NULL-terminated extra flags, may be NULL), and waits up to 10 s for GET /healthz.
 * Returns 0, or -1 (the log is printed). */
int ts_receiver_start(struct ts_receiver *r, const char *const *args);
/* ts_receiver_start through a launcher: execv(wrap[0], wrap..., binary, flags...) (at most 15
 * words, no shell), for a start with another identity or other capabilities; the state dir is
 * given to owner:group first (a daemon that is not root must write it). */
int ts_receiver_start_wrapped(struct ts_receiver *r, const char *const *wrap, uid_t owner,
                              gid_t group, const char *const *args);
/* Runs the daemon once with args alone (NULL-terminated, at most 30; no defaults added, no shell),
 * for a start that should fail: waits up to timeout_ms for it to exit, SIGKILLs it after that.
 * Returns its exit status (128 + the signal when a signal ended it), -1 when it still ran at the
 * timeout or could not be started. out (size bytes) gets what it wrote to stderr. */
int ts_receiver_run_once(const char *const *args, int timeout_ms, char *out, size_t size);
/* Starts it again with the same state dir, port and flags (after a kill or stop). */
int ts_receiver_restart(struct ts_receiver *r);
/* SIGKILL and reap. */
void ts_receiver_kill9(struct ts_receiver *r);
/* SIGTERM and wait up to timeout_ms; returns the exit status, or -1 if it had to be killed. */
int ts_receiver_term(struct ts_receiver *r, int timeout_ms);
/* Stops the daemon with SIGTERM when running (SIGKILL after 10 s), prints the log when print_log
 * or when the exit was not clean, removes state dir and log. Returns the exit status (0: clean,
 * which under ASan also means no leak and no error report), -1 when it was not running or had to
 * be killed. */
int ts_receiver_stop(struct ts_receiver *r, bool print_log);
/* True once the daemon's log contains needle (polls up to timeout_ms). */
bool ts_receiver_log_has(const struct ts_receiver *r, const char *needle, int timeout_ms);

/* The state a restart on state_dir reads, from the files as an operator sees them: state.json
 * (an empty table when missing) with the journal's complete records newer than its "generation"
 * applied in order: an entry put in place of the one of the same name, a drop removing it. NULL when either is unreadable. Caller decrefs
 * (a json_t *, declared void * to keep jansson out of this header). */
void *ts_state_doc(const char *state_dir);

struct ts_http_reply {
    long status; /* 0 when the request failed */
    char body[65536];
    char headers[4096];
};
/* ts_http with a JSON body, no token and a reply of any size: the body malloc'd (the caller
 * frees it), NULL when no reply came; *status the HTTP status. */
char *ts_http_alloc(const struct ts_receiver *r, const char *method, const char *path,
                    const char *body, long *status);
/* One HTTP request with libcurl to the daemon. headers: NULL-terminated "Name: value" lines (may
 * be NULL); body may be NULL. Returns 0 when a reply came. Thread-safe. */
int ts_http(const struct ts_receiver *r, const char *method, const char *path,
            const char *const *headers, const char *body, size_t len, struct ts_http_reply *out);
/* ts_http with Content-Type: application/json and, when token is not NULL, Authorization: Bearer.
 */
int ts_http_json(const struct ts_receiver *r, const char *method, const char *path,
                 const char *token, const char *body, struct ts_http_reply *out);

/* A fixture from $TRIP_SAMPLES_DIR with every `"name": "user"` label replaced by container. Caller
 * frees. NULL when the fixture is missing. */
char *ts_fixture_for(const char *fixture, const char *container);
/* Posts that fixture to /webhook (no token); returns the HTTP status, -1 when nothing answered. */
long ts_receiver_post_fixture(const struct ts_receiver *r, const char *fixture,
                              const char *container);

#endif
