/* ts_proxy.c: Unix-socket forwarder that can be cut and resumed (connection-loss tests). */
#include "ts_proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CONNS 64

struct ts_proxy;

struct conn {
    struct ts_proxy *p;
    bool used;
    int a, b; /* client, daemon */
    pthread_t thread;
    atomic_bool done;
};

struct ts_proxy {
    char path[108];
    char url[128];
    char target[108];
    int lfd;
    pthread_t acceptor;
    bool running;
    atomic_bool stop;
    pthread_mutex_t lock;
    struct conn conns[MAX_CONNS];
    /* ts_proxy_on_request(): set before use, fired at most once */
    char hook_prefix[128];
    void (*hook)(void *ud);
    void *hook_ud;
    atomic_bool hook_fired;
    /* ts_proxy_count(): request lines containing one of these, counted (guarded by lock) */
    char count_needle[TS_PROXY_MAX_COUNTS][64];
    long count[TS_PROXY_MAX_COUNTS];
    size_t n_counts;
};

/* Client bytes that start a request (a method in capitals, then a space): counts the request line
 * against every needle it contains. One request per read: the Docker client does not pipeline. */
static void count_request(struct ts_proxy *p, const char *buf, size_t n)
{
    size_t m = 0;

    while (m < n && m < 8 && buf[m] >= 'A' && buf[m] <= 'Z')
        m++;
    if (m == 0 || m >= n || buf[m] != ' ')
        return;
    const char *eol = memchr(buf, '\n', n);
    size_t len = eol ? (size_t)(eol - buf) : n;
    char line[512];
    snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) - 1 ? len : sizeof(line) - 1),
             buf);
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n_counts; i++) {
        if (strstr(line, p->count_needle[i]))
            p->count[i]++;
    }
    pthread_mutex_unlock(&p->lock);
}

/* Client bytes starting with the hook's prefix: run the hook first (once). */
static void maybe_hook(struct ts_proxy *p, const char *buf, size_t n)
{
    pthread_mutex_lock(&p->lock);
    size_t pl = strlen(p->hook_prefix);
    void (*hook)(void *) = p->hook;
    void *ud = p->hook_ud;
    bool match = hook && pl > 0 && n >= pl && memcmp(buf, p->hook_prefix, pl) == 0;
    pthread_mutex_unlock(&p->lock);
    if (match && !atomic_exchange(&p->hook_fired, true))
        hook(ud);
}

static int copy_once(int from, int to, struct ts_proxy *hooked)
{
    char buf[16384];
    ssize_t n = read(from, buf, sizeof(buf));

    if (n <= 0)
        return -1;
    if (hooked) {
        count_request(hooked, buf, (size_t)n);
        maybe_hook(hooked, buf, (size_t)n);
    }
    /* MSG_NOSIGNAL: a peer gone meanwhile (the test cutting the connection, a client that gave
     * up) is an error here, not a SIGPIPE that kills the whole test program */
    for (ssize_t off = 0; off < n;) {
        ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        off += w;
    }
    return 0;
}

static void *forward_main(void *arg)
{
    struct conn *c = arg;
    struct pollfd p[2] = {{c->a, POLLIN, 0}, {c->b, POLLIN, 0}};

    for (;;) {
        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            break;
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && copy_once(c->a, c->b, c->p) != 0)
            break;
        if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && copy_once(c->b, c->a, NULL) != 0)
            break;
    }
    shutdown(c->a, SHUT_RDWR);
    shutdown(c->b, SHUT_RDWR);
    atomic_store(&c->done, true);
    return NULL;
}

static int unix_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    /* bounded: a daemon whose accept backlog is full (Podman's API service under a receiver's
     * 200 ms refresh) would otherwise block the acceptor, and with it ts_proxy_cut(), forever */
    struct timeval bound = {.tv_sec = 2};
    struct timeval none = {0};

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof(bound));
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
    return fd;
}

/* Joins and closes finished connections; all of them when force. The joins run without the lock:
 * a pumping thread takes it for each request it forwards (count_request, maybe_hook), and joining
 * it with the lock held would wait for ever. */
static void reap(struct ts_proxy *p, bool force)
{
    struct {
        pthread_t thread;
        int a, b;
    } gone[MAX_CONNS];
    size_t n = 0;

    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < MAX_CONNS; i++) {
        struct conn *c = &p->conns[i];
        if (!c->used || (!force && !atomic_load(&c->done)))
            continue;
        shutdown(c->a, SHUT_RDWR);
        shutdown(c->b, SHUT_RDWR);
        gone[n].thread = c->thread;
        gone[n].a = c->a;
        gone[n].b = c->b;
        n++;
        c->used = false;
    }
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < n; i++) {
        pthread_join(gone[i].thread, NULL);
        close(gone[i].a);
        close(gone[i].b);
    }
}

static void add_conn(struct ts_proxy *p, int a)
{
    int b = unix_connect(p->target);

    reap(p, false);
    pthread_mutex_lock(&p->lock);
    struct conn *c = NULL;
    for (size_t i = 0; i < MAX_CONNS && !c; i++) {
        if (!p->conns[i].used)
            c = &p->conns[i];
    }
    if (b < 0 || !c) {
        pthread_mutex_unlock(&p->lock);
        close(a);
        if (b >= 0)
            close(b);
        return;
    }
    c->used = true;
    c->p = p;
    c->a = a;
    c->b = b;
    atomic_store(&c->done, false);
    if (pthread_create(&c->thread, NULL, forward_main, c) != 0) {
        c->used = false;
        close(a);
        close(b);
    }
    pthread_mutex_unlock(&p->lock);
}

static void *accept_main(void *arg)
{
    struct ts_proxy *p = arg;
    struct pollfd pf = {p->lfd, POLLIN, 0};

    while (!atomic_load(&p->stop)) {
        if (poll(&pf, 1, 50) <= 0 || !(pf.revents & POLLIN))
            continue;
        int a = accept(p->lfd, NULL, NULL);
        if (a >= 0) {
            fcntl(a, F_SETFD, FD_CLOEXEC);
            add_conn(p, a);
        }
    }
    return NULL;
}

int ts_proxy_resume(struct ts_proxy *p)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    if (p->running)
        return 0;
    unlink(p->path);
    p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p->path);
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(p->lfd, 64) != 0) {
        fprintf(stderr, "ts_proxy: cannot listen on %s: %s\n", p->path, strerror(errno));
        if (p->lfd >= 0)
            close(p->lfd);
        return -1;
    }
    atomic_store(&p->stop, false);
    if (pthread_create(&p->acceptor, NULL, accept_main, p) != 0) {
        close(p->lfd);
        return -1;
    }
    p->running = true;
    return 0;
}

struct ts_proxy *ts_proxy_new(const char *target)
{
    struct ts_proxy *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    snprintf(p->target, sizeof(p->target), "%s", target);
    snprintf(p->path, sizeof(p->path), "/tmp/trip-proxy-%ld.sock", (long)getpid());
    snprintf(p->url, sizeof(p->url), "unix://%s", p->path);
    if (ts_proxy_resume(p) != 0) {
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

const char *ts_proxy_url(const struct ts_proxy *p)
{
    return p->url;
}

void ts_proxy_cut(struct ts_proxy *p)
{
    if (!p->running)
        return;
    atomic_store(&p->stop, true);
    pthread_join(p->acceptor, NULL);
    close(p->lfd);
    unlink(p->path);
    p->running = false;
    reap(p, true);
}

void ts_proxy_free(struct ts_proxy *p)
{
    if (!p)
        return;
    ts_proxy_cut(p);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void ts_proxy_on_request(struct ts_proxy *p, const char *prefix, void (*hook)(void *ud), void *ud)
{
    pthread_mutex_lock(&p->lock);
    snprintf(p->hook_prefix, sizeof(p->hook_prefix), "%s", prefix);
    p->hook_ud = ud;
    atomic_store(&p->hook_fired, false);
    p->hook = hook;
    pthread_mutex_unlock(&p->lock);
}

long ts_proxy_count(struct ts_proxy *p, const char *needle)
{
    long n = -1;

    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n_counts && n < 0; i++) {
        if (strcmp(p->count_needle[i], needle) == 0)
            n = p->count[i];
    }
    if (n < 0 && p->n_counts < TS_PROXY_MAX_COUNTS) {
        snprintf(p->count_needle[p->n_counts], sizeof(p->count_needle[0]), "%s", needle);
        p->count[p->n_counts++] = 0;
        n = 0;
    }
    pthread_mutex_unlock(&p->lock);
    return n;
}
