/* test_docker_transport.c: the docker-client's transport against a FAKE daemon on a Unix socket.
 * The fake exists only for what the real Docker Engine cannot be made to do: hang without
 * answering, send a truncated or oversized reply, split an event stream into arbitrary chunks, or
 * announce an older API version. Everything else is tested against the real engine in
 * tests/integration/test_docker_client.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "docker_internal.h"

/* One scripted connection: the reply to send (NULL: read the request and hang until closed), sent
 * in chunks of `chunk` bytes (0: at once), then hold the connection open `hold_ms`. */
struct script {
    const char *reply;
    size_t chunk;
    int hold_ms;
};

struct fake {
    char dir[64];
    char path[96];
    char host[128];
    int lfd;
    pthread_t thread;
    const struct script *scripts;
    size_t nscripts;
    char last_request[2048]; /* request line of the last connection */
};

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

static void serve_one(struct fake *f, int fd, const struct script *s)
{
    char req[2048];
    ssize_t n = recv(fd, req, sizeof(req) - 1, 0);
    char *eol;

    if (n <= 0)
        return;
    req[n] = '\0';
    eol = strstr(req, "\r\n");
    if (eol)
        *eol = '\0';
    snprintf(f->last_request, sizeof(f->last_request), "%s", req);
    if (!s->reply) {
        while (recv(fd, req, sizeof(req), 0) > 0) /* hang until the client gives up */
            ;
        return;
    }
    for (size_t off = 0, len = strlen(s->reply); off < len;) {
        size_t k = s->chunk && s->chunk < len - off ? s->chunk : len - off;

        if (send(fd, s->reply + off, k, MSG_NOSIGNAL) < 0)
            return;
        off += k;
        if (s->chunk)
            sleep_ms(1);
    }
    if (s->hold_ms)
        sleep_ms(s->hold_ms);
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;

    for (size_t i = 0; i < f->nscripts; i++) {
        int fd = accept(f->lfd, NULL, NULL);

        if (fd < 0)
            return NULL;
        serve_one(f, fd, &f->scripts[i]);
        close(fd);
    }
    return NULL;
}

static void fake_start(struct fake *f, const struct script *scripts, size_t n)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/trip-fake-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/docker.sock", f->dir);
    snprintf(f->host, sizeof(f->host), "unix://%s", f->path);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(f->lfd >= 0);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->lfd, 8), 0);
    f->scripts = scripts;
    f->nscripts = n;
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
    shutdown(f->lfd, SHUT_RDWR);
    pthread_join(f->thread, NULL);
    close(f->lfd);
    unlink(f->path);
    rmdir(f->dir);
}

/* Starts the fake with the n replies of s, then a client on it with o (o->host set to the fake's
 * socket); returns docker_client_new's code. */
static docker_code client_on_fake(struct fake *f, const struct script *s, size_t n,
                                  struct docker_opts *o, struct docker_client **c,
                                  struct docker_err *err)
{
    fake_start(f, s, n);
    o->host = f->host;
    return docker_client_new(o, c, err);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* GET /version replies trimmed to the fields negotiation reads, with each engine's real range:
 * Podman 4.3.1's compat API, Docker 29.8.1, and a future Docker whose floor is above this client.
 */
#define JSON_REPLY(body)                                                                           \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " body
#define VERSION_PODMAN                                                                             \
    JSON_REPLY("148\r\n\r\n{\"Components\":[{\"Name\":\"Podman Engine\",\"Version\":\"4.3.1\"}],"  \
               "\"Version\":\"4.3.1\",\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.24\","         \
               "\"Os\":\"linux\",\"Arch\":\"amd64\"}")
#define VERSION_DOCKER29                                                                           \
    JSON_REPLY("166\r\n\r\n{\"Platform\":{\"Name\":\"\"},\"Components\":[{\"Name\":\"Engine\","    \
               "\"Version\":\"29.8.1\"}],\"Version\":\"29.8.1\",\"ApiVersion\":\"1.56\","          \
               "\"MinAPIVersion\":\"1.40\",\"Os\":\"linux\",\"Arch\":\"amd64\"}")
#define VERSION_FUTURE                                                                             \
    JSON_REPLY(                                                                                    \
        "127\r\n\r\n{\"Platform\":{\"Name\":\"Docker Engine\"},\"Version\":\"40.0.0\","            \
        "\"ApiVersion\":\"1.60\",\"MinAPIVersion\":\"1.57\",\"Os\":\"linux\",\"Arch\":\"amd64\"}")
#define NOT_FOUND_AB                                                                               \
    "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 37\r\n\r\n"       \
    "{\"message\":\"No such container: a b\"}\n"
/* Docker 29.8.1 started with DOCKER_MIN_API_VERSION=1.44, asked with /v1.41/: its real reply */
#define TOO_OLD                                                                                    \
    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 131\r\n\r\n"    \
    "{\"message\":\"client version 1.41 is too old. Minimum supported API version is 1.44, "       \
    "please upgrade your client to a newer version\"}\n"

static void missing_socket_is_unreachable_and_negotiates_later(void **state)
{
    struct docker_opts o = {.host = "unix:///nonexistent/trip/docker.sock"};
    struct docker_client *c = NULL;
    struct docker_err err = {0};
    struct docker_container ct;

    (void)state;
    assert_int_equal(docker_client_new(&o, &c, &err), DOCKER_E_UNREACHABLE);
    assert_non_null(c);
    assert_non_null(strstr(err.msg, "daemon unreachable"));
    assert_non_null(strstr(err.msg, "unix socket /nonexistent/trip/docker.sock: No such file"));
    struct docker_engine e;
    docker_client_engine(c, &e);
    assert_string_equal(e.api, "");
    assert_int_equal(e.code, DOCKER_E_UNREACHABLE);
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_container_inspect(c, "web", &ct, &err), DOCKER_E_UNREACHABLE);
    docker_client_free(c);
    docker_client_free(NULL);
}

static void client_refuses_bad_options(void **state)
{
    struct docker_opts bad_ver = {.host = "unix:///x", .api_version = "1.41; rm"};
    struct docker_opts bad_host = {.host = "ftp://x"};
    struct docker_client *c = NULL;
    struct docker_err err = {0};

    (void)state;
    assert_int_equal(docker_client_new(&bad_ver, &c, &err), DOCKER_E_INVALID);
    assert_null(c);
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_client_new(&bad_host, &c, &err), DOCKER_E_INVALID);
    assert_null(c);
}

static void version_is_negotiated_once_and_pinned_in_paths(void **state)
{
    static const struct script s[] = {{.reply = VERSION_PODMAN}, {.reply = NOT_FOUND_AB}};
    struct fake f;
    struct docker_opts o = {.host = NULL};
    struct docker_client *c = NULL;
    struct docker_err err = {0};
    struct docker_container ct;
    struct docker_engine e;

    (void)state;
    assert_int_equal(client_on_fake(&f, s, 2, &o, &c, &err), DOCKER_OK);
    assert_string_equal(f.last_request, "GET /version HTTP/1.1");
    docker_client_engine(c, &e);
    assert_string_equal(e.api, "1.41");
    assert_string_equal(e.name, "Podman Engine");
    assert_string_equal(e.version, "4.3.1");
    assert_string_equal(e.api_min, "1.24");
    assert_true(e.podman);
    assert_false(e.pinned);
    assert_int_equal(docker_container_inspect(c, "a b", &ct, &err), DOCKER_E_NOT_FOUND);
    assert_string_equal(f.last_request, "GET /v1.41/containers/a%20b/json HTTP/1.1");
    assert_string_equal(err.msg, "inspect a b: No such container: a b");
    docker_client_free(c);
    fake_stop(&f);
}

/* A daemon upgraded under a running client (here Podman's 1.41 replaced by Docker 29's 1.56) is
 * negotiated again once the client was told to (the event stream's reconnect does). */
static void an_upgraded_daemon_is_negotiated_again(void **state)
{
    static const struct script s[] = {{.reply = VERSION_PODMAN},
                                      {.reply = NOT_FOUND_AB},
                                      {.reply = VERSION_DOCKER29},
                                      {.reply = NOT_FOUND_AB}};
    struct fake f;
    struct docker_opts o = {.host = NULL};
    struct docker_client *c = NULL;
    struct docker_container ct;
    struct docker_engine e;

    (void)state;
    assert_int_equal(client_on_fake(&f, s, 4, &o, &c, NULL), DOCKER_OK);
    assert_int_equal(docker_container_inspect(c, "a b", &ct, NULL), DOCKER_E_NOT_FOUND);
    assert_string_equal(f.last_request, "GET /v1.41/containers/a%20b/json HTTP/1.1");
    docker_client_renegotiate(c);
    assert_int_equal(docker_container_inspect(c, "a b", &ct, NULL), DOCKER_E_NOT_FOUND);
    assert_string_equal(f.last_request, "GET /v" DOCKER_API_MAX "/containers/a%20b/json HTTP/1.1");
    docker_client_engine(c, &e);
    assert_string_equal(e.name, "Docker Engine");
    assert_string_equal(e.version, "29.8.1");
    assert_string_equal(e.api, DOCKER_API_MAX);
    assert_false(e.podman);
    docker_client_free(c);
    fake_stop(&f);
}

static int ignore_event(const struct docker_event *ev, void *ud)
{
    (void)ev;
    (void)ud;
    return 0;
}

/* The event stream lost (the daemon closed it: stopped, restarted, upgraded) makes the next call,
 * the reconnect, negotiate again: here Podman's 1.41 came back as Docker 29's 1.56. */
static void a_lost_event_stream_makes_the_reconnect_negotiate_again(void **state)
{
    static const struct script s[] = {
        {.reply = VERSION_PODMAN},
        {.reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n"},
        {.reply = VERSION_DOCKER29},
        {.reply = NOT_FOUND_AB}};
    struct fake f;
    struct docker_opts o = {.host = NULL};
    struct docker_client *c = NULL;
    struct docker_container ct;
    struct docker_err err = {0};

    (void)state;
    assert_int_equal(client_on_fake(&f, s, 4, &o, &c, NULL), DOCKER_OK);
    assert_int_equal(docker_events_stream(c, NULL, ignore_event, NULL, NULL, &err),
                     DOCKER_E_TRANSPORT);
    assert_string_equal(f.last_request, "GET /v1.41/events HTTP/1.1");
    assert_int_equal(docker_container_inspect(c, "a b", &ct, NULL), DOCKER_E_NOT_FOUND);
    assert_string_equal(f.last_request, "GET /v" DOCKER_API_MAX "/containers/a%20b/json HTTP/1.1");
    docker_client_free(c);
    fake_stop(&f);
}

static void ranges_that_do_not_meet_keep_the_client_and_say_why(void **state)
{
    static const struct script s[] = {{.reply = VERSION_FUTURE}, {.reply = VERSION_FUTURE}};
    struct fake f;
    struct docker_opts o = {.host = NULL};
    struct docker_client *c = NULL;
    struct docker_err err = {0};
    struct docker_container ct;
    struct docker_engine e;

    (void)state;
    assert_int_equal(client_on_fake(&f, s, 2, &o, &c, &err), DOCKER_E_API_VERSION);
    assert_non_null(c);
    assert_string_equal(err.msg, "negotiate API version: the daemon speaks 1.57..1.60, this client "
                                 "1.41.." DOCKER_API_MAX "; no version in common");
    docker_client_engine(c, &e);
    assert_int_equal(e.code, DOCKER_E_API_VERSION);
    assert_string_equal(e.message, err.msg);
    assert_string_equal(e.version, "40.0.0");
    assert_string_equal(e.api, "");
    memset(&err, 0, sizeof(err));
    /* every call asks again (the daemon may be replaced) and is refused the same way */
    assert_int_equal(docker_container_inspect(c, "web", &ct, &err), DOCKER_E_API_VERSION);
    assert_string_equal(f.last_request, "GET /version HTTP/1.1");
    docker_client_free(c);
    fake_stop(&f);
}

static void a_pinned_version_the_daemon_refuses_gives_its_message(void **state)
{
    static const struct script s[] = {{.reply = TOO_OLD}};
    struct fake f;
    struct docker_opts o = {.api_version = "1.41"};
    struct docker_client *c = NULL;
    struct docker_err err = {0};
    struct docker_container ct;
    struct docker_engine e;

    (void)state;
    assert_int_equal(client_on_fake(&f, s, 1, &o, &c, &err), DOCKER_OK); /* pinned: nothing asked */
    assert_int_equal(docker_container_inspect(c, "web", &ct, &err), DOCKER_E_API_VERSION);
    assert_string_equal(f.last_request, "GET /v1.41/containers/web/json HTTP/1.1");
    assert_string_equal(err.msg,
                        "inspect web: client version 1.41 is too old. Minimum supported "
                        "API version is 1.44, please upgrade your client to a newer version");
    docker_client_engine(c, &e);
    assert_true(e.pinned);
    assert_string_equal(e.api, "1.41");
    assert_int_equal(e.code, DOCKER_E_API_VERSION);
    assert_string_equal(e.message, err.msg);
    docker_client_free(c);
    fake_stop(&f);
}

static void docker_api_version_in_the_environment_pins_like_the_cli(void **state)
{
    struct docker_opts o = {.host = "unix:///nonexistent/trip/docker.sock"};
    struct docker_opts flag = {.host = "unix:///nonexistent/trip/docker.sock",
                               .api_version = "1.45"};
    struct docker_client *c = NULL;
    struct docker_err err = {0};
    struct docker_engine e;

    (void)state;
    setenv("DOCKER_API_VERSION", "1.44", 1);
    assert_int_equal(docker_client_new(&o, &c, &err), DOCKER_OK); /* pinned: nothing asked */
    docker_client_engine(c, &e);
    assert_string_equal(e.api, "1.44");
    assert_true(e.pinned);
    docker_client_free(c);
    assert_int_equal(docker_client_new(&flag, &c, &err), DOCKER_OK); /* the flag wins */
    docker_client_engine(c, &e);
    assert_string_equal(e.api, "1.45");
    docker_client_free(c);
    setenv("DOCKER_API_VERSION", "latest", 1);
    c = NULL;
    assert_int_equal(docker_client_new(&o, &c, &err), DOCKER_E_INVALID);
    assert_null(c);
    assert_string_equal(err.msg, "client: DOCKER_API_VERSION \"latest\" is not MAJOR.MINOR");
    unsetenv("DOCKER_API_VERSION");
}

static void a_hanging_daemon_times_out(void **state)
{
    static const struct script s[] = {{.reply = NULL}};
    struct fake f;
    struct docker_opts o = {.api_version = "1.41", .timeout_ms = 300};
    struct docker_client *c = NULL;
    struct docker_err err = {0};
    struct docker_container ct;
    int64_t t0;
    int64_t took;

    (void)state;
    assert_int_equal(client_on_fake(&f, s, 1, &o, &c, &err), DOCKER_OK);
    t0 = now_ms();
    assert_int_equal(docker_container_inspect(c, "web", &ct, &err), DOCKER_E_TIMEOUT);
    took = now_ms() - t0;
    assert_true(took >= 250 && took < 10000); /* by the timeout, not hanging; 10 s for valgrind */
    assert_non_null(strstr(err.msg, "inspect web: "));
    docker_client_free(c);
    fake_stop(&f);
}

static void truncated_and_oversized_replies_are_errors(void **state)
{
    static const struct script s[] = {
        /* body cut short of its Content-Length, then the connection closes */
        {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"Id\":\"abc\",\"Na"},
        /* complete HTTP, truncated JSON */
        {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{\"Id\":\"abc\",\"N"},
        /* larger than max_reply */
        {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n"
         "[                                                                                   "
         "                                                                                    "
         "                                                                                   ]"},
        /* not HTTP at all */
        {.reply = "garbage\r\n\r\n"},
    };
    struct fake f;
    struct docker_opts o = {.api_version = "1.41", .max_reply = 200};
    struct docker_client *c = NULL;
    struct docker_container ct;
    struct docker_summary_list l;
    struct docker_err e1 = {0};
    struct docker_err e2 = {0};
    struct docker_err e3 = {0};
    struct docker_err e4 = {0};

    (void)state;
    assert_int_equal(client_on_fake(&f, s, 4, &o, &c, NULL), DOCKER_OK);
    assert_int_equal(docker_container_inspect(c, "web", &ct, &e1), DOCKER_E_TRANSPORT);
    assert_int_equal(docker_container_inspect(c, "web", &ct, &e2), DOCKER_E_MALFORMED);
    assert_non_null(strstr(e2.msg, "inspect: invalid JSON"));
    assert_int_equal(docker_container_list(c, NULL, true, &l, &e3), DOCKER_E_TOOBIG);
    assert_string_equal(e3.msg, "list: reply larger than 200 bytes");
    assert_int_not_equal(docker_container_inspect(c, "web", &ct, &e4), DOCKER_OK);
    assert_true(e4.msg[0] != '\0');
    docker_client_free(c);
    fake_stop(&f);
}

struct names {
    char all[1024];
    int n;
};

static int on_ev(const struct docker_event *ev, void *ud)
{
    struct names *nm = ud;

    nm->n++;
    strcat(nm->all, ev->action);
    strcat(nm->all, ":");
    strcat(nm->all, ev->name);
    strcat(nm->all, " ");
    return strcmp(ev->action, "stop") == 0;
}

#define EV(action, name)                                                                           \
    "{\"Type\":\"container\",\"Action\":\"" action "\",\"Actor\":{\"ID\":\"1\",\"Attributes\":"   \
    "{\"name\":\"" name "\"}},\"timeNano\":1}\n"

static void events_arrive_whole_whatever_the_chunking(void **state)
{
    static const struct script s[] = {
        {"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" EV("die", "a")
             EV("start", "a") "\n" EV("health_status: unhealthy", "b") EV("stop", "c")
                 EV("never", "d"),
         7, 2000},
    };
    struct fake f;
    struct docker_opts o = {.api_version = "1.41"};
    struct docker_client *c = NULL;
    struct docker_err err = {0};
    struct names nm = {.all = ""};

    (void)state;
    assert_int_equal(client_on_fake(&f, s, 1, &o, &c, NULL), DOCKER_OK);
    assert_int_equal(docker_events_stream(c, NULL, on_ev, &nm, NULL, &err), DOCKER_OK);
    assert_string_equal(nm.all, "die:a start:a health_status: unhealthy:b stop:c ");
    docker_client_free(c);
    fake_stop(&f);
}

static void a_malformed_event_ends_the_stream(void **state)
{
    static const struct script s[] = {
        {"HTTP/1.1 200 OK\r\n\r\n" EV("die", "a") "{\"Type\":\"container\",\"Act\n", 0, 2000},
        {"HTTP/1.1 200 OK\r\n\r\n" EV("die", "a"), 0, 0},
    };
    struct fake f;
    struct docker_opts o = {.api_version = "1.41"};
    struct docker_client *c = NULL;
    struct docker_err err = {0};
    struct docker_err err2 = {0};
    struct names nm = {.all = ""};

    (void)state;
    assert_int_equal(client_on_fake(&f, s, 2, &o, &c, NULL), DOCKER_OK);
    assert_int_equal(docker_events_stream(c, NULL, on_ev, &nm, NULL, &err), DOCKER_E_MALFORMED);
    assert_int_equal(nm.n, 1);
    assert_non_null(strstr(err.msg, "event: invalid JSON"));
    /* a daemon that closes the stream: the caller learns it and may reconnect */
    assert_int_equal(docker_events_stream(c, NULL, on_ev, &nm, NULL, &err2), DOCKER_E_TRANSPORT);
    assert_string_equal(err2.msg, "events: daemon closed the stream");
    docker_client_free(c);
    fake_stop(&f);
}

struct cancel_arg {
    struct docker_cancel *k;
    int delay_ms;
};

static void *cancel_later(void *arg)
{
    struct cancel_arg *a = arg;

    sleep_ms(a->delay_ms);
    docker_events_cancel(a->k);
    return NULL;
}

static void a_silent_stream_is_cancelled_quickly(void **state)
{
    static const struct script s[] = {{"HTTP/1.1 200 OK\r\n\r\n", 0, 3000}};
    struct fake f;
    struct docker_opts o = {.api_version = "1.41"};
    struct docker_client *c = NULL;
    struct docker_err err = {0};
    struct names nm = {.all = ""};
    struct cancel_arg a = {.delay_ms = 200};
    pthread_t t;
    int64_t t0;
    int64_t took;

    (void)state;
    fake_start(&f, s, 1);
    o.host = f.host;
    a.k = docker_cancel_new();
    assert_int_equal(docker_client_new(&o, &c, NULL), DOCKER_OK);
    t0 = now_ms();
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &a), 0);
    assert_int_equal(docker_events_stream(c, NULL, on_ev, &nm, a.k, &err), DOCKER_E_CANCELLED);
    took = now_ms() - t0;
    pthread_join(t, NULL);
    /* cancelled 200 ms in: returns after the cancel and before the fake's 3 s reply ends the
     * stream by itself (ordering, not latency: valgrind slows everything down) */
    assert_true(took >= 200 && took < 2900);
    assert_string_equal(err.msg, "events: cancelled");
    /* a handle cancelled before the call returns at once */
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_events_stream(c, NULL, on_ev, &nm, a.k, &err), DOCKER_E_CANCELLED);
    docker_cancel_free(a.k);
    docker_client_free(c);
    fake_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_socket_is_unreachable_and_negotiates_later),
        cmocka_unit_test(client_refuses_bad_options),
        cmocka_unit_test(version_is_negotiated_once_and_pinned_in_paths),
        cmocka_unit_test(an_upgraded_daemon_is_negotiated_again),
        cmocka_unit_test(a_lost_event_stream_makes_the_reconnect_negotiate_again),
        cmocka_unit_test(ranges_that_do_not_meet_keep_the_client_and_say_why),
        cmocka_unit_test(a_pinned_version_the_daemon_refuses_gives_its_message),
        cmocka_unit_test(docker_api_version_in_the_environment_pins_like_the_cli),
        cmocka_unit_test(a_hanging_daemon_times_out),
        cmocka_unit_test(truncated_and_oversized_replies_are_errors),
        cmocka_unit_test(events_arrive_whole_whatever_the_chunking),
        cmocka_unit_test(a_malformed_event_ends_the_stream),
        cmocka_unit_test(a_silent_stream_is_cancelled_quickly),
    };

    return cmocka_run_group_tests_name("docker_transport (fake daemon)", tests, NULL, NULL);
}
