/* svc_valid.c: field validation. */
#include "svc_valid.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

long svc_utf8_chars(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    long n = 0;

    for (size_t i = 0; i < len; n++) {
        unsigned c = p[i];
        size_t k;
        unsigned cp;
        if (c == 0)
            return -1;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return -1;
        }
        if (i + k >= len)
            return -1;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (p[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        i += k + 1;
    }
    return n;
}

static bool bad(struct svc_reply *rep, const char *key, const char *why)
{
    svc_reply_error(rep, 400, "invalid_field", "%s: %s", key, why);
    return false;
}

static bool controls_ok(const char *s, enum svc_text_rule rule)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == 0x7f || (c < 0x20 && !(rule == SVC_TEXT_MULTILINE && (c == '\n' || c == '\t'))))
            return false;
    }
    return true;
}

bool svc_valid_text(json_t *obj, const char *key, bool required, long min, long max,
                    enum svc_text_rule rule, const char **out, struct svc_reply *rep)
{
    json_t *v = json_object_get(obj, key);
    char why[96];

    if (!v)
        return required ? bad(rep, key, "is required") : true;
    if (!json_is_string(v))
        return bad(rep, key, "must be a string");
    long n = svc_utf8_chars(json_string_value(v), json_string_length(v));
    if (n < 0)
        return bad(rep, key, "must be valid UTF-8 without NUL");
    if (n < min || n > max) {
        snprintf(why, sizeof(why), "must be %ld to %ld characters long", min, max);
        return bad(rep, key, why);
    }
    if (!controls_ok(json_string_value(v), rule))
        return bad(rep, key, "must not hold control characters");
    *out = json_string_value(v);
    return true;
}

bool svc_valid_int(json_t *obj, const char *key, bool required, long long min, long long max,
                   long long *out, struct svc_reply *rep)
{
    json_t *v = json_object_get(obj, key);
    char why[96];

    if (!v)
        return required ? bad(rep, key, "is required") : true;
    if (!json_is_integer(v))
        return bad(rep, key, "must be an integer");
    long long i = json_integer_value(v);
    if (i < min || i > max) {
        snprintf(why, sizeof(why), "must be between %lld and %lld", min, max);
        return bad(rep, key, why);
    }
    *out = i;
    return true;
}

bool svc_valid_number(json_t *obj, const char *key, bool required, double min, double max,
                      double *out, struct svc_reply *rep)
{
    json_t *v = json_object_get(obj, key);
    char why[96];

    if (!v)
        return required ? bad(rep, key, "is required") : true;
    if (!json_is_number(v))
        return bad(rep, key, "must be a number");
    double d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max) {
        snprintf(why, sizeof(why), "must be between %g and %g", min, max);
        return bad(rep, key, why);
    }
    *out = d;
    return true;
}

bool svc_valid_keys(json_t *obj, const char *const *allowed, struct svc_reply *rep)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v)
    {
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(allowed[i], key) == 0;
        if (!known) {
            char q[80];
            snprintf(q, sizeof(q), "%.64s", key);
            return bad(rep, svc_utf8_chars(q, strlen(q)) < 0 ? "(a field)" : q,
                       "is not a known field");
        }
    }
    return true;
}

bool svc_parse_ll(const char *s, long long *out)
{
    char *end;

    if (!s || !*s || strlen(s) > 20 || !(*s == '-' || (*s >= '0' && *s <= '9')))
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

bool svc_parse_double(const char *s, double *out)
{
    char *end;

    if (!s || !*s || strlen(s) > 32)
        return false;
    for (const char *p = s; *p; p++) {
        if (!strchr("0123456789+-.eE", *p))
            return false; /* no inf, nan, hex floats or spaces */
    }
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

bool svc_parse_id(const char *s, long long *out)
{
    long long v;

    if (!s || *s == '-' || *s == '+' || (s[0] == '0' && s[1]) || !svc_parse_ll(s, &v))
        return false;
    if (v < 1 || v > (1LL << 53))
        return false;
    *out = v;
    return true;
}

bool svc_query_int(const struct svc_req *req, const char *key, long long def, long long min,
                   long long max, long long *out, struct svc_reply *rep)
{
    const char *s = svc_req_query(req, key);
    char why[96];
    long long v;

    if (!s) {
        *out = def;
        return true;
    }
    snprintf(why, sizeof(why), "must be an integer between %lld and %lld", min, max);
    if (!svc_parse_ll(s, &v) || v < min || v > max)
        return bad(rep, key, why);
    *out = v;
    return true;
}

bool svc_query_double(const struct svc_req *req, const char *key, bool required, double def,
                      double min, double max, double *out, struct svc_reply *rep)
{
    const char *s = svc_req_query(req, key);
    char why[96];
    double v;

    if (!s) {
        if (required)
            return bad(rep, key, "is required");
        *out = def;
        return true;
    }
    snprintf(why, sizeof(why), "must be a number between %g and %g", min, max);
    if (!svc_parse_double(s, &v) || v < min || v > max)
        return bad(rep, key, why);
    *out = v;
    return true;
}

bool svc_query_page(const struct svc_req *req, long long *limit, long long *offset,
                    struct svc_reply *rep)
{
    return svc_query_int(req, "limit", 20, 1, 100, limit, rep) &&
           svc_query_int(req, "offset", 0, 0, 100000, offset, rep);
}
