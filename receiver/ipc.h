/* ipc.h: the messages between the HTTP process (which parses untrusted bytes) and the privileged
 * process (which holds the Docker socket and the engine): encoding, the parent's decoder, framing.
 * Pure but for ipc_read()/ipc_write(). */
#ifndef TRIP_IPC_H
#define TRIP_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * DESIGN
 * One SOCK_STREAM socketpair. Every message is a 12-byte header and a payload:
 *   u8 version (IPC_VERSION) | u8 type | u16 reserved (0) | u32 id | u32 payload length
 * integers little-endian. A string in a payload is a u16 length and that many bytes: no NUL, valid
 * UTF-8, shorter than its field (the same sizes as struct engine_job). A payload has exactly the
 * fields of its type, in a fixed order, and nothing after them. Messages from the HTTP process
 * (intents) are at most IPC_MAX_INTENT bytes of payload; the privileged process refuses anything
 * else (unknown version or type, a reserved byte set, a short or long payload, a bad string) and
 * then closes the channel: a process that sends it is no longer trusted to speak the protocol.
 * Replies carry the id of the intent they answer; replies of manual actions (IPC_JOB) come when
 * the engine is done, in any order.
 */
#define IPC_VERSION 1
#define IPC_HDR_SIZE 12
#define IPC_MAX_INTENT 4096u        /* payload bytes of a message from the HTTP process */
#define IPC_MAX_REPLY (16u << 20)   /* payload bytes of a message from the privileged process */

enum ipc_type {
    /* HTTP process -> privileged process: each answered by one IPC_REPLY with its id, but the
     * counters (no reply) */
    IPC_ALERT = 1,       /* one alert of a webhook: decide and queue (or not) */
    IPC_JOB = 2,         /* a manual scale/restart: replied when the engine is done */
    IPC_MAINTENANCE = 3, /* set/clear maintenance, reply with the state view */
    IPC_STATE = 4,       /* the state view of one container, or of all ("" container) */
    IPC_READY = 5,       /* /readyz */
    IPC_METRICS = 6,     /* /metrics text */
    IPC_ACTIONS = 7,     /* the action history */
    IPC_COUNT_REQUEST = 8,  /* count an answered request (no reply) */
    IPC_COUNT_REJECTED = 9, /* count a connection refused over --max-connections (no reply) */
    IPC_INTENT_MAX = 9,
    /* privileged process -> HTTP process */
    IPC_START = 64,   /* the engine runs: start serving */
    IPC_REPLY = 65,   /* the answer to intent `id` */
    IPC_QUIESCE = 66, /* stop accepting connections: shutting down */
};

/* A decoded intent. Strings are NUL-terminated, valid UTF-8; unused fields are zero. */
struct ipc_intent {
    enum ipc_type type;
    uint32_t id;
    uint8_t status;   /* IPC_ALERT: enum alerts_status */
    uint8_t action;   /* IPC_ALERT: enum alerts_action */
    uint8_t kind;     /* IPC_JOB: enum policy_kind */
    uint8_t resource; /* IPC_JOB: enum policy_resource */
    bool flag;        /* IPC_JOB: force; IPC_MAINTENANCE: enabled */
    uint8_t route;    /* IPC_COUNT_REQUEST: the route (http_internal.h enum route) */
    uint16_t code;    /* IPC_COUNT_REQUEST: the HTTP status */
    uint64_t since_seq; /* IPC_ACTIONS */
    int64_t since_ms;
    uint32_t limit;
    char container[256];
    char fingerprint[64];
    char alertname[128];
    char duration[32];
    char remote[64];
    char problem[128]; /* IPC_ALERT: why the HTTP process found the alert unusable, or "" */
};

/* The answer to an intent. */
struct ipc_reply {
    uint32_t id;
    uint16_t status;     /* HTTP status */
    bool accepted;       /* IPC_ALERT: queued */
    bool busy;           /* IPC_ALERT: the engine could not take it (503) */
    int64_t duration_ms; /* IPC_ALERT: the scale-out's duration, -1 when none */
    char reason[256];    /* IPC_ALERT */
    char *body;          /* NUL-terminated JSON or text (heap), NULL when none */
    size_t body_len;
};

typedef enum ipc_code {
    IPC_OK = 0,
    IPC_E_PROTO, /* a malformed message (msg says what) */
    IPC_E_TOOBIG,
    IPC_E_EOF,   /* the other process closed the channel */
    IPC_E_IO,
    IPC_E_NOMEM,
} ipc_code;

struct ipc_err {
    ipc_code code;
    char msg[160];
};

/* Encodes in into buf (IPC_HDR_SIZE + IPC_MAX_INTENT bytes at least); returns the bytes used, 0
 * when a string is too long for its field or the type is not an intent. Pure. */
size_t ipc_encode_intent(const struct ipc_intent *in, uint8_t *buf, size_t size);
/* Decodes one whole intent message (header and payload, exactly len bytes). The privileged
 * process's decoder: refuses anything but what ipc_encode_intent() makes. Pure. */
ipc_code ipc_decode_intent(const uint8_t *msg, size_t len, struct ipc_intent *out,
                           struct ipc_err *err);

/* Encodes a reply (header included) into a heap buffer (*out, caller frees); returns its length, 0
 * when out of memory or the body is over IPC_MAX_REPLY. Pure. */
size_t ipc_encode_reply(const struct ipc_reply *r, uint8_t **out);
/* Decodes a whole reply message (from ipc_read()) into out; out->body is a heap copy (free with
 * ipc_reply_clear). Pure. */
ipc_code ipc_decode_reply(const uint8_t *msg, size_t len, struct ipc_reply *out,
                          struct ipc_err *err);
void ipc_reply_clear(struct ipc_reply *r);

/* Encodes a header. */
void ipc_put_header(uint8_t *buf, enum ipc_type type, uint32_t id, uint32_t len);

/* Reads one message, header and payload together, into *msg (heap, caller frees) of *len bytes.
 * The header is checked (version, reserved bytes, payload length <= max) before the payload is
 * read. *type and *id get the header's. IPC_E_EOF when the channel closed before a header. Blocks.
 */
ipc_code ipc_read(int fd, uint32_t max, uint8_t **msg, size_t *len, uint8_t *type, uint32_t *id,
                  struct ipc_err *err);
/* Writes len bytes whole (EINTR and short writes retried; no SIGPIPE). Callers serialize. */
ipc_code ipc_write(int fd, const uint8_t *buf, size_t len);

#endif
