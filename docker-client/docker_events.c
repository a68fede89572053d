/* docker_events.c: the GET /events stream, split into one callback per event, cancellable from
 * any thread. */
#include "docker_internal.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * DESIGN
 * docker_events_stream() runs a libcurl multi handle on the calling thread and waits in
 * curl_multi_poll() at most POLL_MS at a time, then checks the cancel handle's atomic flag. A
 * cancel from another thread (docker_events_cancel) sets the flag and signals the multi handle's
 * wakeup, which ends the wait at once: the handle is registered with the cancel before the first
 * check of the flag, so a cancel either finds it registered or is seen by that check. POLL_MS is
 * only a backstop, long enough that an idle stream costs one wake-up a second. `cancelled` is the
 * only field shared between threads; `multi` is guarded by `lock`.
 */

#define POLL_MS 1000
#define MAX_EVENT_LINE (1u << 20)

struct docker_cancel {
    atomic_int cancelled;
    pthread_mutex_t lock;
    CURLM *multi; /* the running stream's multi handle, or NULL; guarded by lock */
};

struct docker_cancel *docker_cancel_new(void)
{
    struct docker_cancel *k = calloc(1, sizeof(*k));

    if (!k)
        return NULL;
    atomic_init(&k->cancelled, 0);
    pthread_mutex_init(&k->lock, NULL);
    return k;
}

void docker_cancel_free(struct docker_cancel *k)
{
    if (!k)
        return;
    pthread_mutex_destroy(&k->lock);
    free(k);
}

void docker_events_cancel(struct docker_cancel *k)
{
    if (!k)
        return;
    atomic_store(&k->cancelled, 1);
    pthread_mutex_lock(&k->lock);
    if (k->multi)
        curl_multi_wakeup(k->multi);
    pthread_mutex_unlock(&k->lock);
}

static bool is_cancelled(struct docker_cancel *k)
{
    return k && atomic_load(&k->cancelled);
}

struct stream {
    struct docker_linebuf lines;
    docker_event_fn fn;
    void *ud;
    struct docker_cancel *k;
    struct docker_err *err;
    docker_code code; /* why the write callback stopped the transfer */
    char errbody[512]; /* start of a non-2xx reply, for the message */
    size_t errlen;
    long status;
    CURL *h;
};

enum { LINE_STOP = 1, LINE_MALFORMED = 2 };

static int on_line(const char *line, size_t len, void *ud)
{
    struct stream *s = ud;
    int stop = 0;

    if (docker_parse_event(line, len, s->fn, s->ud, &stop, s->err) != DOCKER_OK)
        return LINE_MALFORMED;
    return stop ? LINE_STOP : 0;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
    struct stream *s = ud;
    size_t n = size * nmemb;
    int rc;

    if (s->status == 0)
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->status < 200 || s->status >= 300) {
        size_t room = sizeof(s->errbody) - 1 - s->errlen;

        memcpy(s->errbody + s->errlen, data, n < room ? n : room);
        s->errlen += n < room ? n : room;
        return n;
    }
    if (is_cancelled(s->k)) {
        s->code = DOCKER_E_CANCELLED;
        return 0;
    }
    rc = docker_linebuf_feed(&s->lines, data, n, on_line, s);
    if (rc == 0)
        return n;
    if (rc == LINE_STOP)
        s->code = DOCKER_OK;
    else if (rc == LINE_MALFORMED)
        s->code = DOCKER_E_MALFORMED;
    else if (rc == -1)
        s->code = docker_err_set(s->err, DOCKER_E_TOOBIG, 0, "events: event longer than %u bytes",
                                 MAX_EVENT_LINE);
    else
        s->code = docker_err_set(s->err, DOCKER_E_NOMEM, 0, "events: out of memory");
    return 0;
}

/* Drives the transfer until it ends or k is cancelled. Returns the CURLcode of the transfer, or
 * CURLE_ABORTED_BY_CALLBACK when cancelled. */
static CURLcode run(CURLM *m, CURL *h, struct docker_cancel *k)
{
    int running = 1;

    while (running) {
        CURLMcode mc = curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;

        if (mc != CURLM_OK)
            return CURLE_OUT_OF_MEMORY;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == h)
                return msg->data.result;
        }
        if (is_cancelled(k))
            return CURLE_ABORTED_BY_CALLBACK;
        if (running && curl_multi_poll(m, NULL, 0, POLL_MS, NULL) != CURLM_OK)
            return CURLE_OUT_OF_MEMORY;
    }
    return CURLE_OK;
}

/* Maps how the transfer ended to the call's result. */
static docker_code finish(struct stream *s, CURLcode rc, const char *errbuf)
{
    if (s->status != 0 && (s->status < 200 || s->status >= 300))
        return docker_reply_error(s->status, s->errbody, s->errlen, "events", s->err);
    if (rc == CURLE_ABORTED_BY_CALLBACK || s->code == DOCKER_E_CANCELLED)
        return docker_err_set(s->err, DOCKER_E_CANCELLED, 0, "events: cancelled");
    if (rc == CURLE_WRITE_ERROR)
        return s->code; /* stopped by fn (OK) or a bad event (error already set) */
    if (rc == CURLE_OK)
        return docker_err_set(s->err, DOCKER_E_TRANSPORT, 0, "events: daemon closed the stream");
    return docker_curl_error((int)rc, "events", errbuf, s->err);
}

/* Creates the multi handle, registers it with k for wakeups, runs, unregisters. */
static CURLcode run_multi(CURL *h, struct docker_cancel *k)
{
    CURLM *m = curl_multi_init();
    CURLcode rc;

    if (!m)
        return CURLE_OUT_OF_MEMORY;
    curl_multi_add_handle(m, h);
    if (k) {
        pthread_mutex_lock(&k->lock);
        k->multi = m;
        pthread_mutex_unlock(&k->lock);
    }
    rc = run(m, h, k);
    if (k) {
        pthread_mutex_lock(&k->lock);
        k->multi = NULL;
        pthread_mutex_unlock(&k->lock);
    }
    curl_multi_remove_handle(m, h);
    curl_multi_cleanup(m);
    return rc;
}

#define MAX_FILTER_EVENTS 32

/* Podman's Docker API reports a container exit as "die" but filters on its own name for it,
 * "died" (measured on 4.3.1: a filter event=die delivers no exit at all), so on Podman a filter
 * naming "die" also names "died". */
static docker_code events_path_for_engine(struct docker_client *c, const char *ver,
                                          const struct docker_events_filter *f, char *path,
                                          size_t len, struct docker_err *err)
{
    const char *events[MAX_FILTER_EVENTS + 2];
    struct docker_events_filter pf;
    struct docker_engine e;
    size_t n = 0;
    bool die = false;

    docker_client_engine(c, &e);
    if (!e.podman || !f || !f->events)
        return docker_events_path(ver, f, path, len, err);
    for (; f->events[n] && n < MAX_FILTER_EVENTS; n++) {
        events[n] = f->events[n];
        die = die || strcmp(f->events[n], "die") == 0;
    }
    if (die)
        events[n++] = "died";
    events[n] = NULL;
    pf = *f;
    pf.events = events;
    return docker_events_path(ver, &pf, path, len, err);
}

docker_code docker_events_stream(struct docker_client *c, const struct docker_events_filter *f,
                                 docker_event_fn fn, void *ud, struct docker_cancel *k,
                                 struct docker_err *err)
{
    struct stream s = {.fn = fn, .ud = ud, .k = k, .err = err, .code = DOCKER_OK};
    char path[DOCKER_PATH_MAX];
    char errbuf[CURL_ERROR_SIZE] = "";
    char ver[16];
    docker_code code;
    CURLcode rc;

    if (!c || !fn)
        return docker_err_set(err, DOCKER_E_INVALID, 0, "events: no client or callback");
    if (is_cancelled(k))
        return docker_err_set(err, DOCKER_E_CANCELLED, 0, "events: cancelled");
    code = docker_client_version_for_call(c, ver, err);
    if (code == DOCKER_OK)
        code = events_path_for_engine(c, ver, f, path, sizeof(path), err);
    if (code != DOCKER_OK)
        return code;
    s.h = docker_easy_new(c, path, 0);
    if (!s.h)
        return docker_err_set(err, DOCKER_E_NOMEM, 0, "events: cannot create request");
    docker_linebuf_init(&s.lines, MAX_EVENT_LINE);
    curl_easy_setopt(s.h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(s.h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s.h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(s.h, CURLOPT_TCP_KEEPALIVE, 1L);
    rc = run_multi(s.h, k);
    if (s.status == 0)
        curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &s.status);
    code = finish(&s, rc, errbuf);
    /* a stream lost (daemon stopped, restarted, upgraded): its reconnect negotiates again */
    if (code != DOCKER_OK && code != DOCKER_E_CANCELLED)
        docker_client_renegotiate(c);
    docker_linebuf_free(&s.lines);
    curl_easy_cleanup(s.h);
    return code;
}
