/* atomic_file.h: replace a file's text so a reader sees the old or the new text, never half. */
#ifndef TRIP_ATOMIC_FILE_H
#define TRIP_ATOMIC_FILE_H

typedef enum {
    ATOMIC_FILE_OK = 0,
    ATOMIC_FILE_E_WRITE,    /* the temporary file could not be opened, written or synced */
    ATOMIC_FILE_E_RENAME,   /* it could not replace the target */
    ATOMIC_FILE_E_SYNC_DIR, /* the target holds the new text, but the directory was not synced */
} atomic_file_code;

struct atomic_file_err {
    atomic_file_code code;
    char msg[256];
};

/* Writes text and a newline to tmp (opened O_NOFOLLOW, mode 0600: a symlink planted there is
 * refused, never written through), fsyncs it, renames it over path and fsyncs dir (the directory
 * holding both). before_sync (may be NULL) runs between the write and the fsync; tests use it to
 * crash there. On a failure before the rename the temporary file is removed and path is untouched.
 * Fills err (may be NULL) with "what <file>: why". The caller serialises writes to the same tmp. */
atomic_file_code atomic_file_write(const char *dir, const char *tmp, const char *path,
                                   const char *text, void (*before_sync)(void),
                                   struct atomic_file_err *err);

#endif
