/* fuzz_state.c: the state file as trip-receiver reloads it at start: store_load() + engine_load(),
 * then the table rendered back (engine_state_json) as GET /api/v1/containers shows it.
 * Checks: a file is refused exactly when it is not of the shape the codec wrote (well_formed());
 * a loaded file never crashes the
 * engine; every container the file names (up to the table's size) is in the table afterwards, under
 * its exact name: a state file must not make the receiver forget a container it scaled out.
 * Input: the file's bytes. The file lives in a private temporary directory. */
#include "engine.h"
#include "fuzz_common.h"
#include "log.h"
#include "store.h"

#include <jansson.h>
#include <unistd.h>

#define TABLE_MAX 4096 /* engine.c's MAX_ENTRIES */

static char dir[256];
static char file[300];
static struct store *st;

static void cleanup(void)
{
    store_free(st);
    unlink(file);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    struct store_err err = {0};

    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "%s/trip-fuzz-state-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    st = store_new(dir, &err);
    if (!st) {
        fprintf(stderr, "store_new: %s\n", err.msg);
        abort();
    }
    snprintf(file, sizeof(file), "%s", store_path(st));
    atexit(cleanup);
    log_set_level(LOG_LEVEL_ERROR);
    return 0;
}

static void write_file(const uint8_t *data, size_t size)
{
    FILE *f = fopen(file, "wb");

    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size || size == 0);
    FUZZ_CHECK(fclose(f) == 0);
}

/* True when the table (rendered) holds a container named name. */
static bool rendered_has(const json_t *out, const char *name)
{
    size_t i;
    const json_t *c;

    json_array_foreach(json_object_get(out, "containers"), i, c) {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

static void check_table(struct engine *e, const json_t *in)
{
    char *text = engine_state_json(e, NULL);
    json_error_t jerr;
    json_t *out;
    const json_t *c;
    size_t i;

    FUZZ_CHECK(text != NULL);
    out = json_loads(text, 0, &jerr);
    FUZZ_CHECK(json_is_object(out) && json_is_array(json_object_get(out, "containers")));
    json_array_foreach(json_object_get(in, "containers"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));

        if (i >= TABLE_MAX)
            break;
        if (!name || !*name || strlen(name) >= 256)
            continue;
        if (!rendered_has(out, name)) {
            fprintf(stderr, "container \"%.80s\" (entry %zu) lost on load\n", name, i);
            FUZZ_CHECK(0);
        }
    }
    json_decref(out);
    free(text);
}

/* The shape engine_load() accepts (engine_state.c): an object, "version" absent or an integer in
 * [1, 2], "containers" an array of objects each with a non-empty string "name". */
static bool well_formed(const json_t *in)
{
    const json_t *v = json_object_get(in, "version");
    const json_t *c;
    size_t i;

    if (!json_is_object(in) || !json_is_array(json_object_get(in, "containers")))
        return false;
    if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 2))
        return false;
    json_array_foreach(json_object_get(in, "containers"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *id = json_string_value(json_object_get(c, "id"));
        if (!json_is_object(c) || !name || !*name)
            return false;
        if (!id || !*id || strlen(id) > 64) /* state is keyed by the ID it was made on */
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct engine_opts o = {.workers = 1, .queue_max = 1, .store = st};
    struct engine_err err = {0};
    struct engine *e = NULL;
    json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    engine_code code;

    o.lim.scale_duration_ms = 60000;
    o.lim.max_duration_ms = 3600000;
    write_file(data, size);
    FUZZ_CHECK(engine_new(&o, &e, &err) == ENGINE_OK);
    code = engine_load(e, &err);
    if (well_formed(in)) {
        FUZZ_CHECK(code == ENGINE_OK);
        check_table(e, in);
    } else {
        FUZZ_CHECK(code == ENGINE_E_STORE && err.msg[0] != '\0');
    }
    engine_free(e);
    json_decref(in);
    return 0;
}
