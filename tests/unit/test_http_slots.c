/* test_http_slots.c: a connection slot is free as soon as its client closed it. The HTTP front on a
 * loopback port with --max-connections 4 and two libmicrohttpd threads; 300 times: 4 connections
 * fill every slot, the client closes them and at once asks GET /healthz on a new one. Every probe
 * must get 200: the client holds no connection. (Before the slots of closed peers were freed when
 * the slots read as full, about one probe in twenty got 503: the worker owning a closed connection
 * had not yet noticed the close when the other worker accepted the probe.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "log.h"

static int dial(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The status of GET /healthz on a new connection, 0 when none came. */
static int probe(uint16_t port)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char buf[64] = "";
    int fd = dial(port), status = 0;

    if (fd < 0)
        return 0;
    if (write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
        size_t got = 0;
        ssize_t n;
        while (got < 12 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
            got += (size_t)n;
        sscanf(buf, "HTTP/1.%*d %d", &status);
    }
    close(fd);
    return status;
}

static void closed_connections_free_their_slots_at_once(void **state)
{
    struct config cfg;
    struct http *h = NULL;
    const struct timespec settle = {0, 5 * 1000 * 1000};
    int ok = 0, refused = 0, other = 0;
    (void)state;
    log_set_level(LOG_LEVEL_ERROR);
    config_defaults(&cfg);
    snprintf(cfg.listen_host, sizeof(cfg.listen_host), "127.0.0.1");
    cfg.listen_port = 0;
    cfg.max_connections = 4;
    cfg.http_threads = 2;
    /* no engine: /healthz and the request counters never reach one */
    assert_int_equal(http_start(&cfg, NULL, NULL, &h, NULL), HTTP_OK);
    uint16_t port = http_port(h);
    for (int i = 0; i < 300; i++) {
        int held[4];
        for (int j = 0; j < 4; j++)
            held[j] = dial(port);
        nanosleep(&settle, NULL); /* accepted and counted */
        for (int j = 0; j < 4; j++)
            if (held[j] >= 0)
                close(held[j]);
        int st = probe(port);
        ok += st == 200;
        refused += st == 503;
        other += st != 200 && st != 503;
    }
    print_message("300 probes right after closing 4 of 4 slots: %d x 200, %d x 503, %d other\n",
                  ok, refused, other);
    http_quiesce(h);
    http_free(h);
    assert_int_equal(refused, 0);
    assert_int_equal(ok, 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(closed_connections_free_their_slots_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
