/* ipc.c: the privilege-separation messages: encoding, decoding, framing (see ipc.h's DESIGN). */
#include "ipc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "utf8.h"

/* ---- encoding ---- */

struct wbuf {
    uint8_t *p;
    size_t size, n;
    bool bad;
};

static void put_u8(struct wbuf *w, uint8_t v)
{
    if (w->n + 1 > w->size) {
        w->bad = true;
        return;
    }
    w->p[w->n++] = v;
}

static void put_le(struct wbuf *w, uint64_t v, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++)
        put_u8(w, (uint8_t)(v >> (8 * i)));
}

/* A string field: u16 length and the bytes; refused (w->bad) when it would not fit field_size
 * with its NUL. */
static void put_str(struct wbuf *w, const char *s, size_t field_size)
{
    size_t len = strnlen(s, field_size);

    if (len >= field_size || len > UINT16_MAX || w->n + 2 + len > w->size) {
        w->bad = true;
        return;
    }
    put_le(w, len, 2);
    memcpy(w->p + w->n, s, len);
    w->n += len;
}

void ipc_put_header(uint8_t *buf, enum ipc_type type, uint32_t id, uint32_t len)
{
    struct wbuf w = {buf, IPC_HDR_SIZE, 0, false};

    put_u8(&w, IPC_VERSION);
    put_u8(&w, (uint8_t)type);
    put_le(&w, 0, 2);
    put_le(&w, id, 4);
    put_le(&w, len, 4);
}

#define PUT_STR(w, field) put_str((w), (field), sizeof(field))

size_t ipc_encode_intent(const struct ipc_intent *in, uint8_t *buf, size_t size)
{
    size_t cap = IPC_HDR_SIZE + IPC_MAX_INTENT;
    struct wbuf w = {buf, size < cap ? size : cap, IPC_HDR_SIZE, false};

    if (size < IPC_HDR_SIZE)
        return 0;
    switch (in->type) {
    case IPC_ALERT:
        put_u8(&w, in->status);
        put_u8(&w, in->action);
        PUT_STR(&w, in->container);
        PUT_STR(&w, in->fingerprint);
        PUT_STR(&w, in->alertname);
        PUT_STR(&w, in->duration);
        PUT_STR(&w, in->remote);
        PUT_STR(&w, in->problem);
        break;
    case IPC_JOB:
        put_u8(&w, in->kind);
        put_u8(&w, in->resource);
        put_u8(&w, in->flag);
        PUT_STR(&w, in->container);
        PUT_STR(&w, in->duration);
        PUT_STR(&w, in->remote);
        break;
    case IPC_MAINTENANCE:
        put_u8(&w, in->flag);
        PUT_STR(&w, in->container);
        PUT_STR(&w, in->remote);
        break;
    case IPC_STATE:
        PUT_STR(&w, in->container);
        break;
    case IPC_ACTIONS:
        put_le(&w, in->since_seq, 8);
        put_le(&w, (uint64_t)in->since_ms, 8);
        put_le(&w, in->limit, 4);
        break;
    case IPC_COUNT_REQUEST:
        put_u8(&w, in->route);
        put_le(&w, in->code, 2);
        break;
    case IPC_READY:
    case IPC_METRICS:
    case IPC_COUNT_REJECTED:
        break;
    default:
        return 0;
    }
    if (w.bad)
        return 0;
    ipc_put_header(buf, in->type, in->id, (uint32_t)(w.n - IPC_HDR_SIZE));
    return w.n;
}

size_t ipc_encode_reply(const struct ipc_reply *r, uint8_t **out)
{
    size_t body_len = r->body ? strlen(r->body) : 0;
    size_t size = IPC_HDR_SIZE + 2 + 1 + 8 + 2 + sizeof(r->reason) + 4 + body_len;
    struct wbuf w = {NULL, size, IPC_HDR_SIZE, false};

    *out = NULL;
    if (body_len > IPC_MAX_REPLY - 1024 || !(w.p = malloc(size)))
        return 0;
    put_le(&w, r->status, 2);
    put_u8(&w, (uint8_t)((r->accepted ? 1 : 0) | (r->busy ? 2 : 0)));
    put_le(&w, (uint64_t)r->duration_ms, 8);
    PUT_STR(&w, r->reason);
    put_le(&w, body_len, 4);
    if (!w.bad && body_len) {
        memcpy(w.p + w.n, r->body, body_len);
        w.n += body_len;
    }
    if (w.bad) {
        free(w.p);
        return 0;
    }
    ipc_put_header(w.p, IPC_REPLY, r->id, (uint32_t)(w.n - IPC_HDR_SIZE));
    *out = w.p;
    return w.n;
}

/* ---- decoding ---- */

struct rbuf {
    const uint8_t *p;
    size_t len, at;
    const char *bad; /* the first problem, NULL while fine */
};

static uint64_t get_le(struct rbuf *r, size_t bytes, const char *what)
{
    uint64_t v = 0;

    if (r->bad)
        return 0;
    if (r->len - r->at < bytes) {
        r->bad = what;
        return 0;
    }
    for (size_t i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[r->at + i] << (8 * i);
    r->at += bytes;
    return v;
}

/* A string into field (field_size bytes with its NUL): refused when short, too long, holding a
 * NUL or not UTF-8. */
static void get_str(struct rbuf *r, char *field, size_t field_size, const char *what)
{
    size_t len = (size_t)get_le(r, 2, what);

    field[0] = '\0';
    if (r->bad)
        return;
    if (len >= field_size || r->len - r->at < len || memchr(r->p + r->at, '\0', len) ||
        utf8_valid_prefix((const char *)r->p + r->at, len) != len) {
        r->bad = what;
        return;
    }
    memcpy(field, r->p + r->at, len);
    field[len] = '\0';
    r->at += len;
}

#define GET_STR(r, field, what) get_str((r), (field), sizeof(field), (what))

static uint8_t get_bool(struct rbuf *r, const char *what)
{
    uint8_t v = (uint8_t)get_le(r, 1, what);

    if (v > 1 && !r->bad)
        r->bad = what;
    return v;
}

static ipc_code fail(struct ipc_err *err, ipc_code code, const char *fmt, ...)
{
    va_list ap;

    if (err && err->code == IPC_OK) {
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

/* The header of msg (len bytes): version, reserved bytes and the payload length against len. */
static ipc_code check_header(const uint8_t *msg, size_t len, uint32_t max, struct ipc_err *err)
{
    struct rbuf r = {msg, len, 0, NULL};

    if (len < IPC_HDR_SIZE)
        return fail(err, IPC_E_PROTO, "message of %zu bytes is shorter than a header", len);
    uint8_t version = (uint8_t)get_le(&r, 1, "version");
    r.at = 2;
    uint16_t reserved = (uint16_t)get_le(&r, 2, "reserved");
    r.at = 8;
    uint32_t plen = (uint32_t)get_le(&r, 4, "length");
    if (version != IPC_VERSION)
        return fail(err, IPC_E_PROTO, "version %u, expected %u", version, IPC_VERSION);
    if (reserved)
        return fail(err, IPC_E_PROTO, "reserved header bytes set");
    if (plen > max)
        return fail(err, IPC_E_TOOBIG, "payload of %u bytes is over the limit of %u", plen, max);
    if (plen != len - IPC_HDR_SIZE)
        return fail(err, IPC_E_PROTO, "payload length %u does not match the %zu bytes received",
                    plen, len - IPC_HDR_SIZE);
    return IPC_OK;
}

ipc_code ipc_decode_intent(const uint8_t *msg, size_t len, struct ipc_intent *out,
                           struct ipc_err *err)
{
    struct rbuf r = {msg, len, IPC_HDR_SIZE, NULL};
    ipc_code rc = check_header(msg, len, IPC_MAX_INTENT, err);

    memset(out, 0, sizeof(*out));
    if (rc != IPC_OK)
        return rc;
    out->type = (enum ipc_type)msg[1];
    out->id = (uint32_t)msg[4] | (uint32_t)msg[5] << 8 | (uint32_t)msg[6] << 16 |
              (uint32_t)msg[7] << 24;
    switch (out->type) {
    case IPC_ALERT:
        out->status = (uint8_t)get_le(&r, 1, "status");
        out->action = (uint8_t)get_le(&r, 1, "action");
        GET_STR(&r, out->container, "container");
        GET_STR(&r, out->fingerprint, "fingerprint");
        GET_STR(&r, out->alertname, "alertname");
        GET_STR(&r, out->duration, "duration");
        GET_STR(&r, out->remote, "remote");
        GET_STR(&r, out->problem, "problem");
        break;
    case IPC_JOB:
        out->kind = (uint8_t)get_le(&r, 1, "kind");
        out->resource = (uint8_t)get_le(&r, 1, "resource");
        out->flag = get_bool(&r, "force");
        GET_STR(&r, out->container, "container");
        GET_STR(&r, out->duration, "duration");
        GET_STR(&r, out->remote, "remote");
        break;
    case IPC_MAINTENANCE:
        out->flag = get_bool(&r, "enabled");
        GET_STR(&r, out->container, "container");
        GET_STR(&r, out->remote, "remote");
        break;
    case IPC_STATE:
        GET_STR(&r, out->container, "container");
        break;
    case IPC_ACTIONS:
        out->since_seq = get_le(&r, 8, "since_seq");
        out->since_ms = (int64_t)get_le(&r, 8, "since_ms");
        out->limit = (uint32_t)get_le(&r, 4, "limit");
        break;
    case IPC_COUNT_REQUEST:
        out->route = (uint8_t)get_le(&r, 1, "route");
        out->code = (uint16_t)get_le(&r, 2, "code");
        break;
    case IPC_READY:
    case IPC_METRICS:
    case IPC_COUNT_REJECTED:
        break;
    default:
        return fail(err, IPC_E_PROTO, "unknown message type %u", msg[1]);
    }
    if (r.bad)
        return fail(err, IPC_E_PROTO, "type %u: bad or missing field %s", msg[1], r.bad);
    if (r.at != len)
        return fail(err, IPC_E_PROTO, "type %u: %zu bytes after the last field", msg[1],
                    len - r.at);
    return IPC_OK;
}

ipc_code ipc_decode_reply(const uint8_t *msg, size_t len, struct ipc_reply *out,
                          struct ipc_err *err)
{
    struct rbuf r = {msg, len, IPC_HDR_SIZE, NULL};
    ipc_code rc = check_header(msg, len, IPC_MAX_REPLY, err);

    memset(out, 0, sizeof(*out));
    if (rc != IPC_OK)
        return rc;
    if (msg[1] != IPC_REPLY)
        return fail(err, IPC_E_PROTO, "type %u is not a reply", msg[1]);
    out->id = (uint32_t)msg[4] | (uint32_t)msg[5] << 8 | (uint32_t)msg[6] << 16 |
              (uint32_t)msg[7] << 24;
    out->status = (uint16_t)get_le(&r, 2, "status");
    uint8_t flags = (uint8_t)get_le(&r, 1, "flags");
    if (flags > 3 && !r.bad)
        r.bad = "flags"; /* bits 0 (accepted) and 1 (busy) only */
    out->accepted = flags & 1;
    out->busy = (flags & 2) != 0;
    out->duration_ms = (int64_t)get_le(&r, 8, "duration_ms");
    GET_STR(&r, out->reason, "reason");
    uint32_t blen = (uint32_t)get_le(&r, 4, "body length");
    if (!r.bad && (blen != r.len - r.at || memchr(r.p + r.at, '\0', blen)))
        r.bad = "body";
    if (r.bad)
        return fail(err, IPC_E_PROTO, "reply: bad or missing field %s", r.bad);
    if (blen) {
        out->body = malloc((size_t)blen + 1);
        if (!out->body)
            return fail(err, IPC_E_NOMEM, "out of memory");
        memcpy(out->body, r.p + r.at, blen);
        out->body[blen] = '\0';
        out->body_len = blen;
    }
    return IPC_OK;
}

void ipc_reply_clear(struct ipc_reply *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

/* ---- framing ---- */

static ipc_code read_full(int fd, uint8_t *buf, size_t len, bool *eof_at_start)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        /* a reset is the peer closing with messages of ours still unread (a socketpair's end
         * closed by a process that died): the channel ended, as with EOF */
        if (n < 0 && errno != ECONNRESET)
            return IPC_E_IO;
        if (n <= 0) {
            if (eof_at_start)
                *eof_at_start = got == 0;
            return IPC_E_EOF;
        }
        got += (size_t)n;
    }
    return IPC_OK;
}

ipc_code ipc_read(int fd, uint32_t max, uint8_t **msg, size_t *len, uint8_t *type, uint32_t *id,
                  struct ipc_err *err)
{
    uint8_t hdr[IPC_HDR_SIZE];
    bool clean = false;
    ipc_code rc = read_full(fd, hdr, sizeof(hdr), &clean);

    *msg = NULL;
    *len = 0;
    if (rc == IPC_E_EOF)
        return fail(err, IPC_E_EOF, clean ? "channel closed" : "channel closed inside a header");
    if (rc != IPC_OK)
        return fail(err, rc, "read: %s", strerror(errno));
    uint32_t plen = (uint32_t)hdr[8] | (uint32_t)hdr[9] << 8 | (uint32_t)hdr[10] << 16 |
                    (uint32_t)hdr[11] << 24;
    if (hdr[0] != IPC_VERSION || hdr[2] || hdr[3])
        return fail(err, IPC_E_PROTO, "bad header (version %u)", hdr[0]);
    if (plen > max)
        return fail(err, IPC_E_TOOBIG, "payload of %u bytes is over the limit of %u", plen, max);
    uint8_t *m = malloc(IPC_HDR_SIZE + (size_t)plen);
    if (!m)
        return fail(err, IPC_E_NOMEM, "out of memory");
    memcpy(m, hdr, sizeof(hdr));
    rc = read_full(fd, m + IPC_HDR_SIZE, plen, NULL);
    if (rc != IPC_OK) {
        free(m);
        return fail(err, rc, rc == IPC_E_EOF ? "channel closed inside a message" : "read failed");
    }
    *msg = m;
    *len = IPC_HDR_SIZE + (size_t)plen;
    *type = hdr[1];
    *id = (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 |
          (uint32_t)hdr[7] << 24;
    return IPC_OK;
}

ipc_code ipc_write(int fd, const uint8_t *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return IPC_E_IO;
        done += (size_t)n;
    }
    return IPC_OK;
}
