/* ts_rawhttp.c: byte-exact HTTP client over TCP for the hardening tests. */
#include "ts_rawhttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

int ts_raw_connect(uint16_t port)
{
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;

    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int ts_raw_send(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* First "\r\nContent-Length:" (any case) between p and end, or NULL. */
static const char *find_length(const char *p, const char *end)
{
    for (; p + 17 <= end; p++) {
        if (strncasecmp(p, "\r\nContent-Length:", 17) == 0)
            return p;
    }
    return NULL;
}

/* Complete responses in text: status line, headers, and Content-Length bytes of body each. */
static int complete_responses(const char *text, size_t len, int *statuses, int max)
{
    int count = 0;
    const char *p = text, *end = text + len;

    while (p < end && strncmp(p, "HTTP/1.", 7) == 0) {
        const char *hdr_end = strstr(p, "\r\n\r\n");
        if (!hdr_end)
            break;
        const char *cl = find_length(p, hdr_end);
        size_t body = cl ? strtoul(cl + 17, NULL, 10) : 0;
        if ((size_t)(end - (hdr_end + 4)) < body)
            break;
        if (statuses && count < max)
            statuses[count] = atoi(p + 9);
        count++;
        p = hdr_end + 4 + body;
    }
    return count;
}

void ts_raw_read(int fd, int timeout_ms, int want_responses, struct ts_raw_reply *out)
{
    int64_t t0 = clock_mono_ms();
    size_t used = 0;

    memset(out, 0, offsetof(struct ts_raw_reply, text));
    out->text[0] = '\0';
    for (;;) {
        int64_t left = timeout_ms - (clock_mono_ms() - t0);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        char buf[16384];
        if (left <= 0)
            break;
        int rc = poll(&pfd, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            break;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            out->closed = true;
            out->reset = n < 0;
            break;
        }
        size_t take =
            (size_t)n < sizeof(out->text) - 1 - used ? (size_t)n : sizeof(out->text) - 1 - used;
        memcpy(out->text + used, buf, take);
        used += take;
        out->text[used] = '\0';
        out->received += (size_t)n;
        if (want_responses > 0 && complete_responses(out->text, used, NULL, 0) >= want_responses)
            break;
    }
    out->elapsed_ms = clock_mono_ms() - t0;
    out->responses = complete_responses(out->text, used, out->statuses, 8);
    if (out->responses == 0 && strncmp(out->text, "HTTP/1.", 7) == 0 && used > 12) {
        out->responses = 1; /* a status line without a complete body */
        out->statuses[0] = atoi(out->text + 9);
    }
    out->status = out->statuses[0];
}

int ts_raw_exchange(uint16_t port, const char *req, size_t len, int timeout_ms,
                    struct ts_raw_reply *out)
{
    int fd = ts_raw_connect(port);

    if (fd < 0)
        return -1;
    ts_raw_send(fd, req, len); /* a server that answers early may close before all is sent */
    ts_raw_read(fd, timeout_ms, 0, out);
    close(fd);
    return 0;
}

char *ts_raw_request(const char *method, const char *path, const char *token, const char *ctype,
                     const char *body, size_t *len)
{
    size_t blen = body ? strlen(body) : 0;
    size_t cap = strlen(path) + blen + 512;
    char *out = malloc(cap);
    int n;

    if (!out)
        return NULL;
    n = snprintf(out, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method,
                 path);
    if (token)
        n += snprintf(out + n, cap - (size_t)n, "Authorization: Bearer %s\r\n", token);
    if (ctype)
        n += snprintf(out + n, cap - (size_t)n, "Content-Type: %s\r\n", ctype);
    if (body)
        n += snprintf(out + n, cap - (size_t)n, "Content-Length: %zu\r\n", blen);
    n += snprintf(out + n, cap - (size_t)n, "\r\n");
    if (body)
        memcpy(out + n, body, blen);
    *len = (size_t)n + blen;
    return out;
}

const char *ts_raw_body(const struct ts_raw_reply *r)
{
    const char *p = strstr(r->text, "\r\n\r\n");
    return p ? p + 4 : "";
}
