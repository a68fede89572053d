/* actions.h: the action history: a bounded ring of what the daemon did, kept in the state dir. */
#ifndef TRIP_ACTIONS_H
#define TRIP_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Records kept; the oldest is dropped beyond. */
#define ACTIONS_CAPACITY 1000
/* GET /api/v1/actions answers at most this many records per call (and 100 without ?limit=). */
#define ACTIONS_LIMIT_MAX ACTIONS_CAPACITY
#define ACTIONS_LIMIT_DEFAULT 100

typedef enum actions_code {
    ACTIONS_OK = 0,
    ACTIONS_E_IO,      /* open/write/fsync/rename failed (msg has the path and errno text) */
    ACTIONS_E_CORRUPT, /* the history file is not the document we write (msg says where) */
    ACTIONS_E_INVALID, /* a bad query value */
    ACTIONS_E_NOMEM,
} actions_code;

struct actions_err {
    actions_code code;
    char msg[256];
};

/* One action as it ended. Strings are NUL-terminated and valid UTF-8 (cut where too long). */
struct actions_record {
    uint64_t seq;    /* set by actions_add(): 1, 2, ... across restarts */
    int64_t at_ms;   /* wall clock when it ended */
    int64_t took_ms; /* how long it ran (queue wait excluded), 0 when not measured */
    char container[256];
    char kind[16];    /* "container" or "service" */
    char action[32];  /* scale_out_cpu, scale_in_memory, restart, start, heal, ... */
    char trigger[16]; /* "alert", "manual", "timer" or "event" */
    char alertname[128];
    char fingerprint[64];
    char caller[64];  /* remote address of the webhook or API call, "" for the daemon itself */
    char result[32];  /* ok, dry_run, error, unchanged, ... */
    char reason[160]; /* why, for a result other than ok */
    char error[512];  /* Docker's message when result is error */
};

/*
 * DESIGN
 * Any thread calls actions_add() (engine workers, the events watcher); the HTTP threads call
 * actions_query_json(); main calls actions_flush() once a second and at shutdown. One mutex
 * guards the ring, next_seq and the dirty flag. The file is written outside that lock from a
 * snapshot, under a second mutex serializing writers: <dir>/.actions.json.tmp, write, fsync,
 * rename to <dir>/actions.json, so a crash leaves the old or the new file, never a torn one, and
 * loses at most the last second of history.
 */
struct actions;

/* Creates the history for state_dir and loads <state_dir>/actions.json when it exists. A file that
 * cannot be read as ours is renamed to actions.json.corrupt (kept for the operator) and the history
 * starts empty: then ACTIONS_E_CORRUPT is set in err but the object is returned. NULL only when out
 * of memory. Caller frees. */
struct actions *actions_new(const char *state_dir, struct actions_err *err);
/* Does not flush: call actions_flush() first. NULL is a no-op. */
void actions_free(struct actions *a);

/* Appends a copy of r with the next sequence number (r->seq is ignored), dropping the oldest
 * record when full. NULL a is a no-op. Any thread; never blocks on I/O. */
void actions_add(struct actions *a, const struct actions_record *r);

/* Writes the history when it changed since the last successful write. ACTIONS_OK also when
 * nothing was to write; ACTIONS_E_IO keeps it dirty for the next call. Any thread. */
actions_code actions_flush(struct actions *a, struct actions_err *err);

/* Parses the query of GET /api/v1/actions: since (a sequence number: records after it; or an
 * RFC 3339 time such as 2026-11-29T12:00:00Z: records ending at or after it) and limit (1 to
 * ACTIONS_LIMIT_MAX). NULL values take the defaults (all, ACTIONS_LIMIT_DEFAULT). */
struct actions_query {
    uint64_t since_seq;
    int64_t since_ms;
    size_t limit;
};
actions_code actions_query_parse(const char *since, const char *limit, struct actions_query *q,
                                 struct actions_err *err);

/* {"actions":[newest first...], "last_seq": N, "capacity": C} for q. Caller frees; NULL when out
 * of memory. Any thread. */
char *actions_query_json(struct actions *a, const struct actions_query *q);

/* Parses the text of a history file into up to cap records (oldest first) and the next sequence
 * number. Exposed for the fuzzer and the tests; actions_new() uses it. */
actions_code actions_parse(const char *text, size_t len, struct actions_record *out, size_t cap,
                           size_t *n, uint64_t *next_seq, struct actions_err *err);

#endif
