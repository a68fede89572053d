/* workload.c: a tiny HTTP/1.1 service that burns CPU, holds memory or exits on request; the
 * process inside the test image trip-workload:test and the services of the compose stack.
 *
 * Usage: workload [--listen PORT] [--exit-after-ms N [--exit-code C]]
 *        workload [--listen PORT] --health-check   (exit 0 when 127.0.0.1:PORT/health answers 200;
 *                                                   for HEALTHCHECK in a FROM scratch image)
 *   PORT defaults to $WORKLOAD_PORT, then 8000. SIGTERM/SIGINT exit 0 at once.
 * Endpoints (GET or POST, JSON replies unless noted):
 *   /health               {"status":"ok"}
 *   /cpu/start?workers=N  N busy threads (1..64, default 1), replacing the current ones
 *   /cpu/stop             stops them
 *   /mem/hold?mb=N        allocates and touches N MiB (0..4096), replacing what was held
 *   /mem/add?mb=N         allocates and touches N more MiB, kept beside what is held (a growth
 *                         in steps: each step adds to the working set, none frees it first)
 *   /mem/release          frees it
 *   /exit?code=N          replies, then exits with code N (0..255, default 1)
 *   /metrics              Prometheus text: workload_cpu_workers, workload_memory_held_bytes,
 *                         workload_requests_total
 *   /                     the list of endpoints
 *
 * DESIGN
 * One detached thread per connection (at most MAX_CONNS at once; one request per connection,
 * "Connection: close"). The CPU workers and the held memory are guarded by `lock`; the workers
 * poll the atomic `burn_gen` and stop when it no longer matches the generation they were started
 * with. Counters are atomics. Built static (tests/support/build-images) so the image is FROM scratch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define MAX_WORKERS 64
#define MAX_HOLD_MB 4096
#define MAX_HEADER 8192
#define MAX_BODY (1 << 20)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t workers[MAX_WORKERS]; /* guarded by lock */
static int nworkers;                   /* guarded by lock */
static char *held;                     /* guarded by lock */
static size_t held_bytes;              /* guarded by lock */
static char *added[MAX_HOLD_MB];       /* 1 MiB blocks of /mem/add; guarded by lock */
static size_t n_added;                 /* guarded by lock */
static atomic_uint burn_gen;
static atomic_int active_conns;
static atomic_ulong requests_total;
static atomic_int reported_workers;
static atomic_size_t reported_held;

struct exit_timer {
    long ms;
    int code;
};

static void on_term(int sig)
{
    (void)sig;
    _exit(0);
}

static void *burn(void *arg)
{
    unsigned gen = (unsigned)(uintptr_t)arg;
    volatile uint64_t x = 0;

    while (atomic_load_explicit(&burn_gen, memory_order_relaxed) == gen) {
        for (int i = 0; i < 100000; i++)
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    }
    return NULL;
}

/* Stops the current workers; lock held. */
static void cpu_stop_locked(void)
{
    atomic_fetch_add(&burn_gen, 1);
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i], NULL);
    nworkers = 0;
    atomic_store(&reported_workers, 0);
}

static int cpu_start(int n)
{
    unsigned gen;

    pthread_mutex_lock(&lock);
    cpu_stop_locked();
    gen = atomic_load(&burn_gen);
    while (nworkers < n) {
        if (pthread_create(&workers[nworkers], NULL, burn, (void *)(uintptr_t)gen) != 0)
            break;
        nworkers++;
    }
    atomic_store(&reported_workers, nworkers);
    n = nworkers;
    pthread_mutex_unlock(&lock);
    return n;
}

static void cpu_stop(void)
{
    pthread_mutex_lock(&lock);
    cpu_stop_locked();
    pthread_mutex_unlock(&lock);
}

/* Replaces the held memory with mb MiB, every page written. Returns 0, or -1 when out of memory. */
static int mem_hold(long mb)
{
    size_t bytes = (size_t)mb << 20;
    char *p = NULL;
    int rc = 0;

    pthread_mutex_lock(&lock);
    free(held);
    held = NULL;
    held_bytes = 0;
    while (n_added > 0)
        free(added[--n_added]);
    if (bytes > 0) {
        p = malloc(bytes);
        if (p) {
            for (size_t off = 0; off < bytes; off += 4096)
                p[off] = (char)(off >> 12 | 1);
            held = p;
            held_bytes = bytes;
        } else {
            rc = -1;
        }
    }
    atomic_store(&reported_held, held_bytes);
    pthread_mutex_unlock(&lock);
    return rc;
}

/* Adds mb MiB in 1 MiB blocks, every page written, to what is held. Returns 0, or -1 when out of
 * memory or past MAX_HOLD_MB blocks (what was added so far stays). */
static int mem_add(long mb)
{
    int rc = 0;

    pthread_mutex_lock(&lock);
    for (long i = 0; i < mb; i++) {
        char *p = n_added < MAX_HOLD_MB ? malloc((size_t)1 << 20) : NULL;
        if (!p) {
            rc = -1;
            break;
        }
        for (size_t off = 0; off < ((size_t)1 << 20); off += 4096)
            p[off] = (char)(off >> 12 | 1);
        added[n_added++] = p;
    }
    atomic_store(&reported_held, held_bytes + (n_added << 20));
    pthread_mutex_unlock(&lock);
    return rc;
}

static void send_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        buf += w;
        n -= (size_t)w;
    }
}

static void reply(int fd, int status, const char *ctype, const char *body)
{
    const char *reason = status == 200   ? "OK"
                         : status == 400 ? "Bad Request"
                         : status == 404 ? "Not Found"
                         : status == 405 ? "Method Not Allowed"
                         : status == 413 ? "Payload Too Large"
                         : status == 503 ? "Service Unavailable"
                                         : "Internal Server Error";
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason, ctype, strlen(body));

    send_all(fd, head, (size_t)n);
    send_all(fd, body, strlen(body));
}

static void reply_json(int fd, int status, const char *body)
{
    reply(fd, status, "application/json", body);
}

/* Finds integer parameter `name` in query q ("a=1&b=2"). Returns 1 found and valid (in
 * [lo, hi]), 0 absent, -1 present but invalid. */
static int query_long(const char *q, const char *name, long lo, long hi, long *out)
{
    size_t n = strlen(name);

    for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        char *end;
        long v;

        if (strncmp(p, name, n) != 0 || p[n] != '=')
            continue;
        errno = 0;
        v = strtol(p + n + 1, &end, 10);
        if (errno || end == p + n + 1 || (*end != '\0' && *end != '&') || v < lo || v > hi)
            return -1;
        *out = v;
        return 1;
    }
    return 0;
}

static const char index_body[] =
    "{\"endpoints\":[\"/health\",\"/cpu/start?workers=N\",\"/cpu/stop\",\"/mem/hold?mb=N\","
    "\"/mem/add?mb=N\",\"/mem/release\",\"/exit?code=N\",\"/metrics\"]}";

static void route(int fd, const char *path, const char *query)
{
    char body[512];
    long v = 0;

    if (strcmp(path, "/health") == 0) {
        reply_json(fd, 200, "{\"status\":\"ok\"}");
    } else if (strcmp(path, "/") == 0) {
        reply_json(fd, 200, index_body);
    } else if (strcmp(path, "/cpu/start") == 0) {
        v = 1;
        if (query_long(query, "workers", 1, MAX_WORKERS, &v) < 0) {
            reply_json(fd, 400, "{\"error\":\"workers must be 1..64\"}");
            return;
        }
        snprintf(body, sizeof(body), "{\"cpu_workers\":%d}", cpu_start((int)v));
        reply_json(fd, 200, body);
    } else if (strcmp(path, "/cpu/stop") == 0) {
        cpu_stop();
        reply_json(fd, 200, "{\"cpu_workers\":0}");
    } else if (strcmp(path, "/mem/hold") == 0) {
        if (query_long(query, "mb", 0, MAX_HOLD_MB, &v) <= 0) {
            reply_json(fd, 400, "{\"error\":\"mb must be 0..4096\"}");
            return;
        }
        if (mem_hold(v) != 0) {
            reply_json(fd, 503, "{\"error\":\"out of memory\"}");
            return;
        }
        snprintf(body, sizeof(body), "{\"memory_held_bytes\":%zu}", atomic_load(&reported_held));
        reply_json(fd, 200, body);
    } else if (strcmp(path, "/mem/add") == 0) {
        if (query_long(query, "mb", 0, MAX_HOLD_MB, &v) <= 0) {
            reply_json(fd, 400, "{\"error\":\"mb must be 0..4096\"}");
            return;
        }
        if (mem_add(v) != 0) {
            reply_json(fd, 503, "{\"error\":\"out of memory\"}");
            return;
        }
        snprintf(body, sizeof(body), "{\"memory_held_bytes\":%zu}", atomic_load(&reported_held));
        reply_json(fd, 200, body);
    } else if (strcmp(path, "/mem/release") == 0) {
        mem_hold(0);
        reply_json(fd, 200, "{\"memory_held_bytes\":0}");
    } else if (strcmp(path, "/exit") == 0) {
        v = 1;
        if (query_long(query, "code", 0, 255, &v) < 0) {
            reply_json(fd, 400, "{\"error\":\"code must be 0..255\"}");
            return;
        }
        snprintf(body, sizeof(body), "{\"exiting\":%ld}", v);
        reply_json(fd, 200, body);
        shutdown(fd, SHUT_WR);
        _exit((int)v);
    } else if (strcmp(path, "/metrics") == 0) {
        snprintf(body, sizeof(body),
                 "# HELP workload_cpu_workers Busy threads burning CPU.\n"
                 "# TYPE workload_cpu_workers gauge\nworkload_cpu_workers %d\n"
                 "# HELP workload_memory_held_bytes Memory allocated and touched.\n"
                 "# TYPE workload_memory_held_bytes gauge\nworkload_memory_held_bytes %zu\n"
                 "# HELP workload_requests_total HTTP requests served.\n"
                 "# TYPE workload_requests_total counter\nworkload_requests_total %lu\n",
                 atomic_load(&reported_workers), atomic_load(&reported_held),
                 atomic_load(&requests_total));
        reply(fd, 200, "text/plain; version=0.0.4", body);
    } else {
        reply_json(fd, 404, "{\"error\":\"no such endpoint\"}");
    }
}

/* Content-Length of the request headers in h (NUL-terminated), 0 when absent, -1 when invalid. */
static long content_length(const char *h)
{
    for (const char *p = strstr(h, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        char *end;
        long v;

        if (strncasecmp(p + 2, "Content-Length:", 15) != 0)
            continue;
        errno = 0;
        v = strtol(p + 17, &end, 10);
        if (errno || v < 0 || end == p + 17)
            return -1;
        return v;
    }
    return 0;
}

static void discard(int fd, long n)
{
    char buf[4096];

    while (n > 0) {
        ssize_t r = recv(fd, buf, n < (long)sizeof(buf) ? (size_t)n : sizeof(buf), 0);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        n -= r;
    }
}

static void serve(int fd)
{
    char req[MAX_HEADER + 1];
    char method[16];
    char target[2048];
    char *end = NULL;
    char *query;
    size_t used = 0;
    long clen;

    while (!end) {
        ssize_t r;

        if (used == MAX_HEADER) {
            reply_json(fd, 413, "{\"error\":\"header too large\"}");
            return;
        }
        r = recv(fd, req + used, MAX_HEADER - used, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        used += (size_t)r;
        req[used] = '\0';
        if (memchr(req, '\0', used)) {
            reply_json(fd, 400, "{\"error\":\"bad request\"}");
            return;
        }
        end = strstr(req, "\r\n\r\n");
    }
    atomic_fetch_add(&requests_total, 1);
    if (sscanf(req, "%15[A-Z] %2047[^ \r\n] HTTP/1.%*[01]", method, target) != 2 ||
        target[0] != '/') {
        reply_json(fd, 400, "{\"error\":\"bad request line\"}");
        return;
    }
    clen = content_length(req);
    if (clen < 0 || clen > MAX_BODY) {
        reply_json(fd, 400, "{\"error\":\"bad Content-Length\"}");
        return;
    }
    discard(fd, clen - (long)(used - (size_t)(end + 4 - req)));
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
        reply_json(fd, 405, "{\"error\":\"GET or POST\"}");
        return;
    }
    query = strchr(target, '?');
    if (query)
        *query++ = '\0';
    route(fd, target, query ? query : "");
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;

    serve(fd);
    close(fd);
    atomic_fetch_sub(&active_conns, 1);
    return NULL;
}

static void *exit_timer_main(void *arg)
{
    const struct exit_timer *t = arg;
    struct timespec ts = {.tv_sec = t->ms / 1000, .tv_nsec = (t->ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    fprintf(stderr, "workload: exiting with %d after %ld ms\n", t->code, t->ms);
    _exit(t->code);
}

static long parse_num(const char *s, long lo, long hi, const char *what)
{
    char *end;
    long v;

    errno = 0;
    v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || *end != '\0' || end == s || v < lo || v > hi) {
        fprintf(stderr, "workload: %s must be %ld..%ld\n", what, lo, hi);
        exit(2);
    }
    return v;
}

static int listen_on(long port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* GET /health on 127.0.0.1:port with a 2 s timeout; 0 when it answered 200. */
static int health_check(long port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 2};
    static const char req[] = "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    char buf[64] = "";
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok;

    if (fd < 0)
        return 1;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
         send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(req) - 1) &&
         recv(fd, buf, sizeof(buf) - 1, 0) > 12 && strncmp(buf + 8, " 200", 4) == 0;
    close(fd);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    static struct exit_timer timer = {.ms = -1, .code = 1};
    const char *env_port = getenv("WORKLOAD_PORT");
    long port = env_port && *env_port ? parse_num(env_port, 1, 65535, "WORKLOAD_PORT") : 8000;
    struct sigaction sa = {.sa_handler = on_term};
    pthread_attr_t attr;
    pthread_t t;
    bool check = false;
    int lfd;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            port = parse_num(argv[++i], 1, 65535, "--listen");
        else if (strcmp(argv[i], "--exit-after-ms") == 0 && i + 1 < argc)
            timer.ms = parse_num(argv[++i], 0, LONG_MAX / 2, "--exit-after-ms");
        else if (strcmp(argv[i], "--exit-code") == 0 && i + 1 < argc)
            timer.code = (int)parse_num(argv[++i], 0, 255, "--exit-code");
        else if (strcmp(argv[i], "--health-check") == 0)
            check = true;
        else {
            fprintf(stderr, "usage: workload [--listen PORT] [--exit-after-ms N [--exit-code C]] "
                            "[--health-check]\n");
            return 2;
        }
    }
    if (check)
        return health_check(port);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    lfd = listen_on(port);
    if (lfd < 0) {
        fprintf(stderr, "workload: cannot listen on %ld: %s\n", port, strerror(errno));
        return 1;
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (timer.ms >= 0 && pthread_create(&t, &attr, exit_timer_main, &timer) != 0)
        return 1;
    fprintf(stderr, "workload: listening on :%ld\n", port);
    for (;;) {
        struct timeval tv = {.tv_sec = 10};
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno != EINTR)
                usleep(10000);
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (atomic_fetch_add(&active_conns, 1) >= MAX_CONNS ||
            pthread_create(&t, &attr, conn_main, (void *)(intptr_t)fd) != 0) {
            reply_json(fd, 503, "{\"error\":\"busy\"}");
            close(fd);
            atomic_fetch_sub(&active_conns, 1);
        }
    }
}
