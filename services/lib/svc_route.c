/* svc_route.c: route matching and reply bodies. */
#include "svc_route.h"

#include "svc_valid.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Matches one pattern against path; fills params. Pure. */
static bool match(const char *pattern, const char *path, struct svc_req *req)
{
    int np = 0;

    while (*pattern && *path) {
        if (pattern[0] == '{' && pattern[1] == '}') {
            size_t len = strcspn(path, "/");
            if (len == 0 || len >= SVC_PARAM_MAX || np >= SVC_MAX_PARAMS)
                return false;
            if (req) {
                memcpy(req->params[np], path, len);
                req->params[np][len] = '\0';
            }
            np++;
            path += len;
            pattern += 2;
            continue;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    if (*pattern || *path)
        return false;
    if (req)
        req->nparams = np;
    return true;
}

int svc_route_match(const struct svc_route *routes, size_t n, const char *method, const char *path,
                    struct svc_req *req, bool *wrong_method)
{
    *wrong_method = false;
    for (size_t i = 0; i < n; i++) {
        if (!match(routes[i].pattern, path, NULL))
            continue;
        if (strcmp(routes[i].method, method) != 0) {
            *wrong_method = true;
            continue;
        }
        match(routes[i].pattern, path, req);
        return (int)i;
    }
    return -1;
}

void svc_reply_json(struct svc_reply *rep, int status, json_t *j)
{
    svc_reply_free(rep);
    /* a body jansson could not build (out of memory, or bytes that are not UTF-8) is never
     * answered as a success with an empty body; 204 has none by definition */
    rep->status = j || status == 204 || status >= 500 ? status : 500;
    rep->json = j;
}

/* Replaces what would make msg invalid in JSON text (bytes of malformed UTF-8, such as the
 * client's bytes jansson quotes in its error, or a character cut by truncation) with '?'. */
static void make_utf8(char *msg)
{
    for (unsigned char *p = (unsigned char *)msg; *p;) {
        size_t k = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
        if (strnlen((char *)p, k) == k && svc_utf8_chars((char *)p, k) == 1) {
            p += k;
            continue;
        }
        *p++ = '?';
    }
}

void svc_reply_error(struct svc_reply *rep, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    make_utf8(msg);
    svc_reply_json(rep, status, json_pack("{s:s,s:s}", "error", code, "message", msg));
}

void svc_reply_free(struct svc_reply *rep)
{
    json_decref(rep->json);
    free(rep->text);
    rep->json = NULL;
    rep->text = NULL;
}

const char *svc_req_query(const struct svc_req *req, const char *key)
{
    for (int i = 0; i < req->nquery; i++) {
        if (strcmp(req->query_keys[i], key) == 0)
            return req->query_vals[i] ? req->query_vals[i] : "";
    }
    return NULL;
}

json_t *svc_req_json(const struct svc_req *req, struct svc_reply *rep)
{
    json_error_t jerr;

    if (!req->body || req->body_len == 0) {
        svc_reply_error(rep, 400, "invalid_json", "the request needs a JSON object body");
        return NULL;
    }
    json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        svc_reply_error(rep, 400, "invalid_json", "malformed JSON at line %d column %d: %s",
                        jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        svc_reply_error(rep, 400, "invalid_json", "the body must be a JSON object");
        return NULL;
    }
    return j;
}
