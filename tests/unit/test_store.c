/* test_store.c: round trip, generations, and a crash in the middle of a save. */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
