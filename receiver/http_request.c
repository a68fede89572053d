/* http_request.c: what every request shares: queuing replies, auth and headers, routing, the
 * constant-time secret check and base64. */
#include "http_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ui.h"
#include "utf8.h"

int http_secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t n = la > lb ? la : lb;
    unsigned char diff = (unsigned char)(la != lb);

    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < la ? (unsigned char)a[i] : 0;
        unsigned char y = i < lb ? (unsigned char)b[i] : 0;
        diff |= (unsigned char)(x ^ y);
    }
    return diff == 0;
}

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int http_base64_decode(const char *in, char *out, size_t size)
{
    size_t n = 0, len = strlen(in);
    uint32_t acc = 0;
    int bits = 0;

    while (len && in[len - 1] == '=')
        len--;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= size)
                return -1;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (size == 0)
        return -1;
    out[n] = '\0';
    return (int)n;
}

enum MHD_Result http_queue(struct req *r, struct MHD_Connection *c, int status, const char *type,
                           const char *body, const char *const *headers)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body, /* copied */
                                        MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    for (size_t i = 0; headers && headers[i]; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    ret = MHD_queue_response(c, (unsigned int)status, resp);
    MHD_destroy_response(resp);
    r->status = status;
    r->replied = true;
    return ret;
}

enum MHD_Result http_queue_json(struct req *r, struct MHD_Connection *c, int status,
                                const char *body)
{
    return http_queue(r, c, status, "application/json", body, NULL);
}

char *http_error_json(int status, const char *msg)
{
    char m[512];
    json_t *o;
    char *text;

    snprintf(m, sizeof(m), "%s", msg);
    o = json_pack("{s:s, s:i}", "error", utf8_trim(m), "status", status);
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

/* {"error": msg} */
enum MHD_Result http_queue_error(struct req *r, struct MHD_Connection *c, int status,
                                 const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char *text = http_error_json(status, msg);
    enum MHD_Result ret = http_queue_json(r, c, status, text ? text : "{}");
    free(text);
    return ret;
}

/* 503 for a request on a connection accepted beyond --max-connections; the connection closes. */
enum MHD_Result http_queue_over(struct req *r, struct MHD_Connection *c)
{
    static const char *const headers[] = {MHD_HTTP_HEADER_CONNECTION, "close",
                                          MHD_HTTP_HEADER_RETRY_AFTER, "1", NULL};
    char body[160];

    snprintf(body, sizeof(body),
             "{\"error\":\"too many connections (--max-connections %" PRId64 "); retry later\","
             "\"status\":503}",
             r->h->cfg->max_connections);
    return http_queue(r, c, 503, "application/json", body, headers);
}

bool http_auth_configured(const struct config *cfg)
{
    return cfg->token[0] || cfg->basic_user[0];
}

bool http_authorized(const struct config *cfg, struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

    if (!http_auth_configured(cfg))
        return true;
    if (!a)
        return false;
    if (cfg->token[0] && strncasecmp(a, "Bearer ", 7) == 0) {
        const char *t = a + 7;
        while (*t == ' ')
            t++;
        return http_secret_equal(t, cfg->token);
    }
    if (cfg->basic_user[0] && strncasecmp(a, "Basic ", 6) == 0) {
        char want[512], got[512];
        snprintf(want, sizeof(want), "%s:%s", cfg->basic_user, cfg->basic_password);
        if (http_base64_decode(a + 6, got, sizeof(got)) < 0)
            return false;
        return http_secret_equal(got, want);
    }
    return false;
}

enum MHD_Result http_queue_unauthorized(struct req *r, struct MHD_Connection *c)
{
    const struct config *cfg = r->h->cfg;
    const char *bearer = "Bearer realm=\"" REALM "\"";
    const char *basic = "Basic realm=\"" REALM "\", charset=\"UTF-8\"";
    const char *headers[5] = {NULL};
    size_t n = 0;

    if (cfg->token[0]) {
        headers[n++] = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
        headers[n++] = bearer;
    }
    if (cfg->basic_user[0]) {
        headers[n++] = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
        headers[n++] = basic;
    }
    return http_queue(
        r, c, 401, "application/json",
        "{\"error\":\"authentication required (Authorization: Bearer or Basic)\",\"status\":401}",
        headers);
}

bool http_json_content_type(struct MHD_Connection *c)
{
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

    if (!t || strncasecmp(t, "application/json", 16) != 0)
        return false;
    return t[16] == '\0' || t[16] == ';' || t[16] == ' ';
}

void http_remote_of(struct MHD_Connection *c, char *buf, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[INET6_ADDRSTRLEN] = "-";

    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, host,
                      sizeof(host));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, host,
                      sizeof(host));
    }
    snprintf(buf, size, "%s", host);
}

/* Docker names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, ids are hex; at most 128 bytes. */
bool http_valid_name(const char *s, size_t len)
{
    if (len == 0 || len > 128 || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '_' && ch != '.' && ch != '-')
            return false;
    }
    return true;
}

/* Splits url; name gets the container for /api/v1/containers/{name}[/verb]. */
enum route http_route_of(const char *url, char *name, size_t size)
{
    static const char prefix[] = "/api/v1/containers";
    size_t pl = sizeof(prefix) - 1;

    name[0] = '\0';
    if (ui_is_path(url))
        return R_UI;
    if (strcmp(url, "/api/v1/actions") == 0)
        return R_ACTIONS;
    if (strcmp(url, "/healthz") == 0)
        return R_HEALTHZ;
    if (strcmp(url, "/readyz") == 0)
        return R_READYZ;
    if (strcmp(url, "/metrics") == 0)
        return R_METRICS;
    if (strcmp(url, "/webhook") == 0)
        return R_WEBHOOK;
    if (strncmp(url, prefix, pl) != 0)
        return R_NONE;
    url += pl;
    if (*url == '\0' || strcmp(url, "/") == 0)
        return R_LIST;
    if (*url != '/')
        return R_NONE;
    url++;
    const char *slash = strchr(url, '/');
    size_t len = slash ? (size_t)(slash - url) : strlen(url);
    if (!http_valid_name(url, len) || len >= size)
        return R_BADNAME;
    memcpy(name, url, len);
    name[len] = '\0';
    if (!slash)
        return R_SHOW;
    if (strcmp(slash, "/scale") == 0)
        return R_SCALE;
    if (strcmp(slash, "/restart") == 0)
        return R_RESTART;
    if (strcmp(slash, "/maintenance") == 0)
        return R_MAINTENANCE;
    return R_NONE;
}

static const char *const route_names[R_N] = {
    "not_found", "healthz", "readyz",    "metrics",     "webhook", "containers", "container",
    "scale",     "restart", "not_found", "maintenance", "ui",      "actions"};

const char *http_route_label(enum route rt)
{
    return route_names[rt];
}

const char *http_route_name(unsigned int i)
{
    return i < R_N ? route_names[i] : NULL;
}

bool http_route_is_post(enum route rt)
{
    return rt == R_WEBHOOK || rt == R_SCALE || rt == R_RESTART || rt == R_MAINTENANCE;
}
