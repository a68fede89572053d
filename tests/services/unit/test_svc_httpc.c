/* test_svc_httpc.c: the peer client's URL splitting and answer parsing (framing, bounds), and one
 * GET against a listening socket of this process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "svc_httpc.h"

static void base_urls_split_into_host_and_port(void **state)
{
    char host[64], port[8];
    (void)state;
    assert_true(svc_httpc_parse_base("http://user:8000", host, sizeof(host), port, sizeof(port)));
    assert_string_equal(host, "user");
    assert_string_equal(port, "8000");
    assert_true(svc_httpc_parse_base("http://place", host, sizeof(host), port, sizeof(port)));
    assert_string_equal(port, "80");
    assert_true(svc_httpc_parse_base("http://[::1]:9", host, sizeof(host), port, sizeof(port)));
    assert_string_equal(host, "::1");
    assert_string_equal(port, "9");
    const char *bad[] = {"https://user:8000", "http://", "http://:80",   "http://a:",
                         "http://a:99999",    "http://a/", "http://[::1", "http://a:8x",
                         "user:8000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(svc_httpc_parse_base(bad[i], host, sizeof(host), port, sizeof(port)));
}

static bool parse(const char *text, long *status, char **body, size_t *len)
{
    return svc_httpc_parse(text, strlen(text), status, body, len);
}

static void answers_are_framed_by_length_chunks_or_close(void **state)
{
    long status = 0;
    char *body = NULL;
    size_t len = 0;
    (void)state;
    assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", &status, &body, &len));
    assert_int_equal(status, 200);
    assert_string_equal(body, "{}");
    free(body);
    /* Content-Length wins over what follows; case-insensitive names */
    assert_true(parse("HTTP/1.0 404 Not Found\r\ncontent-length:  3 \r\n\r\nabcdef", &status, &body,
                      &len));
    assert_int_equal(status, 404);
    assert_int_equal(len, 3);
    assert_string_equal(body, "abc");
    free(body);
    assert_true(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\n{\"a\r\n4;x=1\r\n\":1}\r\n0\r\n\r\n",
                      &status, &body, &len));
    assert_string_equal(body, "{\"a\":1}");
    free(body);
    /* no framing: the body ends with the connection */
    assert_true(parse("HTTP/1.1 503 Busy\r\n\r\n{\"x\":2}", &status, &body, &len));
    assert_int_equal(status, 503);
    assert_string_equal(body, "{\"x\":2}");
    free(body);
}

static void malformed_or_cut_answers_are_refused(void **state)
{
    long status = 0;
    char *body = NULL;
    size_t len = 0;
    (void)state;
    const char *bad[] = {
        "",
        "HTTP/1.1 200 OK\r\n",                                      /* headers never end */
        "HTTP/2 200 OK\r\n\r\n",                                    /* not HTTP/1.x */
        "HTTP/1.1 20 OK\r\n\r\n",                                   /* two digits */
        "HTTP/1.1 100 Continue\r\n\r\n",                            /* interim */
        "HTTP/1.1 2000 OK\r\n\r\n",                                 /* four digits */
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",          /* cut */
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",            /* not a number */
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na", /* twice */
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",         /* cut chunk */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",    /* no last chunk */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &status, &body, &len)) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            fail();
        }
    }
    /* a body over 64 KiB */
    size_t big = SVC_HTTPC_ANSWER_MAX + 100;
    char *text = malloc(big + 64);
    int n = snprintf(text, 64, "HTTP/1.1 200 OK\r\n\r\n");
    memset(text + n, 'x', big);
    assert_false(svc_httpc_parse(text, (size_t)n + big, &status, &body, &len));
    free(text);
}

struct server {
    int fd;
    const char *answer;
    char request[1024];
};

static void *serve_one(void *arg)
{
    struct server *s = arg;
    int c = accept(s->fd, NULL, NULL);
    ssize_t n = recv(c, s->request, sizeof(s->request) - 1, 0);
    s->request[n > 0 ? n : 0] = '\0';
    send(c, s->answer, strlen(s->answer), MSG_NOSIGNAL);
    close(c);
    return NULL;
}

static int listen_loopback(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void a_get_sends_one_request_and_reads_the_answer(void **state)
{
    struct server s = {.answer = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"user_id\":7}"};
    struct svc_httpc_answer a = {0};
    char base[64], err[128];
    int port;
    pthread_t th;
    (void)state;
    s.fd = listen_loopback(&port);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    pthread_create(&th, NULL, serve_one, &s);
    assert_int_equal(svc_httpc_get(base, "/sessions/abc", 500, 2000, &a, err, sizeof(err)),
                     SVC_HTTPC_OK);
    pthread_join(th, NULL);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, "{\"user_id\":7}");
    free(a.body);
    assert_non_null(strstr(s.request, "GET /sessions/abc HTTP/1.1\r\n"));
    assert_non_null(strstr(s.request, "\r\nConnection: close\r\n\r\n"));
    /* the port closed: unreachable at once */
    close(s.fd);
    assert_int_equal(svc_httpc_get(base, "/x", 500, 2000, &a, err, sizeof(err)),
                     SVC_HTTPC_UNREACHABLE);
    assert_non_null(strstr(err, "refused"));
    assert_int_equal(svc_httpc_get(base, "/a b", 500, 2000, &a, err, sizeof(err)),
                     SVC_HTTPC_BAD_URL);
}

/* A peer that accepts and never answers: the total time bounds the call. */
static void a_silent_peer_times_out(void **state)
{
    struct svc_httpc_answer a = {0};
    char base[64], err[128];
    int port;
    (void)state;
    int fd = listen_loopback(&port); /* the kernel accepts into the backlog */
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    assert_int_equal(svc_httpc_get(base, "/x", 500, 300, &a, err, sizeof(err)), SVC_HTTPC_TIMEOUT);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base_urls_split_into_host_and_port),
        cmocka_unit_test(answers_are_framed_by_length_chunks_or_close),
        cmocka_unit_test(malformed_or_cut_answers_are_refused),
        cmocka_unit_test(a_get_sends_one_request_and_reads_the_answer),
        cmocka_unit_test(a_silent_peer_times_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
