/* store.c: atomic JSON state file. */
#include "store.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "err.h"

void (*store_crash_hook)(void);

struct store {
    char dir[PATH_MAX];
    char path[PATH_MAX];
    char tmp[PATH_MAX];
    pthread_mutex_t lock; /* guards written_gen and the files */
    uint64_t written_gen;
    int have_written;
    char *pending; /* text of the newest save that failed, NULL when none (guarded by lock) */
    uint64_t pending_gen; /* its generation */
};

struct store *store_new(const char *dir, struct store_err *err)
{
    struct store *s;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        ERR_SET(err, STORE_E_IO, "create state dir %s: %s", dir, strerror(errno));
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        ERR_SET(err, STORE_E_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(s->dir, sizeof(s->dir), "%s", dir);
    snprintf(s->path, sizeof(s->path), "%s/state.json", dir);
    snprintf(s->tmp, sizeof(s->tmp), "%s/.state.json.tmp", dir);
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s->pending);
    free(s);
}

const char *store_path(const struct store *s)
{
    return s->path;
}

/* Called with s->lock held. */
static store_code write_locked(struct store *s, const char *text, struct store_err *err)
{
    struct atomic_file_err ferr = {0};

    if (atomic_file_write(s->dir, s->tmp, s->path, text, store_crash_hook, &ferr) != ATOMIC_FILE_OK)
        return ERR_SET(err, STORE_E_IO, "%s", ferr.msg);
    return STORE_OK;
}

/* Called with s->lock held: remembers text (taken) as the newest unwritten state, or frees it
 * when a newer one is already pending. */
static void keep_pending(struct store *s, char *text, uint64_t generation)
{
    if (s->pending && generation < s->pending_gen) {
        free(text);
        return;
    }
    free(s->pending);
    s->pending = text;
    s->pending_gen = generation;
}

/* Called with s->lock held: a written generation makes every older pending text obsolete. */
static void written(struct store *s, uint64_t generation)
{
    s->written_gen = generation;
    s->have_written = 1;
    if (s->pending && s->pending_gen <= generation) {
        free(s->pending);
        s->pending = NULL;
    }
}

store_code store_save(struct store *s, const json_t *doc, uint64_t generation,
                      struct store_err *err)
{
    store_code rc = STORE_OK;
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);

    if (!text) {
        ERR_SET(err, STORE_E_NOMEM, "cannot serialize the state table");
        return STORE_E_NOMEM;
    }
    pthread_mutex_lock(&s->lock);
    if (s->have_written && generation < s->written_gen)
        goto out_unlock;
    rc = write_locked(s, text, err);
    if (rc == STORE_OK) {
        written(s, generation);
    } else {
        keep_pending(s, text, generation);
        text = NULL;
    }
out_unlock:
    pthread_mutex_unlock(&s->lock);
    free(text);
    return rc;
}

store_code store_retry(struct store *s, bool *retried, struct store_err *err)
{
    store_code rc = STORE_OK;

    *retried = false;
    pthread_mutex_lock(&s->lock);
    if (s->pending) {
        *retried = true;
        rc = write_locked(s, s->pending, err);
        if (rc == STORE_OK)
            written(s, s->pending_gen);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

store_code store_load(struct store *s, json_t **doc, struct store_err *err)
{
    json_error_t jerr;

    *doc = NULL;
    pthread_mutex_lock(&s->lock);
    if (access(s->path, F_OK) != 0) {
        pthread_mutex_unlock(&s->lock);
        ERR_SET(err, STORE_E_NOTFOUND, "%s: no state file", s->path);
        return STORE_E_NOTFOUND;
    }
    *doc = json_load_file(s->path, JSON_REJECT_DUPLICATES, &jerr);
    pthread_mutex_unlock(&s->lock);
    if (!*doc) {
        ERR_SET(err, STORE_E_CORRUPT, "%s: line %d: %s", s->path, jerr.line, jerr.text);
        return STORE_E_CORRUPT;
    }
    if (!json_is_object(*doc)) {
        json_decref(*doc);
        *doc = NULL;
        ERR_SET(err, STORE_E_CORRUPT, "%s: not a JSON object", s->path);
        return STORE_E_CORRUPT;
    }
    return STORE_OK;
}
