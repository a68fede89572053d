/* test_store.c: round trip, generations, a crash in the middle of a save, and the journal of
 * write-ahead records (append, skip what the file already holds, cut, torn and corrupt lines). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "ts_common.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/trip-store-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char path[128];
    (void)state;
    snprintf(path, sizeof(path), "%s/state.json", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/.state.json.tmp", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/journal", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}

static json_t *doc_with(int n)
{
    return json_pack("{s:i, s:[{s:s, s:i}]}", "version", 1, "containers", "name", "user",
                     "cpu_baseline", n);
}

static int64_t baseline_of(json_t *doc)
{
    return json_integer_value(
        json_object_get(json_array_get(json_object_get(doc, "containers"), 0), "cpu_baseline"));
}

static void first_start_has_no_state(void **state)
{
    struct store_err err = {0};
    json_t *doc;
    (void)state;
    struct store *s = store_new(dir, &err);
    assert_non_null(s);
    assert_int_equal(store_load(s, &doc, &err), STORE_E_NOTFOUND);
    assert_null(doc);
    store_free(s);
}

static void saved_state_loads_back(void **state)
{
    struct store *s = store_new(dir, NULL);
    json_t *in = doc_with(300), *out = NULL;
    (void)state;
    assert_int_equal(store_save(s, in, 1, NULL), STORE_OK);
    assert_int_equal(store_load(s, &out, NULL), STORE_OK);
    assert_true(json_equal(in, out));
    json_decref(in);
    json_decref(out);
    store_free(s);
}

static void older_generation_never_overwrites_newer(void **state)
{
    struct store *s = store_new(dir, NULL);
    json_t *newer = doc_with(2), *older = doc_with(1), *out = NULL;
    (void)state;
    assert_int_equal(store_save(s, newer, 5, NULL), STORE_OK);
    assert_int_equal(store_save(s, older, 4, NULL), STORE_OK);
    assert_int_equal(store_load(s, &out, NULL), STORE_OK);
    assert_int_equal(baseline_of(out), 2);
    json_decref(newer);
    json_decref(older);
    json_decref(out);
    store_free(s);
}

/* Blocks every save: the temporary file's path is taken by a directory (EISDIR). */
static void block_saves(bool on)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/.state.json.tmp", dir);
    if (on)
        assert_int_equal(mkdir(path, 0700), 0);
    else
        assert_int_equal(rmdir(path), 0);
}

static void failed_save_is_retried_until_written(void **state)
{
    struct store_err err = {0};
    struct store *s = store_new(dir, NULL);
    json_t *in = doc_with(7), *out = NULL;
    bool retried = false;
    (void)state;
    block_saves(true);
    assert_int_equal(store_save(s, in, 1, &err), STORE_E_IO);
    assert_non_null(strstr(err.msg, "Is a directory"));
    memset(&err, 0, sizeof(err));
    assert_int_equal(store_retry(s, &retried, &err), STORE_E_IO);
    assert_true(retried);
    block_saves(false);
    assert_int_equal(store_retry(s, &retried, NULL), STORE_OK);
    assert_true(retried);
    assert_int_equal(store_load(s, &out, NULL), STORE_OK);
    assert_true(json_equal(in, out));
    /* written: nothing left to retry */
    assert_int_equal(store_retry(s, &retried, NULL), STORE_OK);
    assert_false(retried);
    json_decref(in);
    json_decref(out);
    store_free(s);
}

static void later_save_makes_a_failed_one_obsolete(void **state)
{
    struct store *s = store_new(dir, NULL);
    json_t *old = doc_with(1), *newer = doc_with(2), *out = NULL;
    bool retried = true;
    (void)state;
    block_saves(true);
    assert_int_equal(store_save(s, old, 1, NULL), STORE_E_IO);
    block_saves(false);
    assert_int_equal(store_save(s, newer, 2, NULL), STORE_OK);
    assert_int_equal(store_retry(s, &retried, NULL), STORE_OK);
    assert_false(retried);
    assert_int_equal(store_load(s, &out, NULL), STORE_OK);
    assert_int_equal(baseline_of(out), 2);
    json_decref(old);
    json_decref(newer);
    json_decref(out);
    store_free(s);
}

/* A symlink planted as the temp file (say to /etc/passwd by whoever can write the state dir) is
 * refused: the save fails with the error, the target is untouched. */
static void temp_file_symlink_is_never_written_through(void **state)
{
    char tmp[128], victim[128];
    struct store_err err = {0};
    struct store *s = store_new(dir, NULL);
    json_t *in = doc_with(7);
    (void)state;
    snprintf(tmp, sizeof(tmp), "%s/.state.json.tmp", dir);
    snprintf(victim, sizeof(victim), "%s.victim", dir);
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("precious\n", f);
    fclose(f);
    assert_int_equal(symlink(victim, tmp), 0);
    assert_int_equal(store_save(s, in, 1, &err), STORE_E_IO);
    assert_non_null(strstr(err.msg, ".state.json.tmp"));
    char *text = ts_read_file(victim, NULL);
    assert_string_equal(text, "precious\n");
    free(text);
    unlink(victim);
    unlink(tmp);
    json_decref(in);
    store_free(s);
}

/* Dies the way kill -9 or a power cut ends a writer: no exit handlers, no leak check (valgrind
 * would otherwise replace an exit status with its own). */
static void crash(void)
{
    raise(SIGKILL);
}

static void crash_mid_write_leaves_the_old_file(void **state)
{
    struct store *s = store_new(dir, NULL);
    json_t *old = doc_with(512), *out = NULL;
    (void)state;
    assert_int_equal(store_save(s, old, 1, NULL), STORE_OK);
    pid_t pid = fork();
    if (pid == 0) {
        json_t *next = doc_with(1024);
        store_crash_hook = crash;
        store_save(s, next, 2, NULL);
        _exit(0); /* not reached when the hook ran */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status)); /* died between the write and the rename */
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(store_load(s, &out, NULL), STORE_OK);
    assert_int_equal(baseline_of(out), 512);
    json_decref(out);
    /* the leftover temp file does not stop the next save */
    json_t *next = doc_with(300);
    assert_int_equal(store_save(s, next, 3, NULL), STORE_OK);
    assert_int_equal(store_load(s, &out, NULL), STORE_OK);
    assert_int_equal(baseline_of(out), 300);
    json_decref(next);
    json_decref(out);
    json_decref(old);
    store_free(s);
}

static void corrupt_file_is_reported(void **state)
{
    char path[128];
    struct store_err err = {0};
    json_t *out;
    (void)state;
    snprintf(path, sizeof(path), "%s/state.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"containers\": [", f);
    fclose(f);
    struct store *s = store_new(dir, NULL);
    assert_int_equal(store_load(s, &out, &err), STORE_E_CORRUPT);
    assert_non_null(strstr(err.msg, "state.json: line"));
    store_free(s);
}

static void unwritable_dir_is_an_error(void **state)
{
    struct store_err err = {0};
    (void)state;
    assert_null(store_new("/proc/trip-no-such/dir", &err));
    assert_int_equal(err.code, STORE_E_IO);
    assert_non_null(strstr(err.msg, "create state dir /proc/trip-no-such/dir"));
}

/* --- the journal --- */

static json_t *entry_with(const char *name, int n)
{
    return json_pack("{s:s, s:s, s:i}", "name", name, "id", "id-1", "cpu_baseline", n);
}

static char *journal_text(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/journal", dir);
    char *text = ts_read_file(path, NULL);
    return text ? text : strdup("(none)");
}

static void put_journal(const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/journal", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Asserts the journal's text is want. */
static void assert_journal_is(const char *want)
{
    char *text = journal_text();
    assert_string_equal(text, want);
    free(text);
}

/* The journal's records above `after` (caller decrefs), asserting there are n and the newest
 * generation in it is newest. */
static json_t *records_after(struct store *s, uint64_t after, size_t n, uint64_t newest)
{
    json_t *out = NULL;
    uint64_t top = 0;
    assert_int_equal(store_load_journal(s, after, &out, &top, NULL), STORE_OK);
    assert_int_equal(json_array_size(out), n);
    assert_int_equal(top, newest);
    return out;
}

/* The entry of record i of records. */
static json_t *entry_at(json_t *records, size_t i)
{
    return json_object_get(json_array_get(records, i), "entry");
}

/* Records come back oldest first, newer than the file's generation only; *newest is the top. */
static void journal_records_load_back_newer_than_the_file(void **state)
{
    struct store *s = store_new(dir, NULL);
    json_t *a = entry_with("user", 1), *b = entry_with("place", 2), *drop = json_string("user");
    (void)state;
    assert_int_equal(store_append(s, "entry", a, 3, NULL), STORE_OK);
    assert_int_equal(store_append(s, "entry", b, 4, NULL), STORE_OK);
    assert_int_equal(store_append(s, "drop", drop, 5, NULL), STORE_OK);
    assert_journal_is("{\"entry\":{\"cpu_baseline\":1,\"id\":\"id-1\",\"name\":\"user\"},\"gen\":3}\n"
                      "{\"entry\":{\"cpu_baseline\":2,\"id\":\"id-1\",\"name\":\"place\"},\"gen\":4}\n"
                      "{\"drop\":\"user\",\"gen\":5}\n");
    store_free(s);
    s = store_new(dir, NULL); /* as after a restart */
    json_t *out = records_after(s, 0, 3, 5);
    assert_true(json_equal(entry_at(out, 0), a));
    assert_true(json_equal(entry_at(out, 1), b));
    assert_true(json_equal(json_object_get(json_array_get(out, 2), "drop"), drop));
    json_decref(out);
    out = records_after(s, 3, 2, 5); /* generation 3 is in the file already */
    assert_true(json_equal(entry_at(out, 0), b));
    json_decref(out);
    json_decref(records_after(s, 5, 0, 5));
    json_decref(a);
    json_decref(b);
    json_decref(drop);
    store_free(s);
}

/* A save of a generation the journal does not exceed empties it; a save older than a record
 * leaves it; a record older than a written save is not appended (the file holds newer state). */
static void save_cuts_the_journal_it_covers(void **state)
{
    struct store *s = store_new(dir, NULL);
    json_t *e = entry_with("user", 1), *doc = doc_with(1);
    (void)state;
    assert_int_equal(store_append(s, "entry", e, 5, NULL), STORE_OK);
    assert_int_equal(store_save(s, doc, 4, NULL), STORE_OK);
    char *text = journal_text();
    assert_non_null(strstr(text, "\"gen\":5"));
    free(text);
    assert_int_equal(store_save(s, doc, 6, NULL), STORE_OK);
    assert_journal_is("");
    assert_int_equal(store_append(s, "entry", e, 5, NULL), STORE_OK); /* older than the file */
    assert_journal_is("");
    assert_int_equal(store_append(s, "entry", e, 7, NULL), STORE_OK);
    json_decref(records_after(s, 6, 1, 7));
    json_decref(e);
    json_decref(doc);
    store_free(s);
}

/* A record cut short by a crash mid-append is dropped and cut off the file, so the next record
 * starts on its own line. */
static void torn_last_record_is_dropped(void **state)
{
    struct store *s = store_new(dir, NULL);
    json_t *e = entry_with("place", 9);
    (void)state;
    put_journal("{\"gen\":2,\"entry\":{\"name\":\"user\",\"id\":\"id-1\"}}\n{\"gen\":3,\"ent");
    json_decref(records_after(s, 0, 1, 2));
    assert_journal_is("{\"gen\":2,\"entry\":{\"name\":\"user\",\"id\":\"id-1\"}}\n");
    assert_int_equal(store_append(s, "entry", e, 3, NULL), STORE_OK);
    json_decref(records_after(s, 0, 2, 3));
    json_decref(e);
    store_free(s);
}

/* A whole line that is not a record refuses the journal, with its line, and leaves it as it is. */
static void corrupt_journal_line_is_reported(void **state)
{
    static const struct {
        const char *text, *msg;
    } rows[] = {
        {"garbage\n", "journal: line 1: "},
        {"{\"gen\":1,\"entry\":{\"name\":\"a\"}}\n{\"entry\":{\"name\":\"b\"}}\n", "line 2: not a record"},
        {"{\"gen\":0,\"entry\":{\"name\":\"a\"}}\n", "line 1: not a record"},
        {"{\"gen\":1,\"entry\":{\"name\":\"\"}}\n", "line 1: not a record"},
        {"{\"gen\":1,\"entry\":[]}\n", "line 1: not a record"},
        {"{\"gen\":1,\"gen\":2,\"entry\":{\"name\":\"a\"}}\n", "line 1: "},
        {"{\"gen\":1,\"drop\":\"\"}\n", "line 1: not a record"},
        {"{\"gen\":1,\"drop\":7}\n", "line 1: not a record"},
        {"{\"gen\":1,\"drop\":\"a\",\"entry\":{\"name\":\"a\"}}\n", "line 1: not a record"},
        {"{\"gen\":1,\"entry\":{\"name\":\"a\"},\"x\":1}\n", "line 1: not a record"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct store_err err = {0};
        struct store *s = store_new(dir, NULL);
        json_t *out = NULL;
        uint64_t newest = 9;
        put_journal(rows[i].text);
        assert_int_equal(store_load_journal(s, 0, &out, &newest, &err), STORE_E_CORRUPT);
        if (!strstr(err.msg, rows[i].msg))
            fail_msg("%s: %s", rows[i].text, err.msg);
        assert_null(out);
        assert_int_equal(newest, 0);
        assert_journal_is(rows[i].text);
        store_free(s);
    }
}

/* A record is on disk when store_append returns: a writer killed right after it loses nothing. */
static void appended_record_survives_a_kill(void **state)
{
    struct store *s = store_new(dir, NULL);
    json_t *e = entry_with("user", 77);
    (void)state;
    pid_t pid = fork();
    if (pid == 0) {
        if (store_append(s, "entry", e, 12, NULL) == STORE_OK)
            raise(SIGKILL);
        _exit(1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    json_t *out = records_after(s, 0, 1, 12);
    assert_true(json_equal(entry_at(out, 0), e));
    json_decref(out);
    json_decref(e);
    store_free(s);
}

/* A symlink planted as the journal is refused on append and on load, never followed. */
static void journal_symlink_is_never_followed(void **state)
{
    char path[128], victim[128];
    struct store_err err = {0};
    struct store *s = store_new(dir, NULL);
    json_t *e = entry_with("user", 7), *out = NULL;
    uint64_t newest = 0;
    (void)state;
    snprintf(path, sizeof(path), "%s/journal", dir);
    snprintf(victim, sizeof(victim), "%s.victim", dir);
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("precious\n", f);
    fclose(f);
    assert_int_equal(symlink(victim, path), 0);
    assert_int_equal(store_append(s, "entry", e, 1, &err), STORE_E_IO);
    assert_non_null(strstr(err.msg, "journal"));
    memset(&err, 0, sizeof(err));
    assert_int_equal(store_load_journal(s, 0, &out, &newest, &err), STORE_E_IO);
    assert_non_null(strstr(err.msg, "journal"));
    char *text = ts_read_file(victim, NULL);
    assert_string_equal(text, "precious\n");
    free(text);
    unlink(victim);
    json_decref(e);
    store_free(s);
}

/* No journal: nothing to load. */
static void missing_journal_is_empty(void **state)
{
    struct store *s = store_new(dir, NULL);
    (void)state;
    json_decref(records_after(s, 0, 0, 0));
    store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(temp_file_symlink_is_never_written_through, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(first_start_has_no_state, setup, teardown),
        cmocka_unit_test_setup_teardown(saved_state_loads_back, setup, teardown),
        cmocka_unit_test_setup_teardown(older_generation_never_overwrites_newer, setup, teardown),
        cmocka_unit_test_setup_teardown(crash_mid_write_leaves_the_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_save_is_retried_until_written, setup, teardown),
        cmocka_unit_test_setup_teardown(later_save_makes_a_failed_one_obsolete, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_file_is_reported, setup, teardown),
        cmocka_unit_test(unwritable_dir_is_an_error),
        cmocka_unit_test_setup_teardown(journal_records_load_back_newer_than_the_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(save_cuts_the_journal_it_covers, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_last_record_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_journal_line_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(appended_record_survives_a_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(journal_symlink_is_never_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_journal_is_empty, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
