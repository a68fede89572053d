/* logfmt.c: logfmt value quoting. */
#include "logfmt.h"

#include <stdio.h>
#include <string.h>

#include "utf8.h"

static int is_bare(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
            return 0;
    }
    return 1;
}

/* Bytes of the UTF-8 character at s when it is valid and printable (not a C1 control such as the
 * 8-bit CSI), else 0: such bytes are written as \xNN. */
static size_t utf8_char_len(const char *s)
{
    unsigned char c = (unsigned char)s[0];
    size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;

    if (!k || strnlen(s, k) < k || utf8_valid_prefix(s, k) != k)
        return 0;
    if (c == 0xc2 && (unsigned char)s[1] < 0xa0)
        return 0;
    return k;
}

const char *logfmt_quote(char *buf, size_t size, const char *s)
{
    size_t n = 0;

    if (size == 0)
        return buf;
    if (!s)
        s = "";
    if (is_bare(s)) {
        snprintf(buf, size, "%s", s);
        return buf;
    }
    buf[n++] = '"';
    for (; *s && n + 6 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c == '\n') {
            buf[n++] = '\\';
            buf[n++] = 'n';
        } else if (c == '\t') {
            buf[n++] = '\\';
            buf[n++] = 't';
        } else if (c < ' ' || c == 0x7f || c >= 0x80) {
            size_t k = c >= 0x80 ? utf8_char_len(s) : 0;
            if (k && n + k + 2 < size) {
                memcpy(buf + n, s, k);
                n += k;
                s += k - 1;
            } else if (!k) {
                n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
            } else {
                break;
            }
        } else {
            buf[n++] = (char)c;
        }
    }
    if (n < size - 1)
        buf[n++] = '"';
    buf[n < size ? n : size - 1] = '\0';
    return buf;
}
