/* fuzz_docker_events.c: the GET /events stream: docker_linebuf_feed() + docker_parse_event(), the
 * stream fed once whole and once in random chunk splits; both must see the same events, stop at the
 * same point and end with the same result, whatever the splits.
 * Input: 4 bytes seeding the chunk sizes, then the stream as the daemon sends it. */
#include "docker_internal.h"
#include "fuzz_common.h"

#define MAX_LINE 4096

/* What one pass saw. */
struct seen {
    uint64_t hash; /* FNV-1a over every event's fields, in order */
    size_t events;
    size_t malformed;
};

static void mix(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 1099511628211ull;
    }
}

static void mix_str(uint64_t *h, const char *s)
{
    mix(h, s, strlen(s) + 1);
}

static int on_event(const struct docker_event *ev, void *ud)
{
    struct seen *s = ud;

    FUZZ_CHECK(ev->type && ev->action && ev->id && ev->name && ev->attributes);
    mix_str(&s->hash, ev->type);
    mix_str(&s->hash, ev->action);
    mix_str(&s->hash, ev->id);
    mix_str(&s->hash, ev->name);
    mix(&s->hash, &ev->exit_code, sizeof(ev->exit_code));
    mix(&s->hash, &ev->time_nano, sizeof(ev->time_nano));
    for (size_t i = 0; i < ev->attributes->n; i++) {
        mix_str(&s->hash, ev->attributes->v[i].key);
        mix_str(&s->hash, ev->attributes->v[i].value);
    }
    s->events++;
    /* a consumer that has what it waited for stops the stream, as the engine's watcher does */
    return strcmp(ev->action, "destroy") == 0;
}

enum { LINE_STOP = 1, LINE_MALFORMED = 2 };

static int on_line(const char *line, size_t len, void *ud)
{
    struct seen *s = ud;
    struct docker_err err = {0};
    int stop = 0;

    FUZZ_CHECK(len > 0 && memchr(line, '\n', len) == NULL);
    if (docker_parse_event(line, len, on_event, s, &stop, &err) != DOCKER_OK) {
        FUZZ_CHECK(err.code != DOCKER_OK && FUZZ_TERMINATED(err.msg));
        s->malformed++;
        return LINE_MALFORMED;
    }
    return stop ? LINE_STOP : 0;
}

static int feed_whole(const char *data, size_t n, struct seen *s)
{
    struct docker_linebuf lb;
    int rc;

    docker_linebuf_init(&lb, MAX_LINE);
    rc = docker_linebuf_feed(&lb, data, n, on_line, s);
    docker_linebuf_free(&lb);
    return rc;
}

static int feed_split(const char *data, size_t n, uint32_t seed, struct seen *s)
{
    struct docker_linebuf lb;
    int rc = 0;

    docker_linebuf_init(&lb, MAX_LINE);
    while (n > 0 && rc == 0) {
        uint32_t r = fuzz_next(&seed);
        /* mostly tiny chunks (splitting lines and "\r\n"), sometimes large ones */
        size_t chunk = (r & 3) ? 1 + (r >> 8) % 8 : 1 + (r >> 8) % 512;

        if (chunk > n)
            chunk = n;
        rc = docker_linebuf_feed(&lb, data, chunk, on_line, s);
        data += chunk;
        n -= chunk;
    }
    docker_linebuf_free(&lb);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen whole = {.hash = 14695981039346656037ull};
    struct seen split = {.hash = 14695981039346656037ull};
    uint32_t seed;
    int rc_whole;
    int rc_split;

    if (size < 4)
        return 0;
    memcpy(&seed, data, 4);
    data += 4;
    size -= 4;
    rc_whole = feed_whole((const char *)data, size, &whole);
    rc_split = feed_split((const char *)data, size, seed, &split);
    FUZZ_CHECK(rc_whole == 0 || rc_whole == -1 || rc_whole == LINE_STOP ||
               rc_whole == LINE_MALFORMED);
    FUZZ_CHECK(rc_whole == rc_split);
    FUZZ_CHECK(whole.events == split.events && whole.malformed == split.malformed);
    FUZZ_CHECK(whole.hash == split.hash);
    FUZZ_CHECK(whole.malformed <= 1);
    return 0;
}
