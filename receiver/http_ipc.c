/* http_ipc.c: the HTTP process's side of the privilege-separation channel (ipc.h): intents out,
 * replies in. A reader thread hands each reply to the request waiting for it. */
#include "http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

static const char closed_body[] =
    "{\"error\":\"the privileged process is not answering (shutting down)\",\"status\":503}";

/* The reply a request gets when the channel closed before its answer. */
static void closed_reply(struct ipc_reply *rep, uint32_t id)
{
    memset(rep, 0, sizeof(*rep));
    rep->id = id;
    rep->status = 503;
    rep->duration_ms = -1;
    rep->busy = true;
    snprintf(rep->reason, sizeof(rep->reason), "shutting down; retry later");
    rep->body = strdup(closed_body);
}

/* Takes the waiter of id out of the list (lock held). */
static struct waiter *take_waiter(struct http *h, uint32_t id)
{
    for (struct waiter **pp = &h->waiters; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct waiter *w = *pp;
            *pp = w->next;
            return w;
        }
    }
    return NULL;
}

/* Marks w done (lock held) and wakes its thread: a batch's (http_ipc_call_many) only when its
 * last waiter is done, so n replies cost its thread one wake-up, not n. */
static void finish(struct http *h, struct waiter *w)
{
    w->done = true;
    if (!w->left || --*w->left == 0)
        pthread_cond_broadcast(&h->ipc_cond);
}

static void deliver(struct http *h, struct ipc_reply *rep)
{
    pthread_mutex_lock(&h->ipc_lock);
    struct waiter *w = take_waiter(h, rep->id);
    bool async = w && w->cb; /* read under the lock: a waiting thread's w is gone once it wakes */
    if (w && !async) {
        w->rep = *rep; /* the body is the waiter's now */
        rep->body = NULL;
        finish(h, w);
    }
    pthread_mutex_unlock(&h->ipc_lock);
    if (async) {
        w->cb(w->ud, rep);
        free(w);
    }
    ipc_reply_clear(rep); /* no waiter: its request gave up (the reaper answered 504) */
}

/* The channel closed: every request still waiting gets 503. */
static void close_all(struct http *h)
{
    pthread_mutex_lock(&h->ipc_lock);
    h->ipc_closed = true;
    struct waiter *list = h->waiters, *cbs = NULL;
    h->waiters = NULL;
    while (list) {
        struct waiter *w = list;
        list = w->next;
        if (w->cb) {
            w->next = cbs;
            cbs = w;
        } else {
            closed_reply(&w->rep, w->id);
            finish(h, w);
        }
    }
    pthread_cond_broadcast(&h->ipc_cond);
    pthread_mutex_unlock(&h->ipc_lock);
    while (cbs) {
        struct waiter *w = cbs;
        struct ipc_reply rep;
        cbs = w->next;
        closed_reply(&rep, w->id);
        w->cb(w->ud, &rep);
        ipc_reply_clear(&rep);
        free(w);
    }
}

/* The channel ended without IPC_QUIESCE or SIGTERM first: the privileged process died. Its
 * PR_SET_PDEATHSIG does not always arrive: the kernel checks the dying parent's right to signal
 * this process, which a parent of another uid without CAP_KILL (privsep.c drops every
 * capability) does not have. So the HTTP process ends here at once, answering nothing more. */
static _Noreturn void parent_gone(void)
{
    log_error("the privileged process is gone; the HTTP process ends", "reason=channel_closed");
    _exit(1);
}

static void *reader_main(void *arg)
{
    struct http *h = arg;

    for (;;) {
        uint8_t *msg = NULL, type = 0;
        size_t len = 0;
        uint32_t id = 0;
        struct ipc_err ierr = {0};
        struct ipc_reply rep;

        if (ipc_read(h->ipc_fd, IPC_MAX_REPLY, &msg, &len, &type, &id, &ierr) != IPC_OK) {
            if (ierr.code != IPC_E_EOF)
                log_error("privsep channel failed", "error=%s", ierr.msg);
            else if (!__atomic_load_n(&h->quiesced, __ATOMIC_SEQ_CST))
                parent_gone();
            break;
        }
        if (type == IPC_QUIESCE) {
            http_quiesce(h);
        } else if (type == IPC_REPLY) {
            if (ipc_decode_reply(msg, len, &rep, &ierr) != IPC_OK) {
                log_error("privsep: malformed reply", "error=%s", ierr.msg);
                free(msg);
                break;
            }
            deliver(h, &rep);
        } /* IPC_START: read before the server started (privsep.c); a late one changes nothing */
        free(msg);
    }
    close_all(h);
    return NULL;
}

int http_ipc_open(struct http *h)
{
    pthread_condattr_t ca;

    pthread_mutex_init(&h->ipc_lock, NULL);
    pthread_mutex_init(&h->ipc_wlock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->ipc_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&h->ipc_reader, NULL, reader_main, h) != 0) {
        pthread_cond_destroy(&h->ipc_cond);
        pthread_mutex_destroy(&h->ipc_lock);
        pthread_mutex_destroy(&h->ipc_wlock);
        return -1;
    }
    return 0;
}

/* Shuts the channel down (the other side sees it closed), joins the reader, closes the fd. */
void http_ipc_close(struct http *h)
{
    shutdown(h->ipc_fd, SHUT_RDWR);
    pthread_join(h->ipc_reader, NULL);
    close(h->ipc_fd);
    pthread_cond_destroy(&h->ipc_cond);
    pthread_mutex_destroy(&h->ipc_lock);
    pthread_mutex_destroy(&h->ipc_wlock);
}

bool http_channel_closed(struct http *h)
{
    pthread_mutex_lock(&h->ipc_lock);
    bool closed = h->ipc_closed;
    pthread_mutex_unlock(&h->ipc_lock);
    return closed;
}

/* Encodes and writes in; -1 when it cannot. Takes ipc_wlock, never ipc_lock: the reader must
 * always be able to deliver, or a full socket both ways would deadlock. */
static int send_intent(struct http *h, struct ipc_intent *in)
{
    uint8_t buf[IPC_HDR_SIZE + IPC_MAX_INTENT];
    size_t len = ipc_encode_intent(in, buf, sizeof(buf));

    if (!len) {
        log_error("privsep: intent not representable", "type=%d", (int)in->type);
        return -1;
    }
    pthread_mutex_lock(&h->ipc_wlock);
    ipc_code rc = ipc_write(h->ipc_fd, buf, len);
    pthread_mutex_unlock(&h->ipc_wlock);
    return rc == IPC_OK ? 0 : -1;
}

/* Registers w with a new id in in->id; false when the channel is closed. */
static bool add_waiter(struct http *h, struct waiter *w, struct ipc_intent *in)
{
    pthread_mutex_lock(&h->ipc_lock);
    bool closed = h->ipc_closed;
    if (!closed) {
        in->id = w->id = ++h->next_id;
        w->next = h->waiters;
        h->waiters = w;
        if (w->left)
            ++*w->left;
    }
    pthread_mutex_unlock(&h->ipc_lock);
    return !closed;
}

/* Takes w out again after a failed send; false when the reader already took it. */
static bool drop_waiter(struct http *h, struct waiter *w)
{
    pthread_mutex_lock(&h->ipc_lock);
    bool mine = take_waiter(h, w->id) == w;
    if (mine && w->left)
        --*w->left;
    pthread_mutex_unlock(&h->ipc_lock);
    return mine;
}

void http_ipc_call(struct http *h, struct ipc_intent *in, struct ipc_reply *out)
{
    struct waiter w = {0};

    if (!add_waiter(h, &w, in)) {
        closed_reply(out, 0);
        return;
    }
    if (send_intent(h, in) != 0 && drop_waiter(h, &w)) {
        closed_reply(out, in->id);
        return;
    }
    pthread_mutex_lock(&h->ipc_lock);
    while (!w.done)
        pthread_cond_wait(&h->ipc_cond, &h->ipc_lock);
    pthread_mutex_unlock(&h->ipc_lock);
    *out = w.rep;
}

void http_ipc_call_many(struct http *h, struct ipc_intent *in, struct ipc_reply *out, size_t n)
{
    struct waiter *w = n ? calloc(n, sizeof(*w)) : NULL;
    size_t sent = 0;
    unsigned left = 0; /* guarded by ipc_lock: waiters registered and not done */

    if (!w) { /* out of memory (or nothing to send): one at a time, as before */
        for (size_t i = 0; i < n; i++)
            http_ipc_call(h, &in[i], &out[i]);
        return;
    }
    /* All out first, in one write, then all replies: the privileged process finds them waiting
     * back to back and answers them in as few writes (broker.c), the channel's reader delivers
     * them as they come, and this thread wakes once, when the last is in: n intents cost a few
     * wake-ups each way instead of n round trips. */
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (; sent < n; sent++) {
        if (cap - len < IPC_HDR_SIZE + IPC_MAX_INTENT) {
            size_t ncap = cap ? cap * 2 : 64 * 1024;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb)
                break; /* what is encoded so far is sent; the rest answered 503 below */
            buf = nb;
            cap = ncap;
        }
        w[sent].left = &left;
        if (!add_waiter(h, &w[sent], &in[sent]))
            break;
        size_t l = ipc_encode_intent(&in[sent], buf + len, cap - len);
        if (!l) {
            log_error("privsep: intent not representable", "type=%d", (int)in[sent].type);
            if (!drop_waiter(h, &w[sent]))
                sent++; /* the reader took it (channel closed): it gets its 503 there */
            break;
        }
        len += l;
    }
    if (len) {
        pthread_mutex_lock(&h->ipc_wlock);
        ipc_code rc = ipc_write(h->ipc_fd, buf, len);
        pthread_mutex_unlock(&h->ipc_wlock);
        if (rc != IPC_OK) {
            /* the channel is broken: a waiter the reader has not answered yet is answered here */
            for (size_t i = 0; i < sent; i++) {
                if (drop_waiter(h, &w[i])) {
                    closed_reply(&w[i].rep, in[i].id);
                    w[i].done = true; /* dropped: no longer counted in left */
                }
            }
        }
    }
    free(buf);
    pthread_mutex_lock(&h->ipc_lock);
    while (left)
        pthread_cond_wait(&h->ipc_cond, &h->ipc_lock);
    pthread_mutex_unlock(&h->ipc_lock);
    for (size_t i = 0; i < n; i++) {
        if (i < sent)
            out[i] = w[i].rep;
        else
            closed_reply(&out[i], in[i].id);
    }
    free(w);
}

int http_ipc_call_async(struct http *h, struct ipc_intent *in,
                        void (*cb)(void *ud, struct ipc_reply *rep), void *ud)
{
    struct waiter *w = calloc(1, sizeof(*w));

    if (!w)
        return -1;
    w->cb = cb;
    w->ud = ud;
    if (!add_waiter(h, w, in)) {
        free(w);
        return -1;
    }
    if (send_intent(h, in) != 0 && drop_waiter(h, w)) {
        free(w);
        return -1;
    }
    return 0; /* sent, or the reader closed the channel and calls cb */
}

void http_ipc_notify(struct http *h, struct ipc_intent *in)
{
    in->id = 0;
    send_intent(h, in);
}
