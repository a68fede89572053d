/* actions.c: the action history ring, its JSON views and its file <state dir>/actions.json. */
#define _XOPEN_SOURCE 700 /* strptime */
#include "actions.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "utf8.h"

#define FILE_VERSION 1

struct actions {
    char dir[PATH_MAX];
    char path[PATH_MAX];
    char tmp[PATH_MAX];
    pthread_mutex_t lock;        /* ring, head, n, next_seq, dirty */
    pthread_mutex_t write_lock;  /* the files: one writer at a time */
    struct actions_record *ring; /* ACTIONS_CAPACITY slots */
    size_t head;                 /* slot of the oldest record */
    size_t n;
    uint64_t next_seq;
    uint64_t dirty; /* changes since the last write; 0: the file is current */
};

static void set_err(struct actions_err *err, actions_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(struct actions_err *err, actions_code code, const char *fmt, ...)
{
    va_list ap;

    if (!err || err->code != ACTIONS_OK)
        return;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

/* ---- one record <-> JSON ---- */

/* The string fields, one row each: a new field is a new row. */
#define STR_FIELD(name)                                                                            \
    {                                                                                              \
#name, offsetof(struct actions_record, name), sizeof(((struct actions_record *)0)->name)   \
    }
static const struct {
    const char *key;
    size_t off;
    size_t size;
} str_fields[] = {STR_FIELD(container), STR_FIELD(kind),      STR_FIELD(action),
                  STR_FIELD(trigger),   STR_FIELD(alertname), STR_FIELD(fingerprint),
                  STR_FIELD(caller),    STR_FIELD(result),    STR_FIELD(reason),
                  STR_FIELD(error)};
#define N_STR (sizeof(str_fields) / sizeof(str_fields[0]))

static json_t *time_json(int64_t ms)
{
    char buf[40];
    struct tm tm;
    time_t s = (time_t)(ms / 1000);

    if (ms <= 0 || !gmtime_r(&s, &tm))
        return json_null();
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(ms % 1000));
    return json_string(buf);
}

static json_t *record_json(const struct actions_record *r)
{
    json_t *o =
        json_pack("{s:I, s:o, s:I, s:I}", "seq", (json_int_t)r->seq, "at", time_json(r->at_ms),
                  "at_ms", (json_int_t)r->at_ms, "took_ms", (json_int_t)r->took_ms);

    for (size_t i = 0; o && i < N_STR; i++)
        json_object_set_new(o, str_fields[i].key, json_string((const char *)r + str_fields[i].off));
    return o;
}

/* Fills r from o; false when o is not a record as record_json() writes it. */
static bool record_from_json(const json_t *o, struct actions_record *r)
{
    const json_t *seq = json_object_get(o, "seq");
    const json_t *at = json_object_get(o, "at_ms");
    const json_t *took = json_object_get(o, "took_ms");

    memset(r, 0, sizeof(*r));
    if (!json_is_object(o) || !json_is_integer(seq) || !json_is_integer(at) ||
        json_integer_value(seq) <= 0 || json_integer_value(at) < 0)
        return false;
    r->seq = (uint64_t)json_integer_value(seq);
    r->at_ms = (int64_t)json_integer_value(at);
    r->took_ms = json_is_integer(took) ? (int64_t)json_integer_value(took) : 0;
    for (size_t i = 0; i < N_STR; i++) {
        const json_t *s = json_object_get(o, str_fields[i].key);
        if (s && !json_is_string(s))
            return false;
        utf8_copy((char *)r + str_fields[i].off, str_fields[i].size, json_string_value(s));
    }
    return r->container[0] && r->action[0];
}

actions_code actions_parse(const char *text, size_t len, struct actions_record *out, size_t cap,
                           size_t *n, uint64_t *next_seq, struct actions_err *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, 0, &jerr);
    const json_t *arr = json_object_get(doc, "actions");
    const json_t *next = json_object_get(doc, "next_seq");
    const json_t *v;
    size_t i, skip;

    *n = 0;
    *next_seq = 1;
    if (!doc) {
        set_err(err, ACTIONS_E_CORRUPT, "not JSON: %s (line %d)", jerr.text, jerr.line);
        return ACTIONS_E_CORRUPT;
    }
    if (json_integer_value(json_object_get(doc, "version")) != FILE_VERSION ||
        !json_is_array(arr) || !json_is_integer(next) || json_integer_value(next) < 1) {
        set_err(err, ACTIONS_E_CORRUPT, "not an action history of version %d", FILE_VERSION);
        json_decref(doc);
        return ACTIONS_E_CORRUPT;
    }
    *next_seq = (uint64_t)json_integer_value(next);
    skip = json_array_size(arr) > cap ? json_array_size(arr) - cap : 0; /* keep the newest */
    json_array_foreach(arr, i, v)
    {
        if (i < skip)
            continue;
        if (!record_from_json(v, &out[*n]) || out[*n].seq >= *next_seq ||
            (*n > 0 && out[*n].seq <= out[*n - 1].seq)) {
            set_err(err, ACTIONS_E_CORRUPT, "record %zu is not one we wrote", i);
            *n = 0;
            json_decref(doc);
            return ACTIONS_E_CORRUPT;
        }
        (*n)++;
    }
    json_decref(doc);
    return ACTIONS_OK;
}

/* ---- the ring ---- */

static const struct actions_record *at(const struct actions *a, size_t i)
{
    return &a->ring[(a->head + i) % ACTIONS_CAPACITY];
}

void actions_add(struct actions *a, const struct actions_record *r)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    size_t slot = (a->head + a->n) % ACTIONS_CAPACITY;
    if (a->n == ACTIONS_CAPACITY)
        a->head = (a->head + 1) % ACTIONS_CAPACITY;
    else
        a->n++;
    a->ring[slot] = *r;
    a->ring[slot].seq = a->next_seq++;
    a->dirty++;
    pthread_mutex_unlock(&a->lock);
}

static bool wanted(const struct actions_record *r, const struct actions_query *q)
{
    return r->seq > q->since_seq && r->at_ms >= q->since_ms;
}

char *actions_query_json(struct actions *a, const struct actions_query *q)
{
    json_t *arr = json_array();
    char *text = NULL;

    pthread_mutex_lock(&a->lock);
    for (size_t i = a->n; arr && i > 0 && json_array_size(arr) < q->limit; i--) {
        const struct actions_record *r = at(a, i - 1);
        if (!wanted(r, q))
            break; /* older ones have smaller seq and (mostly) earlier times */
        json_array_append_new(arr, record_json(r));
    }
    json_t *doc = json_pack("{s:o, s:I, s:i}", "actions", arr, "last_seq",
                            (json_int_t)(a->next_seq - 1), "capacity", ACTIONS_CAPACITY);
    pthread_mutex_unlock(&a->lock);
    if (doc)
        text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

/* ---- query ---- */

/* "2026-11-29T12:00:00Z", optional ".123" and "Z" or "+00:00". */
static int parse_time(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    long frac = 0;

    if (!p)
        return -1;
    if (*p == '.') {
        char *end;
        frac = strtol(p + 1, &end, 10);
        if (end == p + 1 || end - p - 1 > 3)
            return -1;
        for (long d = end - p - 1; d < 3; d++)
            frac *= 10;
        p = end;
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0 && *p != '\0')
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

actions_code actions_query_parse(const char *since, const char *limit, struct actions_query *q,
                                 struct actions_err *err)
{
    char *end;

    q->since_seq = 0;
    q->since_ms = 0;
    q->limit = ACTIONS_LIMIT_DEFAULT;
    if (limit) {
        errno = 0;
        long long v = strtoll(limit, &end, 10);
        if (errno || end == limit || *end || v < 1 || v > ACTIONS_LIMIT_MAX) {
            set_err(err, ACTIONS_E_INVALID, "limit must be a number from 1 to %d",
                    ACTIONS_LIMIT_MAX);
            return ACTIONS_E_INVALID;
        }
        q->limit = (size_t)v;
    }
    if (!since)
        return ACTIONS_OK;
    if (strspn(since, "0123456789") == strlen(since) && *since && strlen(since) <= 19) {
        q->since_seq = strtoull(since, NULL, 10);
        return ACTIONS_OK;
    }
    if (parse_time(since, &q->since_ms) != 0) {
        set_err(err, ACTIONS_E_INVALID,
                "since must be a sequence number or a time such as 2026-11-29T12:00:00Z");
        return ACTIONS_E_INVALID;
    }
    return ACTIONS_OK;
}

/* ---- file ---- */

/* The rename makes the write durable enough: a failed directory fsync loses nothing already
 * written, so only a failure before it is an error. */
static actions_code write_file(struct actions *a, const char *text, struct actions_err *err)
{
    struct atomic_file_err ferr = {0};
    atomic_file_code rc = atomic_file_write(a->dir, a->tmp, a->path, text, NULL, &ferr);

    if (rc == ATOMIC_FILE_OK || rc == ATOMIC_FILE_E_SYNC_DIR)
        return ACTIONS_OK;
    set_err(err, ACTIONS_E_IO, "%s", ferr.msg);
    return ACTIONS_E_IO;
}

/* The file's text of the ring (lock held). NULL when out of memory. */
static char *file_text(const struct actions *a)
{
    json_t *arr = json_array();
    char *text = NULL;

    for (size_t i = 0; arr && i < a->n; i++)
        json_array_append_new(arr, record_json(at(a, i)));
    json_t *doc = json_pack("{s:i, s:I, s:o}", "version", FILE_VERSION, "next_seq",
                            (json_int_t)a->next_seq, "actions", arr);
    if (doc)
        text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

actions_code actions_flush(struct actions *a, struct actions_err *err)
{
    actions_code rc;

    if (!a)
        return ACTIONS_OK;
    pthread_mutex_lock(&a->write_lock);
    pthread_mutex_lock(&a->lock);
    uint64_t dirty = a->dirty;
    char *text = dirty ? file_text(a) : NULL;
    pthread_mutex_unlock(&a->lock);
    if (!dirty) {
        pthread_mutex_unlock(&a->write_lock);
        return ACTIONS_OK;
    }
    if (!text) {
        set_err(err, ACTIONS_E_NOMEM, "out of memory");
        rc = ACTIONS_E_NOMEM;
    } else {
        rc = write_file(a, text, err);
    }
    free(text);
    if (rc == ACTIONS_OK) {
        pthread_mutex_lock(&a->lock);
        a->dirty -= dirty; /* what was added meanwhile stays dirty */
        pthread_mutex_unlock(&a->lock);
    }
    pthread_mutex_unlock(&a->write_lock);
    return rc;
}

/* Loads the file into the ring; a file we cannot read as ours is moved aside. */
static void load(struct actions *a, struct actions_err *err)
{
    FILE *f = fopen(a->path, "rb");
    char *text = NULL;
    size_t len = 0;
    struct actions_err perr = {0};
    char aside[PATH_MAX + 16];

    if (!f) {
        if (errno != ENOENT)
            set_err(err, ACTIONS_E_IO, "open %s: %s", a->path, strerror(errno));
        return;
    }
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        text = size >= 0 && size <= 64L * 1024 * 1024 ? malloc((size_t)size + 1) : NULL;
        len = text && fseek(f, 0, SEEK_SET) == 0 ? fread(text, 1, (size_t)size, f) : 0;
    }
    fclose(f);
    if (text && actions_parse(text, len, a->ring, ACTIONS_CAPACITY, &a->n, &a->next_seq, &perr) ==
                    ACTIONS_OK) {
        free(text);
        return;
    }
    free(text);
    snprintf(aside, sizeof(aside), "%s.corrupt", a->path);
    rename(a->path, aside);
    set_err(err, ACTIONS_E_CORRUPT, "%s: %s; moved to %s, history starts empty", a->path,
            perr.msg[0] ? perr.msg : "unreadable", aside);
    a->n = 0;
    a->next_seq = 1;
}

struct actions *actions_new(const char *state_dir, struct actions_err *err)
{
    struct actions *a = calloc(1, sizeof(*a));

    if (a)
        a->ring = calloc(ACTIONS_CAPACITY, sizeof(*a->ring));
    if (!a || !a->ring) {
        free(a);
        set_err(err, ACTIONS_E_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(a->dir, sizeof(a->dir), "%s", state_dir);
    snprintf(a->path, sizeof(a->path), "%s/actions.json", state_dir);
    snprintf(a->tmp, sizeof(a->tmp), "%s/.actions.json.tmp", state_dir);
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->write_lock, NULL);
    a->next_seq = 1;
    load(a, err);
    return a;
}

void actions_free(struct actions *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->write_lock);
    free(a->ring);
    free(a);
}
