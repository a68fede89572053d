/* ts_cdp.h: drives a real headless Chromium through the DevTools protocol, for the page tests. */
#ifndef TRIP_TS_CDP_H
#define TRIP_TS_CDP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * DESIGN
 * One struct ts_cdp is one Chromium process started with --headless=new --remote-debugging-pipe:
 * the protocol's NUL-terminated JSON messages go through two pipes (its fds 3 and 4), so no port is
 * opened. One page target is created and attached (flat session); every call below goes to it.
 * Events that arrive while waiting for a reply are scanned: uncaught page exceptions and console
 * or log errors are counted and their text kept (errors[]), so a test can assert there were none.
 * Single-threaded: one test thread owns a struct ts_cdp.
 */
#define TS_CDP_MAX_ERRORS 16

struct ts_cdp {
    pid_t pid;
    int to_browser;   /* our end of its fd 3 */
    int from_browser; /* our end of its fd 4 */
    int next_id;
    char session[128];
    char *buf; /* bytes read and not yet parsed */
    size_t len, cap;
    int n_errors;
    char errors[TS_CDP_MAX_ERRORS][512];
    char log_path[512];
};

/* "chromium" from $TRIP_CHROMIUM or PATH (also chromium-browser, google-chrome), or NULL. Static
 * storage. */
const char *ts_cdp_find_browser(void);

/* Starts the browser with a fresh profile under profile_dir (created), stderr to log_path,
 * the window width x height, and attaches to a new blank page with Page, Runtime and Log enabled.
 * Returns 0, or -1 with err filled. */
int ts_cdp_start(struct ts_cdp *c, const char *browser, const char *profile_dir,
                 const char *log_path, int width, int height, char *err, size_t errlen);
/* Closes the browser (Browser.close, then SIGKILL after 5 s) and frees the buffer. */
void ts_cdp_stop(struct ts_cdp *c);

/* Sends method with params (consumed; NULL: {}) to the page and waits up to timeout_ms for its
 * reply. *result (may be NULL) gets the "result" object, owned by the caller. Returns 0, or -1
 * with err filled (a protocol error, a timeout or a dead browser). */
int ts_cdp_call(struct ts_cdp *c, const char *method, json_t *params, json_t **result,
                int timeout_ms, char *err, size_t errlen);

/* Evaluates a JavaScript expression in the page (promises awaited) and returns its value as JSON
 * (owned by the caller), or NULL when it threw or the call failed (err says why). */
json_t *ts_cdp_eval(struct ts_cdp *c, const char *expr, char *err, size_t errlen);
/* ts_cdp_eval() for expressions of a boolean, string or integer value; false/""/-1 on failure. */
bool ts_cdp_eval_bool(struct ts_cdp *c, const char *expr);
/* Copies the string value of expr into out ("" on failure). Returns out. */
char *ts_cdp_eval_str(struct ts_cdp *c, const char *expr, char *out, size_t len);
long long ts_cdp_eval_int(struct ts_cdp *c, const char *expr);

/* Polls expr every 100 ms until it is true; returns the milliseconds it took, -1 after timeout_ms.
 */
long ts_cdp_wait(struct ts_cdp *c, const char *expr, int timeout_ms);

/* Navigates to url and waits for its load event (timeout_ms). Returns 0 or -1. */
int ts_cdp_navigate(struct ts_cdp *c, const char *url, int timeout_ms);
/* A key press as the keyboard makes it: "Tab", "Enter", "Escape"; shift for Shift+Tab. */
int ts_cdp_key(struct ts_cdp *c, const char *key, bool shift);
/* Types text into the focused element (Input.insertText: input events as from a keyboard). */
int ts_cdp_type(struct ts_cdp *c, const char *text);
/* Saves a PNG of the page's viewport (full_page: the whole page) to path. Returns its size in
 * bytes, or -1. */
long ts_cdp_screenshot(struct ts_cdp *c, const char *path, bool full_page);
/* Emulates a phone (width x height CSS pixels, scale 3, touch, mobile) or, with width 0, clears
 * the emulation. */
int ts_cdp_emulate(struct ts_cdp *c, int width, int height);

#endif
