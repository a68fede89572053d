/* store.c: atomic JSON state file. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
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
    char jpath[PATH_MAX]; /* the journal (guarded by lock, as the two below) */
    off_t jlen;           /* its length: a failed append is cut back to it */
    uint64_t jgen;        /* the newest generation in it, 0 when it holds no record */
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
    snprintf(s->jpath, sizeof(s->jpath), "%s/journal", dir);
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

const char *store_journal_path(const struct store *s)
{
    return s->jpath;
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

/* Called with s->lock held: opens the journal for writing, by path every time (a file system
 * mounted over the directory meanwhile is where it goes, as for the state file), O_NOFOLLOW (a
 * planted symlink is refused). A journal this call creates is made durable by an fsync of the
 * directory. -1 (err filled) on failure. */
static int journal_open(struct store *s, struct store_err *err)
{
    int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
    int fd = open(s->jpath, flags);

    if (fd >= 0 || errno != ENOENT) {
        if (fd < 0)
            ERR_SET(err, STORE_E_IO, "open %s: %s", s->jpath, strerror(errno));
        return fd;
    }
    fd = open(s->jpath, flags | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        ERR_SET(err, STORE_E_IO, "open %s: %s", s->jpath, strerror(errno));
        return -1;
    }
    int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        ERR_SET(err, STORE_E_IO, "fsync %s: %s", s->dir, strerror(errno));
        if (dfd >= 0)
            close(dfd);
        close(fd);
        return -1;
    }
    close(dfd);
    return fd;
}

/* Called with s->lock held: cuts the journal to len bytes. */
static int journal_cut(struct store *s, off_t len, struct store_err *err)
{
    int fd = journal_open(s, err);
    int rc = fd >= 0 ? ftruncate(fd, len) : -1;

    if (fd >= 0 && rc != 0)
        ERR_SET(err, STORE_E_IO, "truncate %s: %s", s->jpath, strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Called with s->lock held: a written generation makes every older pending text obsolete, and
 * the journal too once the file holds all of it. The cut needs no sync: a record that survives a
 * crash is older than the file and skipped on load. */
static void written(struct store *s, uint64_t generation)
{
    s->written_gen = generation;
    s->have_written = 1;
    if (s->pending && s->pending_gen <= generation) {
        free(s->pending);
        s->pending = NULL;
    }
    if (s->jlen > 0 && s->jgen <= generation && journal_cut(s, 0, NULL) == 0) {
        s->jlen = 0;
        s->jgen = 0;
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

size_t store_journal_bytes(struct store *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = (size_t)s->jlen;
    pthread_mutex_unlock(&s->lock);
    return n;
}

store_code store_append(struct store *s, const char *kind, const json_t *value,
                        uint64_t generation, struct store_err *err)
{
    json_t *rec = json_pack("{s:I, s:O}", "gen", (json_int_t)generation, kind, value);
    char *text = rec ? json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    store_code rc = STORE_OK;

    json_decref(rec);
    if (!text) {
        ERR_SET(err, STORE_E_NOMEM, "cannot serialize the journal record");
        return STORE_E_NOMEM;
    }
    size_t len = strlen(text);
    text[len++] = '\n'; /* json_dumps' terminator: the record is one line, NUL no longer needed */
    pthread_mutex_lock(&s->lock);
    if (s->have_written && generation < s->written_gen)
        goto out_unlock; /* the file already holds a newer table */
    int fd = journal_open(s, err);
    if (fd < 0) {
        rc = STORE_E_IO;
        goto out_unlock;
    }
    ssize_t n;
    do
        n = write(fd, text, len);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)len || fdatasync(fd) != 0) {
        rc = ERR_SET(err, STORE_E_IO, "append %s: %s", s->jpath,
                     n >= 0 && n != (ssize_t)len ? "short write" : strerror(errno));
        if (ftruncate(fd, s->jlen) != 0) /* no torn record for the next one to follow */
            rc = ERR_SET(err, STORE_E_IO, "truncate %s: %s", s->jpath, strerror(errno));
        close(fd);
        goto out_unlock;
    }
    close(fd);
    s->jlen += (off_t)len;
    if (generation > s->jgen)
        s->jgen = generation;
out_unlock:
    pthread_mutex_unlock(&s->lock);
    free(text);
    return rc;
}

/* One line of the journal, {"gen": N >= 1} with either "entry": {"name": non-empty string, ...}
 * or "drop": non-empty string; the record (caller decrefs), or NULL with why. */
static json_t *parse_record(const char *line, size_t len, uint64_t *gen, char *why, size_t size)
{
    json_error_t jerr;
    json_t *rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *g = json_object_get(rec, "gen");
    const json_t *entry = json_object_get(rec, "entry");
    const char *name = json_string_value(json_object_get(entry, "name"));
    const char *drop = json_string_value(json_object_get(rec, "drop"));
    bool is_entry = json_is_object(entry) && name && *name;
    bool is_drop = drop && *drop;

    if (!rec) {
        snprintf(why, size, "%s", jerr.text);
        return NULL;
    }
    if (!json_is_integer(g) || json_integer_value(g) < 1 || is_entry == is_drop ||
        json_object_size(rec) != 2) {
        snprintf(why, size, "not a record {\"gen\": N, \"entry\": {\"name\": ...}} or "
                            "{\"gen\": N, \"drop\": name}");
        json_decref(rec);
        return NULL;
    }
    *gen = (uint64_t)json_integer_value(g);
    return rec;
}

store_code store_load_journal(struct store *s, uint64_t after, json_t **records,
                              uint64_t *newest, struct store_err *err)
{
    store_code rc = STORE_OK;
    size_t len = 0, good = 0;
    char *text = NULL;
    int fd;

    *records = json_array();
    *newest = 0;
    if (!*records)
        return ERR_SET(err, STORE_E_NOMEM, "out of memory");
    pthread_mutex_lock(&s->lock);
    fd = open(s->jpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT)
            rc = ERR_SET(err, STORE_E_IO, "open %s: %s", s->jpath, strerror(errno));
        goto out_unlock;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = ERR_SET(err, STORE_E_IO, "%s: not a regular file", s->jpath);
        goto out_close;
    }
    text = malloc((size_t)st.st_size + 1);
    if (!text) {
        rc = ERR_SET(err, STORE_E_NOMEM, "out of memory reading %s", s->jpath);
        goto out_close;
    }
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, text + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = ERR_SET(err, STORE_E_IO, "read %s: %s", s->jpath, strerror(errno));
            goto out_close;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    for (size_t line = 1; good < len; line++) {
        char *nl = memchr(text + good, '\n', len - good);
        if (!nl)
            break; /* a record cut short by a crash mid-append: never acted on, dropped */
        uint64_t gen = 0;
        char why[160];
        json_t *rec = parse_record(text + good, (size_t)(nl - (text + good)), &gen, why,
                                   sizeof(why));
        if (!rec) {
            rc = ERR_SET(err, STORE_E_CORRUPT, "%s: line %zu: %s", s->jpath, line, why);
            goto out_close;
        }
        if (gen > after)
            json_array_append(*records, rec);
        json_decref(rec);
        if (gen > *newest)
            *newest = gen;
        good = (size_t)(nl + 1 - text);
    }
    s->jlen = (off_t)good;
    s->jgen = *newest;
    if (good < len) { /* cut the torn tail off, so the next record starts on a line of its own */
        if (journal_cut(s, (off_t)good, err) != 0)
            rc = STORE_E_IO;
    }
out_close:
    close(fd);
out_unlock:
    pthread_mutex_unlock(&s->lock);
    free(text);
    if (rc != STORE_OK) {
        json_decref(*records);
        *records = NULL;
        *newest = 0;
    }
    return rc;
}
