/* test_status_page.c: the status page (GET /) in a real headless Chromium, against the real
 * daemon managing real containers: sign-in with the token (never in the URL), the containers on
 * the page, a scale-out made through the API shown within one refresh, the filter, maintenance and
 * scale-in from the page's buttons after a confirmation, the action timeline, basic accessibility
 * (labels, contrast, keyboard), the phone layout, no script error, and screenshots saved in the
 * build dir (tests/ui/status-page*.png). Fails, never skips, under CI=true without Chromium. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ts_cdp.h"
#include "ts_common.h"
#include "ts_docker.h"
#include "ts_receiver.h"

#define TOKEN "page-t0ken"
#define REFRESH_MS 2000 /* receiver/ui/app.js REFRESH_MS */
#define N_CONTAINERS 3

/* Managed through --manage-all and a label of our own, not trip.enable=true, so that no other
 * trip-receiver on this machine acts on these containers (see test_receiver_api.c). */
static const char *const labels[] = {"trip.owner=ui-test", NULL};
static struct ts_receiver rx;
static struct ts_cdp cdp;
static char names[N_CONTAINERS][128];
static char out_dir[512];
static bool browser_up;
static char profile[600];

static void require_browser(void)
{
    ts_require_docker_image();
    if (!browser_up) {
        if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
            fail_msg(
                "headless Chromium could not be started (CI=true: required; tools/deps installs "
                "chromium)");
        skip();
    }
}

/* Removes the browser's profile directory (nftw, no shell). */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void rm_profile(void)
{
    if (profile[0])
        nftw(profile, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int group_setup(void **state)
{
    char id[80], err[512], log[600];
    const char *args[] = {
        "--token", TOKEN, "--manage-all", "--heal-events=false", "--scale-duration", "10m", NULL};
    const char *browser = ts_cdp_find_browser();
    const char *bin = getenv("TRIP_BINARY_DIR");
    (void)state;

    snprintf(out_dir, sizeof(out_dir), "%s/tests/ui", bin ? bin : ".");
    mkdir(out_dir, 0755);
    if (!ts_docker_available())
        return 0; /* each test skips (or fails under CI) in ts_require_docker_image() */
    for (int i = 0; i < N_CONTAINERS; i++) {
        ts_docker_name(names[i], sizeof(names[i]), "page");
        if (ts_docker_run_container(id, sizeof(id), names[i], labels, NULL) != 0)
            return -1;
    }
    if (ts_receiver_start(&rx, args) != 0)
        return -1;
    if (!browser) {
        fprintf(stderr, "ui: no Chromium found (chromium in PATH or $TRIP_CHROMIUM)\n");
        return 0;
    }
    snprintf(profile, sizeof(profile), "%s/chromium-profile-%d", out_dir, (int)getpid());
    snprintf(log, sizeof(log), "%s/chromium.log", out_dir);
    if (ts_cdp_start(&cdp, browser, profile, log, 1280, 900, err, sizeof(err)) != 0) {
        fprintf(stderr, "ui: cannot drive %s: %s\n", browser, err);
        ts_cdp_stop(&cdp);
        return 0;
    }
    browser_up = true;
    return 0;
}

static int group_teardown(void **state)
{
    if (browser_up)
        ts_cdp_stop(&cdp);
    rm_profile();
    int rc = rx.pid > 0 && ts_receiver_stop(&rx, false) != 0 ? -1 : 0;
    ts_docker_group_teardown(state);
    return rc;
}

/* A JavaScript expression with %s substituted (names are [a-z0-9-], safe in a '...' literal). */
static const char *js(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *js(const char *fmt, ...)
{
    static char buf[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return buf;
}

/* The card of container name, as a JS expression. Four static buffers, used in turn, so that one
 * js() call may take up to four cards. */
static const char *card(const char *name)
{
    static char buf[4][256];
    static unsigned turn;
    char *b = buf[turn++ % 4];

    snprintf(b, sizeof(buf[0]), "document.querySelector('#containers li[data-name=\"%s\"]')", name);
    return b;
}

static void print_errors(void)
{
    for (int i = 0; i < cdp.n_errors && i < TS_CDP_MAX_ERRORS; i++)
        fprintf(stderr, "ui: page error: %s\n", cdp.errors[i]);
}

static long api(const char *method, const char *path, const char *body, struct ts_http_reply *rep)
{
    assert_int_equal(ts_http_json(&rx, method, path, TOKEN, body, rep), 0);
    return rep->status;
}

static void page_asks_for_the_token_and_keeps_it_out_of_the_url(void **state)
{
    char url[128], href[512];
    (void)state;
    require_browser();
    snprintf(url, sizeof(url), "%s/", rx.base_url);
    assert_int_equal(ts_cdp_navigate(&cdp, url, 15000), 0);
    assert_true(ts_cdp_wait(&cdp, "!document.getElementById('login').hidden", 10000) >= 0);
    assert_true(ts_cdp_eval_bool(&cdp, "document.getElementById('board').hidden"));
    /* a user clicks the field, types the token, presses Enter */
    assert_true(ts_cdp_eval_bool(&cdp, "document.getElementById('login-token').focus(), "
                                       "document.activeElement.id === 'login-token'"));
    assert_int_equal(ts_cdp_type(&cdp, TOKEN), 0);
    assert_int_equal(ts_cdp_key(&cdp, "Enter", false), 0);
    assert_true(ts_cdp_wait(&cdp, "!document.getElementById('board').hidden", 10000) >= 0);
    ts_cdp_eval_str(&cdp, "location.href", href, sizeof(href));
    assert_null(strstr(href, TOKEN));
    assert_string_equal(href, url);
}

static void page_lists_the_managed_containers(void **state)
{
    char expr[1024];
    (void)state;
    require_browser();
    snprintf(expr, sizeof(expr), "%s && %s && %s", card(names[0]), card(names[1]), card(names[2]));
    long ms = ts_cdp_wait(&cdp, js("!!(%s)", expr), 10000);
    assert_true(ms >= 0);
    char state0[64];
    ts_cdp_eval_str(&cdp, js("%s.dataset.state", card(names[0])), state0, sizeof(state0));
    assert_string_equal(state0, "running");
    fprintf(stderr, "ui: %lld containers on the page, ours among them after %ld ms\n",
            ts_cdp_eval_int(&cdp, "document.querySelectorAll('#containers li').length"), ms);
}

static void scale_out_through_the_api_appears_within_one_refresh(void **state)
{
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    char path[256];
    (void)state;
    require_browser();
    snprintf(path, sizeof(path), "/api/v1/containers/%s/scale", names[0]);
    assert_int_equal(api("POST", path, "{\"resource\":\"cpu\",\"direction\":\"out\"}", rep), 200);
    long ms = ts_cdp_wait(
        &cdp,
        js("(c => c && c.dataset.state === 'scaled-out' && c.textContent.includes('512 shares → "
           "1024 shares') && /left before scale-in/.test(c.textContent))(%s)",
           card(names[0])),
        REFRESH_MS + 2000);
    fprintf(stderr,
            "ui: the scale-out showed on the page %ld ms after the API answered (refresh "
            "every %d ms)\n",
            ms, REFRESH_MS);
    assert_true(ms >= 0);
    assert_true(ms <= REFRESH_MS + 1000);
    /* the most urgent first: the scaled-out container is above the others of ours */
    assert_true(ts_cdp_eval_bool(&cdp, js("!!(%s.compareDocumentPosition(%s) & "
                                          "Node.DOCUMENT_POSITION_FOLLOWING)",
                                          card(names[0]), card(names[1]))));
    free(rep);
}

static void filter_shows_only_matching_containers(void **state)
{
    char count[128];
    (void)state;
    require_browser();
    assert_true(ts_cdp_eval_bool(&cdp, "document.getElementById('filter').focus(), "
                                       "document.activeElement.id === 'filter'"));
    assert_int_equal(ts_cdp_type(&cdp, names[1]), 0);
    assert_true(ts_cdp_wait(&cdp,
                            js("!%s.hidden && %s.hidden && %s.hidden", card(names[1]),
                               card(names[0]), card(names[2])),
                            3000) >= 0);
    assert_int_equal(ts_cdp_eval_int(&cdp,
                                     "[...document.querySelectorAll('#containers li')].filter(l => "
                                     "!l.hidden).length"),
                     1);
    ts_cdp_eval_str(&cdp, "document.getElementById('filter-count').textContent", count,
                    sizeof(count));
    assert_non_null(strstr(count, "1 of "));
    /* the state words filter too; the filter survives a refresh */
    assert_true(ts_cdp_eval_bool(&cdp,
                                 "(f => (f.value = 'scaled-out', f.dispatchEvent(new "
                                 "Event('input')), true))(document.getElementById('filter'))"));
    usleep((REFRESH_MS + 500) * 1000);
    assert_true(
        ts_cdp_eval_bool(&cdp, js("!%s.hidden && %s.hidden", card(names[0]), card(names[1]))));
    assert_true(ts_cdp_eval_bool(&cdp,
                                 "(f => (f.value = '', f.dispatchEvent(new "
                                 "Event('input')), true))(document.getElementById('filter'))"));
    assert_true(
        ts_cdp_eval_bool(&cdp, js("!%s.hidden && !%s.hidden", card(names[0]), card(names[1]))));
}

/* Clicks the card's button labelled label, checks the confirmation asks, and confirms. */
static void click_and_confirm(const char *name, const char *label)
{
    char text[512];

    assert_true(ts_cdp_eval_bool(
        &cdp,
        js("(b => b ? (b.click(), true) : false)(%s.querySelector('button[aria-label=\"%s\"]'))",
           card(name), label)));
    assert_true(ts_cdp_wait(&cdp, "document.getElementById('confirm').open", 3000) >= 0);
    ts_cdp_eval_str(&cdp, "document.getElementById('confirm-text').textContent", text,
                    sizeof(text));
    assert_non_null(strstr(text, name));
    assert_true(ts_cdp_eval_bool(&cdp, "document.getElementById('confirm-ok').click(), true"));
    assert_true(ts_cdp_wait(&cdp, "!document.getElementById('confirm').open", 3000) >= 0);
}

static void maintenance_from_the_page_after_confirmation(void **state)
{
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    char label[256], path[256];
    (void)state;
    require_browser();
    /* cancelled: nothing changes */
    snprintf(label, sizeof(label), "Start maintenance of %s", names[2]);
    assert_true(ts_cdp_eval_bool(
        &cdp, js("(b => (b.click(), true))(%s.querySelector('button[aria-label=\"%s\"]'))",
                 card(names[2]), label)));
    assert_true(ts_cdp_wait(&cdp, "document.getElementById('confirm').open", 3000) >= 0);
    assert_true(ts_cdp_eval_bool(&cdp, "document.getElementById('confirm').close('cancel'), true"));
    usleep(500 * 1000);
    snprintf(path, sizeof(path), "/api/v1/containers/%s", names[2]);
    assert_int_equal(api("GET", path, NULL, rep), 200);
    assert_non_null(strstr(rep->body, "\"maintenance\": false"));
    /* confirmed: applied through the API, shown on the page */
    click_and_confirm(names[2], label);
    assert_true(ts_cdp_wait(&cdp, js("%s.dataset.state === 'maintenance'", card(names[2])),
                            REFRESH_MS + 2000) >= 0);
    assert_int_equal(api("GET", path, NULL, rep), 200);
    assert_non_null(strstr(rep->body, "\"maintenance\": true"));
    snprintf(label, sizeof(label), "End maintenance of %s", names[2]);
    click_and_confirm(names[2], label);
    assert_true(ts_cdp_wait(&cdp, js("%s.dataset.state === 'running'", card(names[2])),
                            REFRESH_MS + 2000) >= 0);
    free(rep);
}

static void scale_in_now_from_the_page_restores_the_baseline(void **state)
{
    char label[256];
    (void)state;
    require_browser();
    snprintf(label, sizeof(label), "Scale in CPU of %s now", names[0]);
    click_and_confirm(names[0], label);
    assert_true(ts_docker_wait_i64(names[0], "{{.HostConfig.CpuShares}}", 512, 10000) >= 0);
    assert_true(ts_cdp_wait(&cdp, js("%s.dataset.state !== 'scaled-out'", card(names[0])),
                            REFRESH_MS + 2000) >= 0);
}

static void timeline_shows_the_actions(void **state)
{
    (void)state;
    require_browser();
    assert_true(ts_cdp_wait(&cdp, "!document.getElementById('timeline-section').hidden", 5000) >=
                0);
    /* newest first: the scale-in from the page, then the scale-out from the API */
    assert_true(
        ts_cdp_wait(&cdp,
                    js("(rows => (i => i >= 0 && rows.findIndex(r => r.includes('%s') && "
                       "/scale out cpu/.test(r)) > i)(rows.findIndex(r => r.includes('%s') && "
                       "/scale in cpu/.test(r) && /manual/.test(r) && /from 127\\.0\\.0\\.1/"
                       ".test(r) && /ok/.test(r))))([...document.querySelectorAll('#timeline "
                       "tbody tr')].map(r => r.textContent))",
                       names[0], names[0]),
                    REFRESH_MS + 2000) >= 0);
}

static void accessibility_basics_labels_contrast(void **state)
{
    char path[600], err[512];
    (void)state;
    require_browser();
    const char *src = getenv("TRIP_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/tests/ui/checks.js", src ? src : ".");
    char *script = ts_read_file(path, NULL);
    assert_non_null(script);
    json_t *problems = ts_cdp_eval(&cdp, script, err, sizeof(err));
    free(script);
    if (!problems)
        fail_msg("checks.js failed: %s", err);
    size_t i;
    json_t *p;
    json_array_foreach(problems, i, p)
    {
        fprintf(stderr, "ui: accessibility: %s\n", json_string_value(p));
    }
    assert_int_equal(json_array_size(problems), 0);
    json_decref(problems);
}

/* The focused element as "tag#id aria-label" (for the log) */
static const char *focused(void)
{
    static char buf[256];
    return ts_cdp_eval_str(&cdp,
                           "(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + "
                           "(e.getAttribute('aria-label') || ''))(document.activeElement)",
                           buf, sizeof(buf));
}

static void keyboard_reaches_filter_and_buttons_and_dialog(void **state)
{
    char label[256], url[128];
    bool filter = false, button = false;
    (void)state;
    require_browser();
    snprintf(label, sizeof(label), "Start maintenance of %s", names[1]);
    /* from the top of a freshly loaded page (the token stays in the tab's session storage) */
    snprintf(url, sizeof(url), "%s/", rx.base_url);
    assert_int_equal(ts_cdp_navigate(&cdp, url, 15000), 0);
    assert_true(ts_cdp_wait(&cdp, js("!!%s", card(names[1])), 10000) >= 0);
    for (int i = 0; i < 400 && !button; i++) {
        assert_int_equal(ts_cdp_key(&cdp, "Tab", false), 0);
        const char *f = focused();
        filter = filter || strncmp(f, "input#filter", 12) == 0;
        button = strstr(f, label) != NULL;
        if (i < 3 || button)
            assert_true(ts_cdp_eval_bool(&cdp,
                                         "getComputedStyle(document.activeElement).outlineStyle "
                                         "!== 'none'"));
    }
    assert_true(filter);
    assert_true(button);
    /* Enter opens the confirmation with the focus in it; Escape cancels and gives focus back */
    assert_int_equal(ts_cdp_key(&cdp, "Enter", false), 0);
    assert_true(ts_cdp_wait(&cdp, "document.getElementById('confirm').open", 3000) >= 0);
    assert_true(ts_cdp_eval_bool(&cdp, "document.getElementById('confirm').contains(document."
                                       "activeElement)"));
    assert_int_equal(ts_cdp_key(&cdp, "Escape", false), 0);
    assert_true(ts_cdp_wait(&cdp, "!document.getElementById('confirm').open", 3000) >= 0);
    assert_non_null(strstr(focused(), label));
    assert_true(ts_cdp_eval_bool(&cdp, js("%s.dataset.state === 'running'", card(names[1]))));
}

static void screenshots_and_phone_layout(void **state)
{
    char path[600];
    (void)state;
    require_browser();
    snprintf(path, sizeof(path), "%s/status-page.png", out_dir);
    long n = ts_cdp_screenshot(&cdp, path, true);
    assert_true(n > 10000);
    fprintf(stderr, "ui: screenshot %s (%ld bytes)\n", path, n);
    assert_int_equal(ts_cdp_emulate(&cdp, 390, 844), 0);
    usleep(300 * 1000);
    /* readable on a phone: no sideways scrolling, one column of cards, text not shrunk */
    assert_true(
        ts_cdp_eval_bool(&cdp, "document.documentElement.scrollWidth <= window.innerWidth"));
    assert_true(ts_cdp_eval_bool(
        &cdp, js("%s.getBoundingClientRect().width > window.innerWidth * 0.85", card(names[0]))));
    assert_true(ts_cdp_eval_bool(
        &cdp,
        "parseFloat(getComputedStyle(document.querySelector('#containers li')).fontSize) >= 14"));
    snprintf(path, sizeof(path), "%s/status-page-phone.png", out_dir);
    n = ts_cdp_screenshot(&cdp, path, false);
    assert_true(n > 10000);
    fprintf(stderr, "ui: screenshot %s (%ld bytes)\n", path, n);
    assert_int_equal(ts_cdp_emulate(&cdp, 0, 0), 0);
}

static void no_script_error_no_inline_script_strict_csp(void **state)
{
    struct ts_http_reply *rep = malloc(sizeof(*rep));
    (void)state;
    require_browser();
    print_errors();
    assert_int_equal(cdp.n_errors, 0);
    assert_true(
        ts_cdp_eval_bool(&cdp, "[...document.scripts].every(s => s.src && !s.text.trim())"));
    assert_true(ts_cdp_eval_bool(&cdp, "![...document.querySelectorAll('*')].some(e => "
                                       "[...e.attributes].some(a => /^on/i.test(a.name)))"));
    assert_int_equal(ts_http(&rx, "GET", "/", NULL, NULL, 0, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(
        strstr(rep->headers, "Content-Security-Policy: default-src 'none'; script-src 'self'"));
    assert_null(strstr(rep->headers, "unsafe-inline"));
    /* the page itself needs no credentials; the token in a URL is never accepted by the API */
    assert_int_equal(ts_http(&rx, "GET", "/api/v1/containers?token=" TOKEN, NULL, NULL, 0, rep), 0);
    assert_int_equal(rep->status, 401);
    free(rep);
}

/* 300 containers: the page's own render() on 300 entries shaped as GET /api/v1/containers returns
 * them (one crash-looping, one scaled out with an alert firing, one in maintenance), timed in the
 * browser; the most urgent come first and the filter still finds one. The next refresh puts the
 * daemon's real list back. */
static void three_hundred_containers_stay_usable(void **state)
{
    char err[512];
    (void)state;
    require_browser();
    json_t *ms = ts_cdp_eval(
        &cdp,
        "(() => { const res = (out) => ({scaled_out: out, level: out ? 'scaled-out' : 'baseline', "
        "firing: out ? [{alertname: 'ContainerHighCpu', fingerprint: 'f00'}] : [], deadline_ms: "
        "Date.now() + 60000, baseline: 512, current: out ? 1024 : 512}); const list = []; for (let "
        "i = 0; i < 300; i++) list.push({name: `load-${String(i).padStart(3, '0')}`, kind: "
        "'container', cpu: res(i === 150), memory: res(false), last_action: {}, maintenance: i === "
        "7, crash_looping: i === 299, heal: {heals: 0}}); clearTimeout(page.timer); "
        "page.containers = list; const t0 = performance.now(); render(); const t1 = "
        "performance.now(); const f = document.getElementById('filter'); f.value = 'load-123'; "
        "f.dispatchEvent(new Event('input')); const t2 = performance.now(); const shown = "
        "[...document.querySelectorAll('#containers li')].filter(l => !l.hidden).map(l => "
        "l.dataset.name); f.value = ''; f.dispatchEvent(new Event('input')); const order = "
        "[...document.querySelectorAll('#containers li')].slice(0, 3).map(l => l.dataset.name); "
        "page.timer = setTimeout(refresh, 0); return {render: t1 - t0, filter: t2 - t1, shown, "
        "order, cards: document.querySelectorAll('#containers li').length}; })()",
        err, sizeof(err));
    if (!ms)
        fail_msg("render of 300 failed: %s", err);
    fprintf(stderr, "ui: 300 containers: render %.1f ms, filter %.1f ms\n",
            json_number_value(json_object_get(ms, "render")),
            json_number_value(json_object_get(ms, "filter")));
    assert_int_equal(json_integer_value(json_object_get(ms, "cards")), 300);
    const json_t *shown = json_object_get(ms, "shown");
    assert_int_equal(json_array_size(shown), 1);
    assert_string_equal(json_string_value(json_array_get(shown, 0)), "load-123");
    /* urgency: crash-looping, then scaled out with an alert firing, then in maintenance */
    const json_t *order = json_object_get(ms, "order");
    assert_string_equal(json_string_value(json_array_get(order, 0)), "load-299");
    assert_string_equal(json_string_value(json_array_get(order, 1)), "load-150");
    assert_string_equal(json_string_value(json_array_get(order, 2)), "load-007");
    /* a budget far above what it takes, so only a real regression (seconds) trips it */
    assert_true(json_number_value(json_object_get(ms, "render")) < 1000);
    assert_true(json_number_value(json_object_get(ms, "filter")) < 500);
    json_decref(ms);
    /* the next refresh brings the daemon's list back */
    assert_true(ts_cdp_wait(&cdp,
                            js("!!%s && !document.querySelector('li[data-name=\"load-001\"]')",
                               card(names[0])),
                            REFRESH_MS + 2000) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(page_asks_for_the_token_and_keeps_it_out_of_the_url),
        cmocka_unit_test(page_lists_the_managed_containers),
        cmocka_unit_test(scale_out_through_the_api_appears_within_one_refresh),
        cmocka_unit_test(filter_shows_only_matching_containers),
        cmocka_unit_test(screenshots_and_phone_layout),
        cmocka_unit_test(maintenance_from_the_page_after_confirmation),
        cmocka_unit_test(scale_in_now_from_the_page_restores_the_baseline),
        cmocka_unit_test(timeline_shows_the_actions),
        cmocka_unit_test(accessibility_basics_labels_contrast),
        cmocka_unit_test(keyboard_reaches_filter_and_buttons_and_dialog),
        cmocka_unit_test(three_hundred_containers_stay_usable),
        cmocka_unit_test(no_script_error_no_inline_script_strict_csp),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
