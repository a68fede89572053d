/* docker_transport.c: one HTTP request to the daemon over libcurl (Unix socket or TCP), with a
 * bounded reply buffer and libcurl failures mapped to docker_code. */
#include "docker_internal.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sink {
    char *buf;
    size_t len;
    size_t cap;
    size_t max;
    bool toobig;
    char api_version[16];
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;

    if (s->len + n > s->max) {
        s->toobig = true;
        return 0;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        char *p;

        while (cap < s->len + n + 1)
            cap *= 2;
        p = realloc(s->buf, cap);
        if (!p)
            return 0;
        s->buf = p;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    static const char name[] = "Api-Version:";
    size_t i = sizeof(name) - 1;
    size_t o = 0;

    if (n > i && strncasecmp(data, name, i) == 0) {
        while (i < n && data[i] == ' ')
            i++;
        while (i < n && o + 1 < sizeof(s->api_version) && data[i] != '\r' && data[i] != '\n')
            s->api_version[o++] = data[i++];
        s->api_version[o] = '\0';
    }
    return n;
}

void *docker_easy_new(const struct docker_client *c, const char *path, long timeout_ms)
{
    char url[sizeof(c->ep.base_url) + DOCKER_PATH_MAX];
    CURL *h = curl_easy_init();

    if (!h)
        return NULL;
    snprintf(url, sizeof(url), "%s%s", c->ep.base_url, path);
    if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK) {
        curl_easy_cleanup(h);
        return NULL;
    }
    if (c->ep.socket_path[0])
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->ep.socket_path);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    if (timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "trip-msa-docker-client");
    return h;
}

docker_code docker_curl_error(int curl_code, const char *what, const char *errbuf,
                              struct docker_err *err)
{
    const char *why = errbuf && errbuf[0] ? errbuf : curl_easy_strerror((CURLcode)curl_code);

    switch (curl_code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return docker_err_set(err, DOCKER_E_UNREACHABLE, 0, "%s: daemon unreachable: %s", what,
                              why);
    case CURLE_OPERATION_TIMEDOUT:
        return docker_err_set(err, DOCKER_E_TIMEOUT, 0, "%s: %s", what, why);
    default:
        return docker_err_set(err, DOCKER_E_TRANSPORT, 0, "%s: %s", what, why);
    }
}

void docker_reply_free(struct docker_reply *rep)
{
    if (!rep)
        return;
    free(rep->body);
    rep->body = NULL;
    rep->len = 0;
}

/* Adds the method and body to h; returns the header list to free, or NULL. */
static struct curl_slist *set_method(CURL *h, const struct docker_request *req)
{
    struct curl_slist *hdrs = NULL;

    if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(req->body ? strlen(req->body) : 0));
        if (req->body)
            hdrs = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    }
    return hdrs;
}

docker_code docker_http(struct docker_client *c, const struct docker_request *req,
                        struct docker_reply *rep, struct docker_err *err)
{
    struct sink s = {.max = c->max_reply};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs;
    docker_code code = DOCKER_OK;
    CURLcode rc;
    CURL *h;

    memset(rep, 0, sizeof(*rep));
    h = docker_easy_new(c, req->path, req->timeout_ms);
    if (!h)
        return docker_err_set(err, DOCKER_E_NOMEM, 0, "%s: cannot create request", req->what);
    hdrs = set_method(h, req);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
    rc = curl_easy_perform(h);
    if (rc == CURLE_WRITE_ERROR && s.toobig)
        code = docker_err_set(err, DOCKER_E_TOOBIG, 0, "%s: reply larger than %zu bytes",
                              req->what, c->max_reply);
    else if (rc == CURLE_WRITE_ERROR)
        code = docker_err_set(err, DOCKER_E_NOMEM, 0, "%s: out of memory for the reply",
                              req->what);
    else if (rc != CURLE_OK)
        code = docker_curl_error((int)rc, req->what, errbuf, err);
    if (code == DOCKER_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rep->status);
        rep->body = s.buf;
        rep->len = s.len;
        snprintf(rep->api_version, sizeof(rep->api_version), "%s", s.api_version);
        s.buf = NULL;
    }
    free(s.buf);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return code;
}
