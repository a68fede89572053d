/* ts_docker.c: fixtures for tests that need the real Docker Engine. */
#include "ts_docker.h"

#include "ts_common.h"
#include "docker_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define MAX_ARGS 64

static pid_t cleanup_owner;

/* Appends up to n bytes to a bounded buffer (b, cap, *used); the excess is dropped. */
static void buf_append(char *b, size_t cap, size_t *used, const char *data, size_t n)
{
    if (!b || cap == 0)
        return;
    if (*used + n > cap - 1)
        n = cap - 1 - *used;
    memcpy(b + *used, data, n);
    *used += n;
    b[*used] = '\0';
}

static void trim_newline(char *s)
{
    size_t n;

    if (!s)
        return;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

/* Reads both pipes until EOF on each, so neither child stream can block the other. */
static void drain(int ofd, char *out, size_t len, int efd, char *errout, size_t errlen)
{
    struct pollfd p[2] = {{.fd = ofd, .events = POLLIN}, {.fd = efd, .events = POLLIN}};
    size_t used[2] = {0, 0};
    char tmp[4096];

    while (p[0].fd >= 0 || p[1].fd >= 0) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            ssize_t r;

            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            r = read(p[i].fd, tmp, sizeof(tmp));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                close(p[i].fd);
                p[i].fd = -1;
                continue;
            }
            if (i == 0)
                buf_append(out, len, &used[0], tmp, (size_t)r);
            else if (errout)
                buf_append(errout, errlen, &used[1], tmp, (size_t)r);
            else if (write(STDERR_FILENO, tmp, (size_t)r) < 0)
                (void)0;
        }
    }
}

int ts_docker_argv(char *out, size_t len, char *errout, size_t errlen, const char *const *argv)
{
    const char *args[MAX_ARGS + 2];
    int opipe[2];
    int epipe[2];
    int status = 0;
    size_t n = 0;
    pid_t pid;

    if (out && len)
        out[0] = '\0';
    if (errout && errlen)
        errout[0] = '\0';
    args[n++] = "docker";
    for (; argv[n - 1] && n <= MAX_ARGS; n++)
        args[n] = argv[n - 1];
    args[n] = NULL;
    if (pipe(opipe) != 0)
        return -1;
    if (pipe(epipe) != 0)
        goto out_close_o;
    pid = fork();
    if (pid < 0)
        goto out_close_e;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);

        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        dup2(opipe[1], STDOUT_FILENO);
        dup2(epipe[1], STDERR_FILENO);
        close(opipe[0]);
        close(epipe[0]);
        /* the test engine's API floor may be above the docker CLI's default (tests/engines) */
        if (getenv("TRIP_TEST_CLI_API_VERSION"))
            setenv("DOCKER_API_VERSION", getenv("TRIP_TEST_CLI_API_VERSION"), 1);
        execvp("docker", (char *const *)(uintptr_t)args); /* exec does not modify them */
        _exit(127);
    }
    close(opipe[1]);
    close(epipe[1]);
    drain(opipe[0], out, len, epipe[0], errout, errlen);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    trim_newline(out);
    trim_newline(errout);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return -1;
out_close_e:
    close(epipe[0]);
    close(epipe[1]);
out_close_o:
    close(opipe[0]);
    close(opipe[1]);
    return -1;
}

int ts_docker(char *out, size_t len, const char *arg, ...)
{
    const char *argv[MAX_ARGS];
    size_t n = 0;
    va_list ap;

    va_start(ap, arg);
    for (const char *a = arg; a && n < MAX_ARGS - 1; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return ts_docker_argv(out, len, NULL, 0, argv);
}

bool ts_docker_available(void)
{
    char out[64];
    char err[512];
    const char *argv[] = {"version", "--format", "{{.Server.APIVersion}}", NULL};

    return ts_docker_argv(out, sizeof(out), err, sizeof(err), argv) == 0 && out[0] != '\0';
}

const char *ts_test_image(void)
{
    const char *img = getenv("TRIP_TEST_IMAGE");

    return img && *img ? img : "trip-workload:test";
}

void ts_require_docker(void)
{
    if (ts_docker_available())
        return;
    ts_skip("Docker daemon unreachable");
}

void ts_require_docker_image(void)
{
    char out[128];
    char err[512];
    const char *argv[] = {"image", "inspect", "-f", "{{.Id}}", ts_test_image(), NULL};

    ts_require_docker();
    if (ts_docker_argv(out, sizeof(out), err, sizeof(err), argv) == 0)
        return;
    ts_skip("test image %s missing (run tests/support/build-images): %s", ts_test_image(), err);
}

static void cleanup_at_exit(void)
{
    if (getpid() == cleanup_owner)
        ts_docker_cleanup();
}

const char *ts_docker_run_label(void)
{
    static char label[96];

    if (!label[0])
        snprintf(label, sizeof(label), "trip.test.run=%s", ts_docker_prefix());
    return label;
}

const char *ts_docker_prefix(void)
{
    static char prefix[64];

    if (cleanup_owner != getpid()) {
        snprintf(prefix, sizeof(prefix), "trip-it-%ld-", (long)getpid());
        if (cleanup_owner == 0)
            atexit(cleanup_at_exit);
        cleanup_owner = getpid();
    }
    return prefix;
}

char *ts_docker_name(char *buf, size_t len, const char *what)
{
    static unsigned counter;

    snprintf(buf, len, "%s%s-%u", ts_docker_prefix(), what, ++counter);
    return buf;
}

int ts_docker_run_container(char *id, size_t len, const char *name, const char *const *labels, ...)
{
    const char *argv[MAX_ARGS];
    const char *tail[MAX_ARGS];
    size_t n = 0;
    size_t nt = 0;
    bool after_dashes = false;
    char err[2048];
    va_list ap;
    int rc;

    argv[n++] = "run";
    argv[n++] = "-d";
    argv[n++] = "--name";
    argv[n++] = name;
    argv[n++] = "--label";
    argv[n++] = "trip.test=1";
    argv[n++] = "--label";
    argv[n++] = ts_docker_run_label(); /* receivers of this run heal only these */
    argv[n++] = "--cpu-shares";
    argv[n++] = "512";
    argv[n++] = "--memory";
    argv[n++] = "1g";
    argv[n++] = "--stop-timeout";
    argv[n++] = "2";
    for (size_t i = 0; labels && labels[i] && n < MAX_ARGS / 2; i++) {
        argv[n++] = "--label";
        argv[n++] = labels[i];
    }
    va_start(ap, labels);
    for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *)) {
        if (!after_dashes && strcmp(a, "--") == 0)
            after_dashes = true;
        else if (!after_dashes && n < MAX_ARGS - 2)
            argv[n++] = a;
        else if (after_dashes && nt < MAX_ARGS)
            tail[nt++] = a;
    }
    va_end(ap);
    argv[n++] = ts_test_image();
    for (size_t i = 0; i < nt && n < MAX_ARGS - 1; i++)
        argv[n++] = tail[i];
    argv[n] = NULL;
    rc = ts_docker_argv(id, len, err, sizeof(err), argv);
    if (rc != 0)
        fprintf(stderr, "docker run %s failed (%d): %s\n", name, rc, err);
    return rc;
}

void ts_docker_cleanup(void)
{
    char filter[96];
    char ids[16384];
    const char *argv[MAX_ARGS];
    size_t n = 0;
    char *save = NULL;

    snprintf(filter, sizeof(filter), "name=^/%s", ts_docker_prefix());
    if (ts_docker(ids, sizeof(ids), "ps", "-aq", "--no-trunc", "--filter", filter, NULL) != 0)
        return;
    argv[n++] = "rm";
    argv[n++] = "-f";
    for (char *tok = strtok_r(ids, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
        argv[n++] = tok;
        if (n == MAX_ARGS - 1) {
            argv[n] = NULL;
            ts_docker_argv(NULL, 0, NULL, 0, argv);
            n = 2;
        }
    }
    if (n > 2) {
        argv[n] = NULL;
        ts_docker_argv(NULL, 0, NULL, 0, argv);
    }
}

int ts_docker_group_teardown(void **state)
{
    (void)state;
    ts_docker_cleanup();
    return 0;
}

int ts_docker_inspect(const char *target, const char *format, char *out, size_t len)
{
    const char *argv[] = {"inspect", "-f", format, target, NULL};
    char err[512];

    return ts_docker_argv(out, len, err, sizeof(err), argv);
}

const char *ts_docker_socket(void)
{
    const char *h = getenv("DOCKER_HOST");

    return h && strncmp(h, "unix://", 7) == 0 && h[7] ? h + 7 : "/var/run/docker.sock";
}

int ts_docker_api_in_use(char *out, size_t len)
{
    struct docker_client *c = NULL;
    struct docker_engine e;
    docker_code code = docker_client_new(NULL, &c, NULL);

    docker_client_engine(c, &e);
    docker_client_free(c);
    snprintf(out, len, "%s", e.api);
    return code == DOCKER_OK && e.api[0] ? 0 : -1;
}

bool ts_docker_is_podman(void)
{
    struct docker_client *c = NULL;
    struct docker_engine e;

    docker_client_new(NULL, &c, NULL);
    docker_client_engine(c, &e);
    docker_client_free(c);
    return e.podman;
}

int ts_cgroup_version(void)
{
    struct stat st;

    return stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0 ? 2 : 1;
}

/* True when the comma-separated controller list ctrls names ctrl exactly ("" matches only ""). */
static bool has_controller(const char *ctrls, const char *ctrl)
{
    size_t n = strlen(ctrl);

    if (n == 0)
        return *ctrls == '\0';
    for (const char *p = ctrls; p; p = strchr(p, ',')) {
        if (*p == ',')
            p++;
        if (strncmp(p, ctrl, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    }
    return false;
}

/* The cgroup path of the container's init for controller ctrl ("" for v2), from /proc/<pid>/cgroup.
 */
static int proc_cgroup_path(const char *id, const char *ctrl, char *path, size_t len)
{
    char pid[32];
    char file[64];
    char line[1024];
    FILE *f;
    int rc = -1;

    if (ts_docker_inspect(id, "{{.State.Pid}}", pid, sizeof(pid)) != 0 || atoi(pid) <= 0)
        return -1;
    snprintf(file, sizeof(file), "/proc/%s/cgroup", pid);
    f = fopen(file, "r");
    if (!f)
        return -1;
    while (rc != 0 && fgets(line, sizeof(line), f)) {
        char *ctrls = strchr(line, ':');
        char *p = ctrls ? strchr(ctrls + 1, ':') : NULL;

        if (!p)
            continue;
        *p++ = '\0';
        trim_newline(p);
        if (has_controller(ctrls + 1, ctrl)) {
            snprintf(path, len, "%s", p);
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

static int read_i64(const char *path, int64_t *out)
{
    char buf[64];
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    trim_newline(buf);
    if (strcmp(buf, "max") == 0) {
        *out = -1;
        return 0;
    }
    if (n == 0)
        return -1;
    *out = strtoll(buf, NULL, 10);
    return 0;
}

int ts_cgroup_read(const char *id, const char *ctrl, const char *file, int64_t *out)
{
    char cg[512];
    char path[1024];
    bool v2 = ts_cgroup_version() == 2;

    if (proc_cgroup_path(id, v2 ? "" : ctrl, cg, sizeof(cg)) == 0) {
        if (v2)
            snprintf(path, sizeof(path), "/sys/fs/cgroup%s/%s", cg, file);
        else
            snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%s/%s", ctrl, cg, file);
        if (read_i64(path, out) == 0)
            return 0;
    }
    if (v2)
        snprintf(path, sizeof(path), "/sys/fs/cgroup/system.slice/docker-%s.scope/%s", id, file);
    else
        snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/docker/%s/%s", ctrl, id, file);
    if (read_i64(path, out) == 0)
        return 0;
    fprintf(stderr, "cgroup file unreadable: %s (%s)\n", path, strerror(errno));
    return -1;
}

int ts_cgroup_cpu(const char *id, int64_t *out, bool *is_weight)
{
    *is_weight = ts_cgroup_version() == 2;
    return ts_cgroup_read(id, "cpu", *is_weight ? "cpu.weight" : "cpu.shares", out);
}

int ts_cgroup_memory_limit(const char *id, int64_t *out)
{
    bool v2 = ts_cgroup_version() == 2;

    return ts_cgroup_read(id, "memory", v2 ? "memory.max" : "memory.limit_in_bytes", out);
}

int ts_cgroup_memory_swap(const char *id, int64_t *out)
{
    int64_t mem = 0;
    int64_t swap = 0;

    if (ts_cgroup_version() == 1)
        return ts_cgroup_read(id, "memory", "memory.memsw.limit_in_bytes", out);
    if (ts_cgroup_read(id, "memory", "memory.max", &mem) != 0 ||
        ts_cgroup_read(id, "memory", "memory.swap.max", &swap) != 0)
        return -1;
    *out = mem < 0 || swap < 0 ? -1 : mem + swap;
    return 0;
}

int64_t ts_cgroup_weight_from_shares(int64_t shares)
{
    if (shares == 0)
        return 0;
    return 1 + ((shares - 2) * 9999) / 262142;
}

int64_t ts_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ts_now_ms(void)
{
    return ts_now_ns() / 1000000;
}

void ts_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void format_ts(char *buf, size_t len, int64_t ns)
{
    snprintf(buf, len, "%" PRId64 ".%09" PRId64, ns / 1000000000, ns % 1000000000);
}

int ts_docker_events(const char *container, int64_t since_ns, int window_ms, char *out, size_t len)
{
    char since[40];
    char until[40];
    char filter[320];

    format_ts(since, sizeof(since), since_ns);
    format_ts(until, sizeof(until), since_ns + (int64_t)window_ms * 1000000);
    snprintf(filter, sizeof(filter), "container=%s", container);
    return ts_docker(out, len, "events", "--since", since, "--until", until, "--filter", filter,
                     "--format", "{{.TimeNano}} {{.Action}}", NULL);
}

int64_t ts_docker_event_time(const char *events, const char *action, int64_t from_ns)
{
    const char *line = events;

    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        char copy[256];
        char *sp;
        int64_t t;

        snprintf(copy, sizeof(copy), "%.*s", (int)(n < sizeof(copy) - 1 ? n : sizeof(copy) - 1),
                 line);
        sp = strchr(copy, ' ');
        if (sp) {
            *sp = '\0';
            t = strtoll(copy, NULL, 10);
            if (t >= from_ns && strcmp(sp + 1, action) == 0)
                return t;
        }
        line = nl ? nl + 1 : NULL;
    }
    return -1;
}

int64_t ts_docker_inspect_i64(const char *target, const char *format)
{
    char out[64] = "";

    assert_int_equal(ts_docker_inspect(target, format, out, sizeof(out)), 0);
    return strtoll(out, NULL, 10);
}

int64_t ts_docker_wait_i64(const char *target, const char *format, int64_t want, int timeout_ms)
{
    int64_t t0 = ts_now_ns() / 1000000;
    int64_t waited = 0;

    while (waited <= timeout_ms) {
        if (ts_docker_inspect_i64(target, format) == want)
            return waited;
        usleep(50000);
        waited = ts_now_ns() / 1000000 - t0;
    }
    return -1;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

long ts_workload_get(const char *ip, const char *path)
{
    char url[256];
    long status = 0;
    CURL *c = curl_easy_init();

    if (!c)
        return 0;
    snprintf(url, sizeof(url), "http://%s:8000%s", ip, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

void ts_workload_wait_ready(const char *ip)
{
    for (int i = 0; i < 300; i++) {
        if (ts_workload_get(ip, "/health") == 200)
            return;
        usleep(100000);
    }
    fail_msg("the workload at %s never answered /health within 30 s", ip);
}
