/* fuzz_http.c: the HTTP front as a client reaches it: request paths (container names, routes,
 * query strings), methods, Authorization (Bearer and Basic) and Content-Type headers, and the
 * webhook and manual API bodies, sent over loopback to a real http_start() server whose engine acts
 * on an in-memory Docker (the one fake here: a fuzzer cannot drive the real daemon thousands of
 * times a second, and what is fuzzed is the parsing in front of it).
 * Every request must get a complete reply within 10 s, never a 5xx other than 503/504, and a JSON
 * reply must be valid JSON.
 * TRIP_FUZZ_VERBOSE=1 prints the start of every reply.
 * Input: 1 flag byte (method, auth, content type, framing), the path up to '\n', when the auth bit
 * asks for it the Authorization value up to the next '\n', then the body. */
#include "config.h"
#include "docker_internal.h"
#include "engine.h"
#include "fuzz_common.h"
#include "http.h"
#include "log.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define TOKEN "fuzz-token"
#define MAX_REQ (256 * 1024)
#define MAX_REPLY (4 * 1024 * 1024)

static struct config cfg;
static struct engine *engine;
static struct metrics *metrics;
static struct http *server;

/* ---- the in-memory Docker: every container exists, is managed and running ---- */

static char *dup_or_die(const char *s)
{
    char *d = strdup(s);

    FUZZ_CHECK(d != NULL);
    return d;
}

static void fill_labels(struct docker_labels *l)
{
    l->v = calloc(1, sizeof(*l->v));
    FUZZ_CHECK(l->v != NULL);
    l->v[0].key = dup_or_die("trip.enable");
    l->v[0].value = dup_or_die("true");
    l->n = 1;
}

static docker_code mem_inspect(void *ud, const char *name, struct docker_container *out,
                               struct docker_err *err)
{
    (void)ud;
    memset(out, 0, sizeof(*out));
    if (strncmp(name, "gone", 4) == 0)
        return docker_err_set(err, DOCKER_E_NOT_FOUND, 404, "inspect %s: No such container", name);
    snprintf(out->id, sizeof(out->id), "%064zx", strlen(name));
    snprintf(out->name, sizeof(out->name), "%s", name);
    snprintf(out->status, sizeof(out->status), "running");
    out->running = true;
    out->res.cpu_shares = 512;
    out->res.memory = 1LL << 30;
    out->res.memory_swap = 2LL << 30;
    fill_labels(&out->labels);
    return DOCKER_OK;
}

static docker_code mem_update(void *ud, const char *id, const struct docker_update *u,
                              struct docker_err *err)
{
    (void)ud;
    (void)id;
    (void)u;
    (void)err;
    return DOCKER_OK;
}

static docker_code mem_start(void *ud, const char *id, struct docker_err *err)
{
    (void)ud;
    (void)id;
    (void)err;
    return DOCKER_OK;
}

static docker_code mem_list(void *ud, struct docker_summary_list *out, struct docker_err *err)
{
    static const char *const names[] = {"web", "db", "cache"};

    (void)ud;
    (void)err;
    out->n = 3;
    out->v = calloc(3, sizeof(*out->v));
    FUZZ_CHECK(out->v != NULL);
    for (size_t i = 0; i < 3; i++) {
        snprintf(out->v[i].id, sizeof(out->v[i].id), "%064zx", i + 1);
        snprintf(out->v[i].name, sizeof(out->v[i].name), "%s", names[i]);
        snprintf(out->v[i].state, sizeof(out->v[i].state), "running");
        fill_labels(&out->v[i].labels);
    }
    return DOCKER_OK;
}

static const struct engine_docker_ops mem_docker = {mem_inspect, mem_update, mem_start, mem_start,
                                                    mem_list,    NULL,       NULL,      NULL,
                                                    NULL,        NULL,       NULL,
                                                    NULL};

/* ---- set-up ---- */

static void shutdown_server(void)
{
    http_free(server);
    engine_stop(engine, 1000);
    engine_free(engine);
    metrics_free(metrics);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct engine_opts o = {.workers = 2, .ops = &mem_docker};
    struct engine_err eerr = {0};
    struct http_err herr = {0};
    FILE *devnull = fopen("/dev/null", "w");

    (void)argc;
    (void)argv;
    if (devnull)
        log_set_stream(devnull);
    log_set_level(LOG_LEVEL_ERROR);
    config_defaults(&cfg);
    snprintf(cfg.listen_host, sizeof(cfg.listen_host), "127.0.0.1");
    cfg.listen_port = 0;
    snprintf(cfg.token, sizeof(cfg.token), TOKEN);
    snprintf(cfg.basic_user, sizeof(cfg.basic_user), "alertmanager");
    snprintf(cfg.basic_password, sizeof(cfg.basic_password), "pa:ss");
    cfg.max_body = 64 * 1024;
    cfg.http_threads = 1;
    cfg.request_timeout_ms = 5000;
    policy_limits_from_config(&o.lim, &cfg);
    metrics = metrics_new();
    FUZZ_CHECK(metrics != NULL);
    o.metrics = metrics;
    FUZZ_CHECK(engine_new(&o, &engine, &eerr) == ENGINE_OK);
    FUZZ_CHECK(engine_start(engine, &eerr) == ENGINE_OK);
    FUZZ_CHECK(engine_refresh(engine) == DOCKER_OK);
    if (http_start(&cfg, engine, metrics, &server, &herr) != HTTP_OK) {
        fprintf(stderr, "http_start: %s\n", herr.msg);
        abort();
    }
    atexit(shutdown_server);
    return 0;
}

/* ---- one request ---- */

struct buf {
    char *p;
    size_t len;
};

static void put(struct buf *b, const void *data, size_t n)
{
    if (b->len + n > MAX_REQ)
        n = MAX_REQ - b->len;
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Path bytes as a request target: control bytes, space and non-ASCII percent-encoded, so the
 * server's URL decoding hands them to the routes as they were. */
static void put_path(struct buf *b, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";

    if (n == 0 || p[0] != '/')
        puts_(b, "/");
    for (size_t i = 0; i < n && i < 4096; i++) {
        if (p[i] <= 0x20 || p[i] >= 0x7f) {
            char esc[3] = {'%', hex[p[i] >> 4], hex[p[i] & 15]};
            put(b, esc, 3);
        } else {
            put(b, &p[i], 1);
        }
    }
}

/* Header values: one line, no CR/LF. */
static void put_value(struct buf *b, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n && i < 1024; i++) {
        if (p[i] != '\r' && p[i] != '\n' && p[i] != '\0')
            put(b, &p[i], 1);
    }
}

static const uint8_t *line(const uint8_t **data, size_t *size, size_t *len)
{
    const uint8_t *start = *data;
    const uint8_t *nl = memchr(start, '\n', *size);

    *len = nl ? (size_t)(nl - start) : *size;
    *data += *len + (nl ? 1 : 0);
    *size -= *len + (nl ? 1 : 0);
    return start;
}

static void build(struct buf *b, const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "HEAD", "PUT"};
    static const char *const types[] = {"application/json", "application/json; charset=utf-8",
                                        "text/plain", NULL};
    uint8_t flags = data[0];
    const uint8_t *path;
    size_t path_len;
    char num[32];

    data++;
    size--;
    path = line(&data, &size, &path_len);
    puts_(b, methods[flags & 3]);
    puts_(b, " ");
    put_path(b, path, path_len);
    puts_(b, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if (flags & 0x04) {
        puts_(b, "Authorization: Bearer " TOKEN "\r\n");
    } else if (flags & 0x08) {
        size_t auth_len;
        const uint8_t *auth = line(&data, &size, &auth_len);

        puts_(b, "Authorization: ");
        put_value(b, auth, auth_len);
        puts_(b, "\r\n");
    }
    if (types[(flags >> 4) & 3]) {
        puts_(b, "Content-Type: ");
        puts_(b, types[(flags >> 4) & 3]);
        puts_(b, "\r\n");
    }
    if (flags & 0x40) {
        snprintf(num, sizeof(num), "%zx", size);
        puts_(b, "Transfer-Encoding: chunked\r\n\r\n");
        if (size > 0) {
            puts_(b, num);
            puts_(b, "\r\n");
            put(b, data, size);
            puts_(b, "\r\n");
        }
        puts_(b, "0\r\n\r\n");
    } else {
        snprintf(num, sizeof(num), "%zu", size);
        puts_(b, "Content-Length: ");
        puts_(b, num);
        puts_(b, "\r\n\r\n");
        put(b, data, size);
    }
}

static int connect_server(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(http_port(server))};
    struct timeval tv = {.tv_sec = 10};
    /* close with a reset: thousands of connections a second must not leave TIME_WAIT sockets
     * behind until the loopback runs out of ports */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int attempt = 0;; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        FUZZ_CHECK(fd >= 0);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return fd;
        close(fd);
        if (errno == EINTR) /* libFuzzer's timers */
            continue;
        if (errno != EADDRNOTAVAIL || attempt == 100) {
            fprintf(stderr, "connect to the server: %s\n", strerror(errno));
            abort();
        }
        usleep(100 * 1000); /* out of local ports: wait for some to come free */
    }
}

/* Sends req and reads the whole reply (the server closes: Connection: close). */
static size_t exchange(const struct buf *req, char *reply, size_t cap)
{
    int fd = connect_server();
    size_t off = 0;
    size_t got = 0;

    while (off < req->len) {
        ssize_t n = send(fd, req->p + off, req->len - off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the server may answer (413, 400) and close before reading everything */
        off += (size_t)n;
    }
    for (;;) {
        ssize_t n = recv(fd, reply + got, cap - 1 - got, 0);

        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            fprintf(stderr, "no complete reply within 10 s (got %zu bytes)\n", got);
            abort();
        }
        if (n < 0)
            break; /* reset after an early reply */
        got += (size_t)n;
        FUZZ_CHECK(got < cap - 1);
    }
    close(fd);
    reply[got] = '\0';
    return got;
}

/* True when the header block [reply, end) has a Content-Type starting with application/json. */
static bool json_reply(const char *reply, const char *end)
{
    static const char want[] = "\r\ncontent-type: application/json";

    for (const char *p = reply; p + sizeof(want) - 1 <= end; p++) {
        if (strncasecmp(p, want, sizeof(want) - 1) == 0)
            return true;
    }
    return false;
}

static void check_reply(const char *reply, size_t len, bool head)
{
    const char *hdr_end;
    int status;

    if (len == 0)
        return; /* connection reset before any reply: only when the request was unparseable */
    FUZZ_CHECK(sscanf(reply, "HTTP/1.%*d %d", &status) == 1);
    if (getenv("TRIP_FUZZ_VERBOSE"))
        fprintf(stderr, "reply:\n%.600s\n", reply);
    if (status >= 500 && status != 503 && status != 504) {
        fprintf(stderr, "server error reply:\n%.2000s\n", reply);
        FUZZ_CHECK(0);
    }
    hdr_end = strstr(reply, "\r\n\r\n");
    FUZZ_CHECK(hdr_end != NULL);
    if (!head && json_reply(reply, hdr_end)) {
        const char *body = hdr_end + 4;
        json_error_t jerr;
        json_t *j = json_loadb(body, len - (size_t)(body - reply), 0, &jerr);

        if (!j) {
            fprintf(stderr, "invalid JSON reply (%s):\n%.2000s\n", jerr.text, reply);
            FUZZ_CHECK(0);
        }
        json_decref(j);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char reqbuf[MAX_REQ];
    static char reply[MAX_REPLY];
    struct buf req = {reqbuf, 0};
    size_t n;

    if (size < 1 || size > 128 * 1024)
        return 0;
    /* the small pure helpers of http.h see the same bytes */
    {
        char out[256];
        char *s = fuzz_strndup(data, size > 300 ? 300 : size);
        int r;

        FUZZ_CHECK(s != NULL);
        r = http_base64_decode(s, out, sizeof(out));
        FUZZ_CHECK(r < (int)sizeof(out));
        if (r >= 0)
            FUZZ_CHECK(out[r] == '\0');
        FUZZ_CHECK(http_secret_equal(s, s) == 1);
        FUZZ_CHECK(http_secret_equal(s, TOKEN) == (strcmp(s, TOKEN) == 0));
        free(s);
    }
    build(&req, data, size);
    n = exchange(&req, reply, sizeof(reply));
    check_reply(reply, n, (data[0] & 3) == 2);
    return 0;
}
