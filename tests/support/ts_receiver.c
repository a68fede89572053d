/* ts_receiver.c: spawn / stop the real daemon, HTTP via libcurl. */
#include "ts_receiver.h"
#include "ts_common.h"
#include "ts_docker.h"

#include <stdint.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* TRIP_RECEIVER_BINARY: another trip-receiver than the build's, e.g. the static one the image
 * ships (tests/static/) */
static void binary_path(char *buf, size_t size)
{
    const char *bin = getenv("TRIP_RECEIVER_BINARY");
    const char *dir = getenv("TRIP_BINARY_DIR");
    if (bin && *bin)
        snprintf(buf, size, "%s", bin);
    else
        snprintf(buf, size, "%s/receiver/trip-receiver", dir ? dir : "build");
}

static void print_log(const struct ts_receiver *r)
{
    char *text = ts_read_file(r->log_path, NULL);
    fprintf(stderr, "--- trip-receiver log (%s) ---\n%s--- end of log ---\n", r->log_path,
            text ? text : "(none)\n");
    free(text);
}

static int spawn(struct ts_receiver *r)
{
    char bin[512], listen[64];
    const char *argv[64];
    size_t n = 0;

    binary_path(bin, sizeof(bin));
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", r->port);
    for (size_t i = 0; r->wrap[i]; i++)
        argv[n++] = r->wrap[i];
    argv[n++] = bin;
    argv[n++] = "--listen";
    argv[n++] = listen;
    argv[n++] = "--state-dir";
    argv[n++] = r->state_dir;
    argv[n++] = "--refresh-interval";
    argv[n++] = "200ms";
    argv[n++] = "--selector"; /* this run's containers only: another receiver's (a user's stack)
                                 are never touched, nor this one's by it (flags below add terms) */
    argv[n++] = ts_docker_run_label();
    bool auth = false;
    for (size_t i = 0; r->args[i]; i++) {
        if (strncmp(r->args[i], "--token", 7) == 0 ||
            strncmp(r->args[i], "--basic-auth-user", 17) == 0)
            auth = true;
    }
    if (!auth)
        argv[n++] =
            "--insecure-no-auth"; /* closed by default; the tests' loopback port is theirs */
    for (size_t i = 0; r->args[i] && n < 62; i++)
        argv[n++] = r->args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(r->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
        execv(argv[0], (char *const *)(uintptr_t)argv); /* exec does not modify them */
        _exit(127);
    }
    r->pid = pid;
    return 0;
}

static int wait_healthy(struct ts_receiver *r)
{
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    int rc = -1;

    for (int i = 0; i < 200 && rep; i++) {
        int status;
        if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
            r->pid = 0;
            break;
        }
        if (ts_http(r, "GET", "/healthz", NULL, NULL, 0, rep) == 0 && rep->status == 200) {
            rc = 0;
            break;
        }
        sleep_ms(50);
    }
    free(rep);
    if (rc != 0)
        print_log(r);
    return rc;
}

static int start(struct ts_receiver *r, const char *const *wrap, uid_t owner, gid_t group,
                 const char *const *args)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->state_dir, sizeof(r->state_dir), "/tmp/trip-rx-%d-XXXXXX", (int)getpid());
    if (!mkdtemp(r->state_dir))
        return -1;
    if (owner != (uid_t)-1 && chown(r->state_dir, owner, group) != 0)
        return -1;
    for (size_t i = 0; wrap && wrap[i] && i < 15; i++)
        r->wrap[i] = strdup(wrap[i]);
    snprintf(r->log_path, sizeof(r->log_path), "%s.log", r->state_dir);
    for (size_t i = 0; args && args[i] && i < 31; i++)
        r->args[i] = strdup(args[i]);
    r->port = ts_free_port();
    snprintf(r->base_url, sizeof(r->base_url), "http://127.0.0.1:%u", r->port);
    if (spawn(r) != 0)
        return -1;
    return wait_healthy(r);
}

int ts_receiver_start(struct ts_receiver *r, const char *const *args)
{
    return start(r, NULL, (uid_t)-1, (gid_t)-1, args);
}

int ts_receiver_start_wrapped(struct ts_receiver *r, const char *const *wrap, uid_t owner,
                              gid_t group, const char *const *args)
{
    return start(r, wrap, owner, group, args);
}

int ts_receiver_run_once(const char *const *args, int timeout_ms, char *out, size_t size)
{
    char bin[512], log[64];
    const char *argv[32];
    size_t n = 0;
    int status = 0, rc = -1;

    binary_path(bin, sizeof(bin));
    snprintf(log, sizeof(log), "/tmp/trip-run-once-%d.log", (int)getpid());
    argv[n++] = bin;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
            dup2(fd, STDERR_FILENO);
        execv(bin, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    for (int waited = 0; waited < timeout_ms && rc < 0; waited += 20) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        else
            sleep_ms(20);
    }
    if (rc < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    char *text = ts_read_file(log, NULL);
    snprintf(out, size, "%s", text ? text : "");
    free(text);
    unlink(log);
    return rc;
}

int ts_receiver_restart(struct ts_receiver *r)
{
    if (spawn(r) != 0)
        return -1;
    return wait_healthy(r);
}

/* Whether pid is gone or a zombie (its listening socket closed either way). */
static bool process_ended(pid_t pid)
{
    char path[64], st[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(st, 1, sizeof(st) - 1, f);
    fclose(f);
    st[n] = '\0';
    const char *rp = strrchr(st, ')'); /* "pid (comm) S ..." */
    return !rp || rp[1] == '\0' || rp[2] == 'Z' || rp[2] == 'X';
}

void ts_receiver_kill9(struct ts_receiver *r)
{
    char path[64], kids[256] = "";

    if (r->pid <= 0)
        return;
    /* its HTTP process ends by itself when the channel closes: wait for that too, so that a
     * restart finds the port free and no old listener answers in its place */
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)r->pid, (int)r->pid);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(kids, 1, sizeof(kids) - 1, f);
        kids[n] = '\0';
        fclose(f);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
    pid_t child = (pid_t)atoi(kids);
    for (int waited = 0; child > 0 && !process_ended(child) && waited < 5000; waited += 20)
        sleep_ms(20);
}

int ts_receiver_term(struct ts_receiver *r, int timeout_ms)
{
    int status = 0;

    if (r->pid <= 0)
        return -1;
    kill(r->pid, SIGTERM);
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
            r->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        sleep_ms(20);
    }
    ts_receiver_kill9(r);
    return -1;
}

static void remove_tree(const char *dir)
{
    char path[256];
    static const char *const files[] = {"state.json", ".state.json.tmp"};

    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

int ts_receiver_stop(struct ts_receiver *r, bool show_log)
{
    int status = r->pid > 0 ? ts_receiver_term(r, 10000) : -1;

    if (show_log || status > 0)
        print_log(r);
    if (r->state_dir[0]) {
        remove_tree(r->state_dir);
        unlink(r->log_path);
    }
    for (size_t i = 0; r->wrap[i]; i++) {
        free(r->wrap[i]);
        r->wrap[i] = NULL;
    }
    for (size_t i = 0; r->args[i]; i++) {
        free(r->args[i]);
        r->args[i] = NULL;
    }
    r->state_dir[0] = '\0';
    return status;
}

bool ts_receiver_log_has(const struct ts_receiver *r, const char *needle, int timeout_ms)
{
    for (int waited = 0;; waited += 50) {
        char *text = ts_read_file(r->log_path, NULL);
        bool found = text && strstr(text, needle);
        free(text);
        if (found)
            return true;
        if (waited >= timeout_ms)
            return false;
        sleep_ms(50);
    }
}

struct sink {
    char *buf;
    size_t cap, used;
    bool grow; /* buf is malloc'd and grows as needed (ts_http_alloc) */
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;

    if (s->grow && s->used + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 65536;
        while (cap < s->used + n + 1)
            cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb)
            return 0; /* curl fails the transfer */
        s->buf = nb;
        s->cap = cap;
    }
    size_t room = s->cap - 1 - s->used;
    size_t take = n < room ? n : room;
    memcpy(s->buf + s->used, data, take);
    s->used += take;
    s->buf[s->used] = '\0';
    return n;
}

static int perform(const struct ts_receiver *r, const char *method, const char *path,
                   const char *const *headers, const char *body, size_t len, struct sink *b,
                   struct sink *h, long *status)
{
    char url[512];
    struct curl_slist *hl = NULL;
    CURL *c = curl_easy_init();
    int rc = -1;

    *status = 0;
    if (!c)
        return -1;
    snprintf(url, sizeof(url), "%s%s", r->base_url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        rc = 0;
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return rc;
}

int ts_http(const struct ts_receiver *r, const char *method, const char *path,
            const char *const *headers, const char *body, size_t len, struct ts_http_reply *out)
{
    struct sink b = {out->body, sizeof(out->body), 0, false};
    struct sink h = {out->headers, sizeof(out->headers), 0, false};

    out->body[0] = out->headers[0] = '\0';
    return perform(r, method, path, headers, body, len, &b, &h, &out->status);
}

char *ts_http_alloc(const struct ts_receiver *r, const char *method, const char *path,
                    const char *body, long *status)
{
    const char *headers[] = {"Content-Type: application/json", NULL};
    char hbuf[4096];
    struct sink b = {NULL, 0, 0, true}, h = {hbuf, sizeof(hbuf), 0, false};

    if (perform(r, method, path, headers, body, body ? strlen(body) : 0, &b, &h, status) != 0 ||
        !b.buf) {
        free(b.buf);
        return NULL;
    }
    return b.buf;
}

int ts_http_json(const struct ts_receiver *r, const char *method, const char *path,
                 const char *token, const char *body, struct ts_http_reply *out)
{
    char auth[300];
    const char *headers[3] = {"Content-Type: application/json", NULL, NULL};

    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        headers[1] = auth;
    }
    return ts_http(r, method, path, headers, body, body ? strlen(body) : 0, out);
}

char *ts_fixture_for(const char *fixture, const char *container)
{
    static const char needle[] = "\"name\": \"user\"";
    char *text = ts_read_file(ts_fixture(fixture), NULL);
    size_t count = 0;

    if (!text)
        return NULL;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        count++;
    size_t need = strlen(text) + count * (strlen(container) + 16) + 1;
    char *out = malloc(need), *o = out;
    const char *p = text, *hit;
    while (out && (hit = strstr(p, needle))) {
        memcpy(o, p, (size_t)(hit - p));
        o += hit - p;
        o += sprintf(o, "\"name\": \"%s\"", container);
        p = hit + strlen(needle);
    }
    if (out)
        strcpy(o, p);
    free(text);
    return out;
}

long ts_receiver_post_fixture(const struct ts_receiver *r, const char *fixture,
                              const char *container)
{
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    char *body = ts_fixture_for(fixture, container);
    long status = -1;

    if (rep && body && ts_http_json(r, "POST", "/webhook", NULL, body, rep) == 0)
        status = rep->status;
    free(body);
    free(rep);
    return status;
}

void *ts_state_doc(const char *state_dir)
{
    char path[512];
    json_error_t jerr;
    json_t *doc, *arr;

    snprintf(path, sizeof(path), "%s/state.json", state_dir);
    doc = access(path, F_OK) == 0 ? json_load_file(path, 0, &jerr)
                                  : json_pack("{s:i, s:[]}", "version", 2, "containers");
    arr = json_object_get(doc, "containers");
    if (!json_is_array(arr)) {
        json_decref(doc);
        return NULL;
    }
    json_int_t file_gen = json_integer_value(json_object_get(doc, "generation"));
    snprintf(path, sizeof(path), "%s/journal", state_dir);
    char *text = ts_read_file(path, NULL), *line = text;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (!nl)
            break; /* torn: a restart drops it */
        json_t *rec = json_loadb(line, (size_t)(nl - line), 0, &jerr);
        json_t *entry = json_object_get(rec, "entry");
        const char *drop = json_string_value(json_object_get(rec, "drop"));
        const char *name = drop ? drop : json_string_value(json_object_get(entry, "name"));
        if (!name) {
            json_decref(rec);
            json_decref(doc);
            free(text);
            return NULL;
        }
        if (json_integer_value(json_object_get(rec, "gen")) > file_gen) {
            size_t i, at = json_array_size(arr);
            json_t *c;
            json_array_foreach(arr, i, c)
            {
                const char *n = json_string_value(json_object_get(c, "name"));
                if (n && strcmp(n, name) == 0)
                    at = i;
            }
            if (drop) {
                if (at < json_array_size(arr))
                    json_array_remove(arr, at);
            } else if (at < json_array_size(arr)) {
                json_array_set(arr, at, entry);
            } else {
                json_array_append(arr, entry);
            }
        }
        json_decref(rec);
        line = nl + 1;
    }
    free(text);
    return doc;
}
