/* svc_httpc.c: GET over a plain socket: resolve, non-blocking connect under a deadline, send,
 * read to the end of the connection under the total deadline, then parse. */
#include "svc_httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_MAX (SVC_HTTPC_HEAD_MAX + 2 * SVC_HTTPC_ANSWER_MAX) /* chunk framing included */

/* ------------------------------------------------------------------------------ parsing */

bool svc_httpc_parse_base(const char *base, char *host, size_t host_size, char *port,
                          size_t port_size)
{
    const char *h, *end, *p = NULL;

    if (strncmp(base, "http://", 7) != 0)
        return false;
    h = base + 7;
    if (*h == '[') {
        end = strchr(++h, ']');
        if (!end || (end[1] != '\0' && end[1] != ':'))
            return false;
        if (end[1] == ':')
            p = end + 2;
    } else {
        end = h + strcspn(h, ":/");
        if (*end == '/')
            return false;
        if (*end == ':')
            p = end + 1;
    }
    size_t n = (size_t)(end - h);
    if (n == 0 || n >= host_size)
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    if (!p) {
        snprintf(port, port_size, "80");
        return true;
    }
    size_t d = strspn(p, "0123456789");
    if (d == 0 || d > 5 || p[d] != '\0' || atoi(p) > 65535 || d >= port_size)
        return false;
    memcpy(port, p, d + 1);
    return true;
}

/* The value of header `name` (lower case, with the colon) in head[0..len), or NULL; *vlen gets
 * its length without surrounding blanks. *dup is set when it appears more than once. */
static const char *header(const char *head, size_t len, const char *name, size_t *vlen,
                          bool *dup)
{
    const char *found = NULL;
    size_t nlen = strlen(name);

    *dup = false;
    for (const char *line = head; line < head + len;) {
        const char *eol = memchr(line, '\n', (size_t)(head + len - line));
        if (!eol)
            eol = head + len;
        if ((size_t)(eol - line) > nlen && strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen, *e = eol;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
                e--;
            *dup = found != NULL;
            found = v;
            *vlen = (size_t)(e - v);
        }
        line = eol + 1;
    }
    return found;
}

/* Decodes a chunked body of buf[0..len) into out (at most SVC_HTTPC_ANSWER_MAX bytes). */
static bool dechunk(const char *buf, size_t len, char *out, size_t *out_len)
{
    size_t at = 0, n = 0;

    for (;;) {
        size_t size = 0, digits = 0;
        while (at < len && buf[at] && strchr("0123456789abcdefABCDEF", buf[at])) {
            int d = buf[at] <= '9' ? buf[at] - '0' : (buf[at] | 0x20) - 'a' + 10;
            size = size * 16 + (size_t)d;
            if (++digits > 5)
                return false;
            at++;
        }
        const char *eol = at < len ? memchr(buf + at, '\n', len - at) : NULL;
        if (digits == 0 || !eol)
            return false;
        at = (size_t)(eol - buf) + 1;
        if (size == 0)
            break; /* trailers, if any, are ignored */
        if (size > SVC_HTTPC_ANSWER_MAX - n || size + 2 > len - at ||
            memcmp(buf + at + size, "\r\n", 2) != 0)
            return false;
        memcpy(out + n, buf + at, size);
        n += size;
        at += size + 2;
    }
    *out_len = n;
    return true;
}

bool svc_httpc_parse(const char *buf, size_t len, long *status, char **body, size_t *body_len)
{
    size_t vlen = 0;
    bool dup;

    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') ||
        buf[8] != ' ' || buf[9] < '2' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' ||
        buf[11] < '0' || buf[11] > '9' || (len > 12 && buf[12] != ' ' && buf[12] != '\r'))
        return false;
    const char *end = NULL;
    for (size_t i = 0; i + 3 < len && i < SVC_HTTPC_HEAD_MAX; i++) {
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
            end = buf + i + 4;
            break;
        }
    }
    if (!end)
        return false;
    size_t head_len = (size_t)(end - buf), rest = len - head_len;
    char *out = malloc(SVC_HTTPC_ANSWER_MAX + 1);
    if (!out)
        return false;
    size_t n = 0;
    const char *te = header(buf, head_len, "transfer-encoding:", &vlen, &dup);
    const char *cl = te ? NULL : header(buf, head_len, "content-length:", &vlen, &dup);
    if (te) {
        if (vlen != 7 || strncasecmp(te, "chunked", 7) != 0 || !dechunk(end, rest, out, &n))
            goto out_bad;
    } else if (cl) {
        size_t want = 0;
        for (size_t i = 0; i < vlen; i++) {
            if (cl[i] < '0' || cl[i] > '9' || want > SVC_HTTPC_ANSWER_MAX)
                goto out_bad;
            want = want * 10 + (size_t)(cl[i] - '0');
        }
        if (dup || vlen == 0 || want > SVC_HTTPC_ANSWER_MAX || want > rest)
            goto out_bad;
        memcpy(out, end, want);
        n = want;
    } else {
        if (rest > SVC_HTTPC_ANSWER_MAX)
            goto out_bad;
        memcpy(out, end, rest);
        n = rest;
    }
    out[n] = '\0';
    *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    *body = out;
    *body_len = n;
    return true;
out_bad:
    free(out);
    return false;
}

/* ---------------------------------------------------------------------------- transport */

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline (monotonic ms): >0 ready, 0 timed out, <0 error. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        return rc;
    }
}

/* A connected non-blocking socket to host:port, or -1. */
static int connect_to(const char *host, const char *port, long long deadline, char *err,
                      size_t errsize)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);

    if (rc != 0) {
        snprintf(err, errsize, "resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    snprintf(err, errsize, "connect %s:%s: no address", host, port);
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        int e = 0;
        socklen_t elen = sizeof(e);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            e = errno;
            if (e == EINPROGRESS) {
                e = wait_fd(fd, POLLOUT, deadline) > 0 &&
                            getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == 0
                        ? e
                        : ETIMEDOUT;
            }
        }
        if (e != 0) {
            snprintf(err, errsize, "connect %s:%s: %s", host, port, strerror(e));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    return fd;
}

static enum svc_httpc_status exchange(int fd, const char *req, size_t req_len, long long deadline,
                                      char *buf, size_t *len, char *err, size_t errsize)
{
    for (size_t sent = 0; sent < req_len;) {
        ssize_t n = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(fd, POLLOUT, deadline) <= 0)
                return SVC_HTTPC_TIMEOUT;
            continue;
        }
        if (n <= 0) {
            snprintf(err, errsize, "send: %s", strerror(errno));
            return SVC_HTTPC_BROKEN;
        }
        sent += (size_t)n;
    }
    for (*len = 0;;) {
        if (*len == READ_MAX) {
            snprintf(err, errsize, "answer over %d bytes", READ_MAX);
            return SVC_HTTPC_BAD_ANSWER;
        }
        ssize_t n = recv(fd, buf + *len, READ_MAX - *len, 0);
        if (n > 0) {
            *len += (size_t)n;
            continue;
        }
        if (n == 0)
            break;
        if (errno == EAGAIN || errno == EINTR) {
            int rc = wait_fd(fd, POLLIN, deadline);
            if (rc == 0) {
                snprintf(err, errsize, "no whole answer in time");
                return SVC_HTTPC_TIMEOUT;
            }
            if (rc > 0)
                continue;
        }
        snprintf(err, errsize, "recv: %s", strerror(errno));
        return SVC_HTTPC_BROKEN;
    }
    if (*len == 0) {
        snprintf(err, errsize, "empty answer");
        return SVC_HTTPC_BROKEN;
    }
    return SVC_HTTPC_OK;
}

enum svc_httpc_status svc_httpc_get(const char *base, const char *path, int connect_ms,
                                    int total_ms, struct svc_httpc_answer *a, char *err,
                                    size_t errsize)
{
    char host[256], port[8], req[1024], scratch[8];
    long long start = now_ms();
    size_t len = 0;

    if (!err) {
        err = scratch;
        errsize = sizeof(scratch);
    }
    if (!svc_httpc_parse_base(base, host, sizeof(host), port, sizeof(port)) || path[0] != '/') {
        snprintf(err, errsize, "not http://host[:port]/path");
        return SVC_HTTPC_BAD_URL;
    }
    int rl = snprintf(req, sizeof(req),
                      "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nAccept: application/json\r\n"
                      "Connection: close\r\n\r\n",
                      path, strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port);
    if (rl < 0 || (size_t)rl >= sizeof(req) || strpbrk(path, " \r\n")) {
        snprintf(err, errsize, "path too long or not URL-safe");
        return SVC_HTTPC_BAD_URL;
    }
    int fd = connect_to(host, port, start + connect_ms, err, errsize);
    if (fd < 0)
        return SVC_HTTPC_UNREACHABLE;
    char *buf = malloc(READ_MAX);
    if (!buf) {
        close(fd);
        snprintf(err, errsize, "out of memory");
        return SVC_HTTPC_BROKEN;
    }
    enum svc_httpc_status st =
        exchange(fd, req, (size_t)rl, start + total_ms, buf, &len, err, errsize);
    close(fd);
    if (st == SVC_HTTPC_OK && !svc_httpc_parse(buf, len, &a->status, &a->body, &a->body_len)) {
        snprintf(err, errsize, "not an HTTP/1.x answer within the bounds");
        st = SVC_HTTPC_BAD_ANSWER;
    }
    free(buf);
    return st;
}
