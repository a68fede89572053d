/* prom.c: Prometheus alerts API client (libcurl + jansson). */
#include "prom.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define MAX_REPLY (4u * 1024 * 1024)

static bool label_is(const json_t *labels, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(labels, key));
    return v && want && strcmp(v, want) == 0;
}

static bool matches(const json_t *alert, const struct prom_match *m)
{
    const json_t *labels = json_object_get(alert, "labels");
    bool container = false;

    if (!label_is(alert, "state", "firing") || !json_is_object(labels))
        return false;
    for (size_t i = 0; i < m->n_container_labels && !container; i++)
        container = label_is(labels, m->container_labels[i], m->container);
    if (!container)
        return false;
    if (json_object_get(labels, "action"))
        return label_is(labels, "action", m->action);
    return label_is(labels, "alertname", m->alertname);
}

prom_code prom_alerts_firing(const char *body, size_t len, const struct prom_match *m, bool *firing,
                             struct prom_err *err)
{
    json_error_t jerr;
    const json_t *a;
    size_t i;

    if (!m->container || !*m->container) {
        ERR_SET(err, PROM_E_INVALID, "empty container name");
        return PROM_E_INVALID;
    }
    json_t *root = json_loadb(body, len, 0, &jerr);
    const json_t *alerts = json_object_get(json_object_get(root, "data"), "alerts");
    if (!root || !label_is(root, "status", "success") || !json_is_array(alerts)) {
        ERR_SET(err, PROM_E_MALFORMED, "prometheus alerts reply: %s",
                root ? "no data.alerts array" : jerr.text);
        json_decref(root);
        return PROM_E_MALFORMED;
    }
    *firing = false;
    json_array_foreach(alerts, i, a)
    {
        if (matches(a, m)) {
            *firing = true;
            break;
        }
    }
    json_decref(root);
    return PROM_OK;
}

struct sink {
    char *buf;
    size_t len;
    bool toobig;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;

    if (s->len + n > MAX_REPLY) {
        s->toobig = true;
        return 0;
    }
    char *nb = realloc(s->buf, s->len + n + 1);
    if (!nb)
        return 0;
    memcpy(nb + s->len, data, n);
    s->buf = nb;
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

prom_code prom_query_firing(const char *base_url, long timeout_ms, const struct prom_match *m,
                            bool *firing, struct prom_err *err)
{
    char url[512];
    struct sink s = {0};
    long status = 0;
    prom_code rc = PROM_OK;

    if (!base_url || !*base_url) {
        ERR_SET(err, PROM_E_INVALID, "no prometheus URL");
        return PROM_E_INVALID;
    }
    size_t bl = strlen(base_url);
    snprintf(url, sizeof(url), "%.*s/api/v1/alerts",
             (int)(bl && base_url[bl - 1] == '/' ? bl - 1 : bl), base_url);
    CURL *c = curl_easy_init();
    if (!c) {
        ERR_SET(err, PROM_E_NOMEM, "curl_easy_init failed");
        return PROM_E_NOMEM;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        ERR_SET(err, PROM_E_TRANSPORT, "GET %.200s: %s", url,
                s.toobig ? "reply too large" : curl_easy_strerror(cc));
        rc = PROM_E_TRANSPORT;
    } else if (status != 200) {
        ERR_SET(err, PROM_E_HTTP, "GET %.200s: HTTP %ld", url, status);
        rc = PROM_E_HTTP;
    } else {
        rc = prom_alerts_firing(s.buf ? s.buf : "", s.len, m, firing, err);
    }
    free(s.buf);
    return rc;
}
