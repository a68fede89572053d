/* svc_valid.h: validation of request fields (JSON bodies, query strings, path ids). Pure. */
#ifndef SVC_VALID_H
#define SVC_VALID_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "svc_route.h"

enum svc_text_rule {
    SVC_TEXT_LINE,      /* no control characters at all */
    SVC_TEXT_MULTILINE, /* \n and \t allowed, other control characters not */
};

/* Number of UTF-8 characters in s[0..len), or -1 when s is not valid UTF-8 (overlongs,
 * surrogates, > U+10FFFF and NUL are invalid). */
long svc_utf8_chars(const char *s, size_t len);

/*
 * Each getter reads obj[key]. When absent: fails if required, else leaves *out unchanged and
 * returns true. When present with the wrong type or outside the bounds: sets rep to 400
 * {"error":"invalid_field"} naming the field and returns false. Strings: length in characters.
 */
bool svc_valid_text(json_t *obj, const char *key, bool required, long min, long max,
                    enum svc_text_rule rule, const char **out, struct svc_reply *rep);
bool svc_valid_int(json_t *obj, const char *key, bool required, long long min, long long max,
                   long long *out, struct svc_reply *rep);
bool svc_valid_number(json_t *obj, const char *key, bool required, double min, double max,
                      double *out, struct svc_reply *rep);
/* Fails with 400 naming the first key of obj that is not in the NULL-terminated allowed list. */
bool svc_valid_keys(json_t *obj, const char *const *allowed, struct svc_reply *rep);

/* Query parameters: absent → def (or 400 when required); present → strict decimal in bounds. */
bool svc_query_int(const struct svc_req *req, const char *key, long long def, long long min,
                   long long max, long long *out, struct svc_reply *rep);
bool svc_query_double(const struct svc_req *req, const char *key, bool required, double def,
                      double min, double max, double *out, struct svc_reply *rep);

/* limit (1..100, default 20) and offset (0..100000, default 0) of a list request. */
bool svc_query_page(const struct svc_req *req, long long *limit, long long *offset,
                    struct svc_reply *rep);

/* Parses a positive decimal id (1..2^53) with nothing around it. */
bool svc_parse_id(const char *s, long long *out);

/* Parses a strict decimal integer / finite double occupying all of s. */
bool svc_parse_ll(const char *s, long long *out);
bool svc_parse_double(const char *s, double *out);

#endif
