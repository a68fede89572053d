/* test_reliability_statedir.c: the state directory becomes full or read-only while trip-receiver
 * runs. A 64 KiB tmpfs is mounted over the running daemon's state dir (the store opens its files
 * by path, so every later save lands on it; mounting needs root: without it the test skips, or
 * fails under CI=true). Filled with a file until ENOSPC, or remounted read-only, then a real
 * scale-out is requested on a real container. Asserted as a user would check: the API answer,
 * `docker inspect`, the error in the log, the daemon still serving, the retry of the write, and
 * state.json holding the claim once space is back, which a kill -9 and restart then proves.
 * A table is printed and written to $TRIP_BINARY_DIR/reliability-statedir.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ts_common.h"
#include "ts_docker.h"
#include "ts_receiver.h"

static const char *const managed[] = {"trip.enable=true", NULL};

struct row {
    char fault[64];
    char answer[160];
    char docker[64];
    char logged[160];
    char retry[96];
    char after[160];
};
static struct row rows[4];
static size_t n_rows;
static char mounted[128]; /* the tmpfs to unmount in teardown when a test failed half-way */

/* Runs argv (no shell) and returns its exit status, -1 when it could not run. */
static int run(const char *const *argv)
{
    pid_t pid = fork();
    int st = 0;
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        execvp(argv[0], (char *const *)(uintptr_t)argv); /* exec does not modify them */
        _exit(127);
    }
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Mounts a 64 KiB tmpfs on dir; false when this process may not mount (the caller skips, which
 * fails under CI). */
static bool mount_small_tmpfs(const char *dir)
{
    const char *argv[] = {"mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", dir, NULL};
    if (run(argv) == 0) {
        snprintf(mounted, sizeof(mounted), "%s", dir);
        return true;
    }
    return false;
}

static void umount_dir(const char *dir)
{
    const char *argv[] = {"umount", "-l", dir, NULL};
    (void)run(argv);
    mounted[0] = '\0';
}

/* Fills the file system of dir with dir/filler until ENOSPC. */
static void fill(const char *dir)
{
    char path[256], block[4096];
    snprintf(path, sizeof(path), "%s/filler", dir);
    memset(block, 'x', sizeof(block));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    while (write(fd, block, sizeof(block)) > 0)
        ;
    assert_int_equal(errno, ENOSPC);
    /* the last partial block too */
    while (write(fd, block, 1) > 0)
        ;
    close(fd);
}

static int64_t shares(const char *name)
{
    return ts_docker_inspect_i64(name, "{{.HostConfig.CpuShares}}");
}

static long scale(const struct ts_receiver *r, const char *name, const char *body,
                  struct ts_http_reply *rep)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/containers/%s/scale", name);
    assert_int_equal(ts_http_json(r, "POST", path, NULL, body, rep), 0);
    return rep->status;
}

/* True when the state on disk (state.json and the journal, ts_state_doc) says container name has
 * a CPU claim (scaled_out with a deadline). */
static bool state_has_cpu_claim(const struct ts_receiver *r, const char *name)
{
    bool yes = false;
    json_t *doc = ts_state_doc(r->state_dir);
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(doc, "containers"), i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        json_t *cpu = json_object_get(c, "cpu");
        if (n && strcmp(n, name) == 0 && json_is_true(json_object_get(cpu, "scaled_out")) &&
            json_integer_value(json_object_get(cpu, "deadline_ms")) > 0)
            yes = true;
    }
    json_decref(doc);
    return yes;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* How many lines of r's log contain needle. */
static int log_count(const struct ts_receiver *r, const char *needle)
{
    char *text = ts_read_file(r->log_path, NULL);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    free(text);
    return n;
}

static void one_line(char *dst, size_t cap, const char *src)
{
    size_t j = 0;
    for (size_t i = 0; src[i] && j + 1 < cap; i++)
        dst[j++] = src[i] == '\n' || src[i] == '|' ? ' ' : src[i];
    dst[j] = '\0';
}

/* The scenario for one fault: break(dir) makes saves fail with errtext in the log, repair(dir)
 * undoes it. */
static void scale_out_while_saves_fail(const char *fault, const char *errtext,
                                       void (*brk)(const char *), void (*repair)(const char *))
{
    char name[128], id[80], path[256];
    struct ts_receiver r;
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    struct row *row = &rows[n_rows++];
    const char *args[] = {"--scale-duration", "1h", NULL};

    ts_require_docker_image();
    assert_non_null(rep);
    ts_docker_name(name, sizeof(name), "statedir");
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, managed, NULL), 0);
    assert_int_equal(ts_receiver_start(&r, args), 0);
    if (!mount_small_tmpfs(r.state_dir)) {
        ts_receiver_stop(&r, false);
        free(rep);
        n_rows--;
        ts_skip("cannot mount a tmpfs on %s (needs root)", r.state_dir);
    }
    snprintf(row->fault, sizeof(row->fault), "%s", fault);
    brk(r.state_dir);

    /* the scale-out: what the API answers and what Docker holds */
    long status = scale(&r, name, "{\"resource\":\"cpu\",\"duration\":\"1h\"}", rep);
    json_t *ans = json_loads(rep->body, 0, NULL);
    const char *why = json_string_value(json_object_get(ans, "reason"));
    char reason[120];
    one_line(reason, sizeof(reason), why ? why : "(none)");
    snprintf(row->answer, sizeof(row->answer), "%ld, reason `%s`", status, reason);
    json_decref(ans);
    int64_t after = shares(name);
    snprintf(row->docker, sizeof(row->docker), "CpuShares %lld", (long long)after);
    /* a claim that cannot be saved is refused before Docker changes anything */
    assert_int_equal(status, 503);
    assert_non_null(strstr(reason, "cannot persist the claim"));
    assert_int_equal(after, 512);
    assert_true(ts_receiver_log_has(&r, "cannot save state", 3000));
    assert_true(ts_receiver_log_has(&r, errtext, 1000));
    assert_true(ts_receiver_log_has(&r, "scale-out refused: its claim could not be saved", 1000));
    snprintf(row->logged, sizeof(row->logged), "error `cannot save state` (%s)", errtext);
    /* still serving */
    assert_int_equal(ts_http(&r, "GET", "/healthz", NULL, NULL, 0, rep), 0);
    assert_int_equal(rep->status, 200);
    snprintf(path, sizeof(path), "/api/v1/containers/%s", name);
    assert_int_equal(ts_http_json(&r, "GET", path, NULL, NULL, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_false(state_has_cpu_claim(&r, name));
    /* it retries the write once a second, and warns once, not at every retry: the warning is
     * counted after at least three retries have failed */
    const char *warning = "state save still failing; retrying every second";
    int64_t t_fail = now_ms();
    assert_true(ts_receiver_log_has(&r, warning, 5000));
    sleep_ms(3500);
    int warnings = log_count(&r, warning);
    double failing_s = (double)(now_ms() - t_fail) / 1000.0;
    assert_int_equal(warnings, 1);

    /* space back: the pending state is written without any new request (by the next retry, so
     * within about a second; 10 s allowed for a loaded machine), and claims nothing */
    repair(r.state_dir);
    int64_t t_repair = now_ms();
    assert_true(ts_receiver_log_has(&r, "state saved after an earlier failure", 10000));
    int64_t saved_ms = now_ms() - t_repair;
    snprintf(row->retry, sizeof(row->retry),
             "warned %d time in %.1f s of failing saves; saved %lld ms after the repair", warnings,
             failing_s, (long long)saved_ms);
    assert_false(state_has_cpu_claim(&r, name));
    /* the same request now works, and a crash right after loses nothing */
    assert_int_equal(scale(&r, name, "{\"resource\":\"cpu\",\"duration\":\"1h\"}", rep), 200);
    assert_int_equal(shares(name), 1024);
    assert_true(state_has_cpu_claim(&r, name));
    ts_receiver_kill9(&r);
    assert_int_equal(ts_receiver_restart(&r), 0);
    assert_int_equal(ts_http_json(&r, "GET", path, NULL, NULL, rep), 0);
    assert_non_null(strstr(rep->body, "\"scaled_out\": true"));
    assert_int_equal(scale(&r, name, "{\"resource\":\"cpu\",\"direction\":\"in\"}", rep), 200);
    assert_int_equal(shares(name), 512);
    snprintf(row->after, sizeof(row->after),
             "nothing claimed; the retried request scales out (claim in state.json), and after "
             "kill -9 + restart the daemon knows it and scales in to 512");
    umount_dir(r.state_dir);
    assert_int_equal(ts_receiver_stop(&r, false), 0);
    free(rep);
}

static void make_full(const char *dir)
{
    fill(dir);
}

static void make_room(const char *dir)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/filler", dir);
    assert_int_equal(unlink(path), 0);
}

static void make_readonly(const char *dir)
{
    const char *argv[] = {"mount", "-o", "remount,ro", dir, NULL};
    assert_int_equal(run(argv), 0);
}

static void make_writable(const char *dir)
{
    const char *argv[] = {"mount", "-o", "remount,rw", dir, NULL};
    assert_int_equal(run(argv), 0);
}

static void full_state_dir_reports_keeps_serving_and_persists_later(void **state)
{
    (void)state;
    scale_out_while_saves_fail("state dir full (ENOSPC)", "No space left on device", make_full,
                               make_room);
}

static void readonly_state_dir_reports_keeps_serving_and_persists_later(void **state)
{
    (void)state;
    scale_out_while_saves_fail("state dir read-only (EROFS)", "Read-only file system",
                               make_readonly, make_writable);
}

static void print_table(FILE *f)
{
    fprintf(f, "| fault | scale-out answer | docker inspect after | log | retry | once "
               "writable again |\n|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n_rows; i++)
        fprintf(f, "| %s | %s | %s | %s | %s | %s |\n", rows[i].fault, rows[i].answer,
                rows[i].docker, rows[i].logged, rows[i].retry, rows[i].after);
}

static int teardown(void **state)
{
    if (n_rows) {
        char path[512];
        const char *bin = getenv("TRIP_BINARY_DIR");
        printf("\nState directory faults (real Docker, tmpfs over the state dir):\n\n");
        print_table(stdout);
        snprintf(path, sizeof(path), "%s/reliability-statedir.md", bin ? bin : ".");
        FILE *f = fopen(path, "w");
        if (f) {
            print_table(f);
            fclose(f);
        }
    }
    if (mounted[0])
        umount_dir(mounted);
    return ts_docker_group_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_state_dir_reports_keeps_serving_and_persists_later),
        cmocka_unit_test(readonly_state_dir_reports_keeps_serving_and_persists_later),
    };
    return ts_exit_status(cmocka_run_group_tests(tests, NULL, teardown));
}
