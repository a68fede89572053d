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
 */
struct store;

/* Creates the store for dir (created with mode 0700 when missing). Caller frees. NULL with err on
 * failure. */
struct store *store_new(const char *dir, struct store_err *err);
void store_free(struct store *s);

/* Path of the state file. Valid for the store's lifetime. */
const char *store_path(const struct store *s);

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

/* Test hook: when set, called after the temporary file is written and before it is renamed
 * (a test forks and _exit()s here to simulate a crash mid-save). NULL in the product. */
extern void (*store_crash_hook)(void);

#endif
