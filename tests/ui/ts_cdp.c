/* ts_cdp.c: a small Chrome DevTools protocol client over --remote-debugging-pipe. */
#include "ts_cdp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h" /* http_base64_decode() */

static void set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (!err || !len)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *ts_cdp_find_browser(void)
{
    static char found[512];
    static const char *const names[] = {"chromium", "chromium-browser", "google-chrome", NULL};
    const char *env = getenv("TRIP_CHROMIUM");
    const char *path = getenv("PATH");

    if (env && *env)
        return access(env, X_OK) == 0 ? env : NULL;
    for (size_t i = 0; names[i]; i++) {
        const char *p = path ? path : "/usr/bin:/bin";
        while (*p) {
            size_t n = strcspn(p, ":");
            snprintf(found, sizeof(found), "%.*s/%s", (int)n, p, names[i]);
            if (n && access(found, X_OK) == 0)
                return found;
            p += n + (p[n] == ':');
        }
    }
    return NULL;
}

/* ---- messages ---- */

static int send_msg(struct ts_cdp *c, json_t *msg, char *err, size_t errlen)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    size_t n = text ? strlen(text) + 1 : 0; /* the NUL ends the message */
    size_t off = 0;

    json_decref(msg);
    if (!text) {
        set_err(err, errlen, "cannot serialize a protocol message");
        return -1;
    }
    while (off < n) {
        ssize_t w = write(c->to_browser, text + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            set_err(err, errlen, "write to the browser: %s", strerror(errno));
            free(text);
            return -1;
        }
        off += (size_t)w;
    }
    free(text);
    return 0;
}

/* Takes one whole message off the buffer, or NULL when none is complete yet. */
static json_t *take_msg(struct ts_cdp *c)
{
    char *end = c->len ? memchr(c->buf, '\0', c->len) : NULL;
    json_error_t jerr;

    if (!end)
        return NULL;
    size_t n = (size_t)(end - c->buf);
    json_t *m = json_loadb(c->buf, n, 0, &jerr);
    memmove(c->buf, end + 1, c->len - n - 1);
    c->len -= n + 1;
    return m ? m : json_object();
}

static void note_error(struct ts_cdp *c, const char *what, const char *text)
{
    if (c->n_errors < TS_CDP_MAX_ERRORS)
        snprintf(c->errors[c->n_errors], sizeof(c->errors[0]), "%s: %s", what, text ? text : "?");
    c->n_errors++;
}

/* Keeps what a test asserts on from an event: page exceptions, console and log errors. */
static void on_event(struct ts_cdp *c, const json_t *m)
{
    const char *method = json_string_value(json_object_get(m, "method"));
    const json_t *p = json_object_get(m, "params");

    if (!method)
        return;
    if (strcmp(method, "Runtime.exceptionThrown") == 0) {
        const json_t *d = json_object_get(p, "exceptionDetails");
        const json_t *ex = json_object_get(d, "exception");
        const char *desc = json_string_value(json_object_get(ex, "description"));
        note_error(c, "exception", desc ? desc : json_string_value(json_object_get(d, "text")));
    } else if (strcmp(method, "Runtime.consoleAPICalled") == 0) {
        const char *type = json_string_value(json_object_get(p, "type"));
        const json_t *arg0 = json_array_get(json_object_get(p, "args"), 0);
        if (type && strcmp(type, "error") == 0)
            note_error(c, "console.error", json_string_value(json_object_get(arg0, "value")));
    } else if (strcmp(method, "Log.entryAdded") == 0) {
        const json_t *e = json_object_get(p, "entry");
        const char *level = json_string_value(json_object_get(e, "level"));
        const char *url = json_string_value(json_object_get(e, "url"));
        /* a 401 of the API before sign-in is the page working as designed, not an error */
        if (level && strcmp(level, "error") == 0 && !(url && strstr(url, "/api/v1/")))
            note_error(c, "log", json_string_value(json_object_get(e, "text")));
    }
}

/* Reads until the reply with id arrives (returned, owned by the caller) or the deadline passes. */
static json_t *wait_reply(struct ts_cdp *c, int id, long long deadline, char *err, size_t errlen)
{
    for (;;) {
        json_t *m;
        while ((m = take_msg(c)) != NULL) {
            const json_t *mid = json_object_get(m, "id");
            if (mid && json_integer_value(mid) == id)
                return m;
            on_event(c, m);
            json_decref(m);
        }
        long long left = deadline - mono_ms();
        if (left <= 0) {
            set_err(err, errlen, "no reply from the browser in time");
            return NULL;
        }
        struct pollfd pfd = {.fd = c->from_browser, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno != EINTR) {
            set_err(err, errlen, "poll: %s", strerror(errno));
            return NULL;
        }
        if (pr <= 0)
            continue;
        if (c->cap - c->len < 65536) {
            size_t cap = c->cap ? c->cap * 2 : 1 << 20;
            char *nb = realloc(c->buf, cap);
            if (!nb) {
                set_err(err, errlen, "out of memory");
                return NULL;
            }
            c->buf = nb;
            c->cap = cap;
        }
        ssize_t r = read(c->from_browser, c->buf + c->len, c->cap - c->len);
        if (r == 0) {
            set_err(err, errlen, "the browser closed its pipe (crashed?); see %s", c->log_path);
            return NULL;
        }
        if (r > 0)
            c->len += (size_t)r;
    }
}

static int call(struct ts_cdp *c, const char *session, const char *method, json_t *params,
                json_t **result, int timeout_ms, char *err, size_t errlen)
{
    int id = ++c->next_id;
    json_t *msg = json_pack("{s:i, s:s, s:o}", "id", id, "method", method, "params",
                            params ? params : json_object());

    if (result)
        *result = NULL;
    if (session && *session)
        json_object_set_new(msg, "sessionId", json_string(session));
    if (send_msg(c, msg, err, errlen) != 0)
        return -1;
    json_t *reply = wait_reply(c, id, mono_ms() + timeout_ms, err, errlen);
    if (!reply)
        return -1;
    const json_t *e = json_object_get(reply, "error");
    if (e) {
        set_err(err, errlen, "%s: %s", method, json_string_value(json_object_get(e, "message")));
        json_decref(reply);
        return -1;
    }
    if (result)
        *result = json_incref(json_object_get(reply, "result"));
    json_decref(reply);
    return 0;
}

int ts_cdp_call(struct ts_cdp *c, const char *method, json_t *params, json_t **result,
                int timeout_ms, char *err, size_t errlen)
{
    return call(c, c->session, method, params, result, timeout_ms, err, errlen);
}

/* ---- process ---- */

static void exec_browser(const char *browser, const char *profile_dir, const char *log_path,
                         int width, int height, int in_fd, int out_fd)
{
    char profile[600], size[64];
    int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    /* fds 3 and 4 are the protocol's pipe: move our ends out of the way first */
    int in = dup(in_fd), out = dup(out_fd);
    if (in < 0 || out < 0 || dup2(in, 3) < 0 || dup2(out, 4) < 0)
        _exit(126);
    if (log >= 0) {
        dup2(log, 1);
        dup2(log, 2);
    }
    for (int fd = 5; fd < 1024; fd++)
        close(fd);
    snprintf(profile, sizeof(profile), "--user-data-dir=%s", profile_dir);
    snprintf(size, sizeof(size), "--window-size=%d,%d", width, height);
    const char *argv[] = {browser,
                          "--headless=new",
                          "--remote-debugging-pipe",
                          "--no-sandbox", /* the tests run as root, where the sandbox refuses */
                          "--disable-gpu",
                          "--disable-dev-shm-usage",
                          "--no-first-run",
                          "--no-default-browser-check",
                          "--disable-extensions",
                          "--disable-background-networking",
                          "--disable-component-update",
                          "--disable-sync",
                          "--mute-audio",
                          "--hide-scrollbars",
                          profile,
                          size,
                          "about:blank",
                          NULL};
    execv(browser, (char *const *)(uintptr_t)argv); /* exec does not modify them */
    _exit(127);
}

int ts_cdp_start(struct ts_cdp *c, const char *browser, const char *profile_dir,
                 const char *log_path, int width, int height, char *err, size_t errlen)
{
    int to[2], from[2];
    json_t *r = NULL;

    memset(c, 0, sizeof(*c));
    c->pid = -1;
    snprintf(c->log_path, sizeof(c->log_path), "%s", log_path);
    mkdir(profile_dir, 0700);
    if (pipe(to) != 0 || pipe(from) != 0) {
        set_err(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    c->pid = fork();
    if (c->pid == 0) {
        close(to[1]);
        close(from[0]);
        exec_browser(browser, profile_dir, log_path, width, height, to[0], from[1]);
    }
    close(to[0]);
    close(from[1]);
    c->to_browser = to[1];
    c->from_browser = from[0];
    fcntl(c->to_browser, F_SETFD, FD_CLOEXEC);
    fcntl(c->from_browser, F_SETFD, FD_CLOEXEC);
    if (c->pid < 0) {
        set_err(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (call(c, NULL, "Target.createTarget", json_pack("{s:s}", "url", "about:blank"), &r, 30000,
             err, errlen) != 0)
        return -1;
    json_t *params =
        json_pack("{s:O, s:b}", "targetId", json_object_get(r, "targetId"), "flatten", 1);
    json_decref(r);
    if (call(c, NULL, "Target.attachToTarget", params, &r, 10000, err, errlen) != 0)
        return -1;
    snprintf(c->session, sizeof(c->session), "%s",
             json_string_value(json_object_get(r, "sessionId"))
                 ? json_string_value(json_object_get(r, "sessionId"))
                 : "");
    json_decref(r);
    static const char *const domains[] = {"Page.enable", "Runtime.enable", "Log.enable"};
    for (size_t i = 0; i < 3; i++)
        if (ts_cdp_call(c, domains[i], NULL, NULL, 10000, err, errlen) != 0)
            return -1;
    return 0;
}

void ts_cdp_stop(struct ts_cdp *c)
{
    if (c->pid > 0) {
        char err[256];
        (void)call(c, NULL, "Browser.close", NULL, NULL, 3000, err, sizeof(err));
        for (int i = 0; i < 50; i++) {
            if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
                c->pid = -1;
                break;
            }
            usleep(100 * 1000);
        }
        if (c->pid > 0) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, NULL, 0);
        }
        c->pid = -1;
    }
    if (c->to_browser > 0)
        close(c->to_browser);
    if (c->from_browser > 0)
        close(c->from_browser);
    c->to_browser = c->from_browser = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

/* ---- page helpers ---- */

json_t *ts_cdp_eval(struct ts_cdp *c, const char *expr, char *err, size_t errlen)
{
    json_t *r = NULL;
    json_t *params =
        json_pack("{s:s, s:b, s:b}", "expression", expr, "awaitPromise", 1, "returnByValue", 1);

    if (ts_cdp_call(c, "Runtime.evaluate", params, &r, 20000, err, errlen) != 0)
        return NULL;
    const json_t *ex = json_object_get(r, "exceptionDetails");
    if (ex) {
        const char *d =
            json_string_value(json_object_get(json_object_get(ex, "exception"), "description"));
        set_err(err, errlen, "%s", d ? d : json_string_value(json_object_get(ex, "text")));
        json_decref(r);
        return NULL;
    }
    json_t *v = json_object_get(json_object_get(r, "result"), "value");
    v = v ? json_incref(v) : json_null();
    json_decref(r);
    return v;
}

bool ts_cdp_eval_bool(struct ts_cdp *c, const char *expr)
{
    char err[256];
    json_t *v = ts_cdp_eval(c, expr, err, sizeof(err));
    bool b = json_is_true(v);

    json_decref(v);
    return b;
}

char *ts_cdp_eval_str(struct ts_cdp *c, const char *expr, char *out, size_t len)
{
    char err[256];
    json_t *v = ts_cdp_eval(c, expr, err, sizeof(err));

    snprintf(out, len, "%s", json_is_string(v) ? json_string_value(v) : "");
    json_decref(v);
    return out;
}

long long ts_cdp_eval_int(struct ts_cdp *c, const char *expr)
{
    char err[256];
    json_t *v = ts_cdp_eval(c, expr, err, sizeof(err));
    long long n = json_is_number(v) ? (long long)json_number_value(v) : -1;

    json_decref(v);
    return n;
}

long ts_cdp_wait(struct ts_cdp *c, const char *expr, int timeout_ms)
{
    long long t0 = mono_ms();

    for (;;) {
        if (ts_cdp_eval_bool(c, expr))
            return (long)(mono_ms() - t0);
        if (mono_ms() - t0 > timeout_ms)
            return -1;
        usleep(100 * 1000);
    }
}

int ts_cdp_navigate(struct ts_cdp *c, const char *url, int timeout_ms)
{
    char err[256];

    if (ts_cdp_call(c, "Page.navigate", json_pack("{s:s}", "url", url), NULL, timeout_ms, err,
                    sizeof(err)) != 0)
        return -1;
    return ts_cdp_wait(c, "document.readyState === 'complete'", timeout_ms) < 0 ? -1 : 0;
}

int ts_cdp_key(struct ts_cdp *c, const char *key, bool shift)
{
    static const struct {
        const char *key;
        int code;
        const char *text;
    } keys[] = {{"Tab", 9, ""}, {"Enter", 13, "\r"}, {"Escape", 27, ""}, {" ", 32, " "}};
    char err[256];

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcmp(keys[i].key, key) != 0)
            continue;
        const char *code = strcmp(key, " ") == 0 ? "Space" : key;
        json_t *down = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "type", "keyDown", "key", key,
                                 "code", code, "windowsVirtualKeyCode", keys[i].code,
                                 "nativeVirtualKeyCode", keys[i].code, "modifiers", shift ? 8 : 0);
        if (keys[i].text[0])
            json_object_set_new(down, "text", json_string(keys[i].text));
        json_t *up = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "type", "keyUp", "key", key,
                               "code", code, "windowsVirtualKeyCode", keys[i].code,
                               "nativeVirtualKeyCode", keys[i].code, "modifiers", shift ? 8 : 0);
        if (ts_cdp_call(c, "Input.dispatchKeyEvent", down, NULL, 5000, err, sizeof(err)) != 0) {
            json_decref(up);
            return -1;
        }
        return ts_cdp_call(c, "Input.dispatchKeyEvent", up, NULL, 5000, err, sizeof(err));
    }
    return -1;
}

int ts_cdp_type(struct ts_cdp *c, const char *text)
{
    char err[256];

    return ts_cdp_call(c, "Input.insertText", json_pack("{s:s}", "text", text), NULL, 5000, err,
                       sizeof(err));
}

long ts_cdp_screenshot(struct ts_cdp *c, const char *path, bool full_page)
{
    char err[256];
    json_t *r = NULL;
    json_t *params = json_pack("{s:s, s:b}", "format", "png", "captureBeyondViewport", full_page);

    if (full_page) { /* the whole document: clip to its size */
        json_t *m = NULL;
        if (ts_cdp_call(c, "Page.getLayoutMetrics", NULL, &m, 10000, err, sizeof(err)) != 0) {
            json_decref(params);
            return -1;
        }
        const json_t *size = json_object_get(m, "cssContentSize");
        json_object_set_new(params, "clip",
                            json_pack("{s:i, s:i, s:f, s:f, s:i}", "x", 0, "y", 0, "width",
                                      json_number_value(json_object_get(size, "width")), "height",
                                      json_number_value(json_object_get(size, "height")), "scale",
                                      1));
        json_decref(m);
    }

    if (ts_cdp_call(c, "Page.captureScreenshot", params, &r, 30000, err, sizeof(err)) != 0)
        return -1;
    const char *b64 = json_string_value(json_object_get(r, "data"));
    size_t cap = b64 ? strlen(b64) / 4 * 3 + 4 : 0;
    char *png = cap ? malloc(cap) : NULL;
    int n = png ? http_base64_decode(b64, png, cap) : -1;
    json_decref(r);
    FILE *f = n > 0 ? fopen(path, "wb") : NULL;
    if (!f || fwrite(png, 1, (size_t)n, f) != (size_t)n) {
        if (f)
            fclose(f);
        free(png);
        return -1;
    }
    free(png);
    return fclose(f) == 0 ? n : -1;
}

int ts_cdp_emulate(struct ts_cdp *c, int width, int height)
{
    char err[256];

    if (width == 0)
        return ts_cdp_call(c, "Emulation.clearDeviceMetricsOverride", NULL, NULL, 5000, err,
                           sizeof(err));
    json_t *p = json_pack("{s:i, s:i, s:f, s:b}", "width", width, "height", height,
                          "deviceScaleFactor", 2.0, "mobile", 1);
    if (ts_cdp_call(c, "Emulation.setDeviceMetricsOverride", p, NULL, 5000, err, sizeof(err)) != 0)
        return -1;
    return ts_cdp_call(c, "Emulation.setTouchEmulationEnabled",
                       json_pack("{s:b, s:i}", "enabled", 1, "maxTouchPoints", 5), NULL, 5000, err,
                       sizeof(err));
}
