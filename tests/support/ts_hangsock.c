/* ts_hangsock.c: a Unix-socket server that accepts and never answers. */
#include "ts_hangsock.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_HELD 1024

struct ts_hangsock {
    int listen_fd;
    char path[108];
    pthread_t thread;
    atomic_bool stop;
    atomic_int accepted;
    int held[MAX_HELD];
    int n_held;
};

static void *accept_main(void *arg)
{
    struct ts_hangsock *h = arg;

    while (!atomic_load(&h->stop)) {
        struct pollfd pfd = {.fd = h->listen_fd, .events = POLLIN};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int fd = accept(h->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&h->accepted, 1);
        if (h->n_held < MAX_HELD)
            h->held[h->n_held++] = fd;
        else
            close(fd);
    }
    return NULL;
}

struct ts_hangsock *ts_hangsock_new(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    struct ts_hangsock *h = calloc(1, sizeof(*h));

    if (!h || strlen(path) >= sizeof(a.sun_path)) {
        fprintf(stderr, "ts_hangsock_new: %s: path too long or out of memory\n", path);
        free(h);
        return NULL;
    }
    snprintf(h->path, sizeof(h->path), "%s", path);
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    unlink(path);
    h->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->listen_fd < 0 || bind(h->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(h->listen_fd, 128) != 0) {
        fprintf(stderr, "ts_hangsock_new: %s: %s\n", path, strerror(errno));
        if (h->listen_fd >= 0)
            close(h->listen_fd);
        free(h);
        return NULL;
    }
    pthread_create(&h->thread, NULL, accept_main, h);
    return h;
}

int ts_hangsock_accepted(const struct ts_hangsock *h)
{
    return atomic_load(&h->accepted);
}

void ts_hangsock_free(struct ts_hangsock *h)
{
    if (!h)
        return;
    atomic_store(&h->stop, true);
    pthread_join(h->thread, NULL);
    for (int i = 0; i < h->n_held; i++)
        close(h->held[i]);
    close(h->listen_fd);
    unlink(h->path);
    free(h);
}
