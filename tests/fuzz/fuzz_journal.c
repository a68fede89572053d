/* fuzz_journal.c: the journal of write-ahead claims as trip-receiver reloads it at start (no
 * state.json beside it): store_load_journal() through engine_load().
 * Checks: the start-up is refused exactly when a complete line (one ending in '\n') is not a
 * record the receiver writes ({"gen": N >= 1, "entry": {"name": non-empty, "id": 1..64 bytes}}
 * or {"gen": N >= 1, "drop": non-empty name}, nothing else); a loaded journal never crashes the
 * engine; a container whose last record is an entry (up to the table's size) is in the table
 * afterwards, one whose last record is a drop is not; the bytes after the last '\n' (a record cut
 * short by a crash) are cut off the file and nothing else of it changes.
 * Input: the journal's bytes. The files live in a private temporary directory. */
#include "engine.h"
#include "fuzz_common.h"
#include "log.h"
#include "store.h"

#include <jansson.h>
#include <unistd.h>

#define TABLE_MAX 4096 /* engine.c's MAX_ENTRIES */

static char dir[256];
static char file[300];

static void cleanup(void)
{
    unlink(file);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");

    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "%s/trip-fuzz-journal-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    snprintf(file, sizeof(file), "%s/journal", dir);
    atexit(cleanup);
    log_set_level(LOG_LEVEL_ERROR);
    return 0;
}

/* The record when line is one the receiver writes and engine_load accepts, else NULL. */
static json_t *record_of(const uint8_t *line, size_t len)
{
    json_t *rec = json_loadb((const char *)line, len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *g = json_object_get(rec, "gen");
    json_t *entry = json_object_get(rec, "entry");
    const char *name = json_string_value(json_object_get(entry, "name"));
    const char *id = json_string_value(json_object_get(entry, "id"));
    const char *drop = json_string_value(json_object_get(rec, "drop"));
    bool ok_entry = json_is_object(entry) && name && *name && id && *id && strlen(id) <= 64;
    bool ok_drop = drop && *drop && !entry;

    if (!json_is_integer(g) || json_integer_value(g) < 1 || json_object_size(rec) != 2 ||
        !(ok_entry || ok_drop)) {
        json_decref(rec);
        return NULL;
    }
    return rec;
}

/* The table's names as GET /api/v1/containers shows them. */
static json_t *table_names(struct engine *e)
{
    char *text = engine_state_json(e, NULL);
    json_t *out = text ? json_loads(text, 0, NULL) : NULL, *names = json_object();
    const json_t *c;
    size_t i;

    FUZZ_CHECK(json_is_array(json_object_get(out, "containers")));
    json_array_foreach(json_object_get(out, "containers"), i, c) {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n)
            json_object_set_new(names, n, json_true());
    }
    json_decref(out);
    free(text);
    return names;
}

/* The journal file's bytes now; *len its size. */
static uint8_t *read_back(size_t *len)
{
    FILE *f = fopen(file, "rb");
    uint8_t *buf;

    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    FUZZ_CHECK(n >= 0 && fseek(f, 0, SEEK_SET) == 0);
    buf = malloc((size_t)n + 1);
    FUZZ_CHECK(buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct engine_opts o = {.workers = 1, .queue_max = 1};
    struct engine_err err = {0};
    struct store_err serr = {0};
    struct engine *e = NULL;
    json_t *last = json_object(); /* name -> true when its last record is an entry, else false */
    size_t at = 0;
    bool well_formed = true;

    FILE *f = fopen(file, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size || size == 0);
    FUZZ_CHECK(fclose(f) == 0);
    while (at < size) {
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        if (!nl)
            break;
        json_t *rec = record_of(data + at, (size_t)(nl - (data + at)));
        const char *drop = json_string_value(json_object_get(rec, "drop"));
        const char *name = json_string_value(json_object_get(json_object_get(rec, "entry"), "name"));
        if (rec && json_object_size(last) < TABLE_MAX)
            json_object_set_new(last, drop ? drop : name, json_boolean(!drop));
        well_formed &= rec != NULL;
        json_decref(rec);
        at = (size_t)(nl + 1 - data);
    }
    o.store = store_new(dir, &serr);
    FUZZ_CHECK(o.store != NULL);
    o.lim.scale_duration_ms = 60000;
    o.lim.max_duration_ms = 3600000;
    FUZZ_CHECK(engine_new(&o, &e, &err) == ENGINE_OK);
    engine_code code = engine_load(e, &err);
    if (well_formed) {
        FUZZ_CHECK(code == ENGINE_OK);
        json_t *table = table_names(e);
        const char *name;
        json_t *kept;
        json_object_foreach(last, name, kept) {
            if (strlen(name) >= 256)
                continue; /* never cut into another name: not loaded */
            if (json_is_true(kept) != (json_object_get(table, name) != NULL)) {
                fprintf(stderr, "container \"%.80s\": last record %s, %s the table\n", name,
                        json_is_true(kept) ? "an entry" : "a drop",
                        json_is_true(kept) ? "not in" : "still in");
                FUZZ_CHECK(0);
            }
        }
        json_decref(table);
        size_t len = 0;
        uint8_t *after = read_back(&len);
        FUZZ_CHECK(len == at && (at == 0 || memcmp(after, data, at) == 0)); /* torn tail cut */
        free(after);
    } else {
        FUZZ_CHECK(code == ENGINE_E_STORE && err.msg[0] != '\0');
    }
    engine_free(e);
    store_free(o.store);
    json_decref(last);
    return 0;
}
