/* test_ui.c: the status page's compiled-in assets: the paths the page names are all served, the
 * HTML carries no inline script, style or event handler (the CSP forbids them), nothing is loaded
 * from another origin, and only the page's own paths are routed to it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "ui.h"
#include "ui_assets.h"

static const struct ui_asset *asset(const char *path)
{
    for (size_t i = 0; i < ui_n_assets; i++)
        if (strcmp(ui_assets[i].path, path) == 0)
            return &ui_assets[i];
    return NULL;
}

static const char *text_of(const char *path)
{
    const struct ui_asset *a = asset(path);
    assert_non_null(a);
    assert_int_equal(a->data[a->len], '\0'); /* embed.cmake ends each with a NUL */
    assert_int_equal(strlen((const char *)a->data), a->len);
    return (const char *)a->data;
}

static void page_and_its_assets_are_compiled_in(void **state)
{
    (void)state;
    assert_string_equal(asset("/")->type, "text/html");
    assert_string_equal(asset("/ui/app.js")->type, "text/javascript");
    assert_string_equal(asset("/ui/app.css")->type, "text/css");
    assert_non_null(strstr(text_of("/"), "<script src=\"/ui/app.js\" defer></script>"));
    assert_non_null(strstr(text_of("/"), "href=\"/ui/app.css\""));
    assert_non_null(strstr(text_of("/"), "href=\"/ui/icon.svg\""));
    assert_non_null(asset("/ui/icon.svg"));
}

/* Every src="..." and href="..." of the HTML names a served asset of this origin. */
static void every_reference_of_the_page_is_served_from_the_binary(void **state)
{
    const char *html = text_of("/");
    static const char *const attrs[] = {"src=\"", "href=\""};
    int seen = 0;
    (void)state;

    for (size_t k = 0; k < 2; k++) {
        for (const char *p = strstr(html, attrs[k]); p; p = strstr(p + 1, attrs[k])) {
            char ref[128];
            const char *v = p + strlen(attrs[k]);
            size_t n = strcspn(v, "\"");
            snprintf(ref, sizeof(ref), "%.*s", (int)n, v);
            if (!asset(ref))
                fail_msg("the page references %s, which is not compiled in", ref);
            seen++;
        }
    }
    assert_int_equal(seen, 3);
}

static void no_inline_script_style_or_handler(void **state)
{
    const char *html = text_of("/");
    (void)state;

    for (const char *p = strstr(html, "<script"); p; p = strstr(p + 1, "<script"))
        assert_int_equal(strncmp(p, "<script src=", 12), 0);
    assert_null(strstr(html, "<style"));
    assert_null(strstr(html, " style="));
    assert_null(strstr(html, " onclick="));
    assert_null(strstr(html, " onload="));
    assert_null(strstr(text_of("/ui/app.js"), "innerHTML"));
    assert_null(strstr(text_of("/ui/app.js"), "eval("));
}

static void nothing_from_another_origin(void **state)
{
    static const char *const paths[] = {"/", "/ui/app.js", "/ui/app.css"};
    (void)state;

    for (size_t i = 0; i < 3; i++) {
        const char *t = text_of(paths[i]);
        assert_null(strstr(t, "http://"));
        assert_null(strstr(t, "https://"));
        assert_null(strstr(t, "@import"));
    }
    /* the token travels in a header, never in a URL */
    assert_null(strstr(text_of("/ui/app.js"), "token="));
    assert_non_null(strstr(text_of("/ui/app.js"), "headers.Authorization = page.auth"));
}

static void only_the_pages_paths_are_routed_to_it(void **state)
{
    (void)state;
    assert_true(ui_is_path("/"));
    assert_true(ui_is_path("/index.html"));
    assert_true(ui_is_path("/ui/app.js"));
    assert_true(ui_is_path("/ui/nope"));
    assert_false(ui_is_path("/api/v1/containers"));
    assert_false(ui_is_path("/metrics"));
    assert_false(ui_is_path("/uix"));
    assert_false(ui_is_path(""));
}

static void csp_allows_nothing_inline_or_foreign(void **state)
{
    (void)state;
    assert_non_null(strstr(UI_CSP, "default-src 'none'"));
    assert_non_null(strstr(UI_CSP, "script-src 'self'"));
    assert_non_null(strstr(UI_CSP, "frame-ancestors 'none'"));
    assert_null(strstr(UI_CSP, "unsafe"));
    assert_null(strstr(UI_CSP, "data:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(page_and_its_assets_are_compiled_in),
        cmocka_unit_test(every_reference_of_the_page_is_served_from_the_binary),
        cmocka_unit_test(no_inline_script_style_or_handler),
        cmocka_unit_test(nothing_from_another_origin),
        cmocka_unit_test(only_the_pages_paths_are_routed_to_it),
        cmocka_unit_test(csp_allows_nothing_inline_or_foreign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
