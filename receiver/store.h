/* store.h: the persisted state table: one JSON document written atomically, reloaded at start. */
#ifndef TRIP_STORE_H
#define TRIP_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum store_code {
    STORE_OK = 0,
    STORE_E_NOTFOUND, /* no state file yet (first start) */
    STORE_E_IO,       /* open/write/fsync/rename failed (msg has the path and errno text) */
    STORE_E_CORRUPT,  /* the file is not the JSON document we wrote */
    STORE_E_NOMEM,
} store_code;

struct store_err {
    store_code code;
    char msg[256];
};

/*
 * DESIGN
 * store_save() may be called from any engine worker. Saves are serialized by a mutex, and each
 * carries a generation number taken when the caller snapshotted its table: a save older than the
 * last one written is skipped, so a slow writer never overwrites a newer state with an older one.
 * Write path: <dir>/.state.json.tmp, write, fsync, rename to <dir>/state.json, fsync the directory.
 * A crash at any point leaves either the old file or the new one, never a torn one.
 * A save that fails (disk full, read-only file system) keeps its text as pending; store_retry()
 * writes the newest pending text, and any later successful save makes it obsolete.
 *
 * The journal (<dir>/journal) holds what is newer than the file at a lower price: one line per
 * record, {"gen": N, "entry": {...}} (one container's state as of generation N) or {"gen": N,
 * "drop": "name"} (its entry removed), appended and
 * fdatasync'd (one sync of a file that exists, where a save needs a new file's sync and the
 * directory's). The write-ahead claim of a scale-out is a record. A save that writes generation G
 * cuts the journal when it holds nothing newer than G; a record at or below the file's generation
 * is stale and skipped on load (so the cut needs no sync). A record cut short by a crash is
 * dropped on load; any other line that is not a record refuses the journal whole.
 */
struct store;

/* Creates the store for dir (created with mode 0700 when missing). Caller frees. NULL with err on
 * failure. */
struct store *store_new(const char *dir, struct store_err *err);
void store_free(struct store *s);

/* Path of the state file. Valid for the store's lifetime. */
const char *store_path(const struct store *s);
/* Path of the journal. Valid for the store's lifetime. */
const char *store_journal_path(const struct store *s);

/* Writes doc atomically unless a save with a higher generation already happened (then STORE_OK,
 * nothing written). Any thread. */
store_code store_save(struct store *s, const json_t *doc, uint64_t generation,
                      struct store_err *err);

/* Writes the state of the newest failed save, if it is still the newest (no later save succeeded).
 * *retried tells whether there was one to write. STORE_OK when written or nothing was pending;
 * STORE_E_IO (kept pending) when it failed again. Any thread. */
store_code store_retry(struct store *s, bool *retried, struct store_err *err);

/* Reads the state file into *doc (caller decrefs). STORE_E_NOTFOUND when there is none. */
store_code store_load(struct store *s, json_t **doc, struct store_err *err);

/* Appends {"gen": generation, kind: value} (kind "entry" or "drop") and syncs it, unless a save of
 * a higher generation is already written (STORE_OK, nothing appended: the file holds newer
 * state). On failure STORE_E_IO, with the journal cut back to what it held. Any thread. */
store_code store_append(struct store *s, const char *kind, const json_t *value,
                        uint64_t generation, struct store_err *err);

/* Bytes in the journal (the writer compacts it with a save past some size). Any thread. */
size_t store_journal_bytes(struct store *s);

/* Reads the journal: *records (caller decrefs) gets its records with a generation above `after`,
 * oldest first; *newest the highest generation in it (0 when it is empty or missing). A torn last
 * line is cut off the file. STORE_E_CORRUPT when another line is not a record. */
store_code store_load_journal(struct store *s, uint64_t after, json_t **records,
                              uint64_t *newest, struct store_err *err);

/* Test hook: when set, called after the temporary file is written and before it is renamed
 * (a test forks and _exit()s here to simulate a crash mid-save). NULL in the product. */
extern void (*store_crash_hook)(void);

#endif
