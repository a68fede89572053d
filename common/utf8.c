/* utf8.c: a strict UTF-8 validator (RFC 3629) and boundary-safe copies. */
#include "utf8.h"

#include <string.h>

/* Length of the valid sequence at s (at most n bytes available), or 0 when invalid or cut. */
static size_t seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (len > n)
        return 0;
    if (c == 0xe0)
        lo = 0xa0; /* overlong */
    else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    else if (c == 0xf0)
        lo = 0x90; /* overlong */
    else if (c == 0xf4)
        hi = 0x8f; /* past U+10FFFF */
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    return len;
}

size_t utf8_valid_prefix(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n = seq_len(p + i, len - i);
        if (n == 0)
            break;
        i += n;
    }
    return i;
}

size_t utf8_copy(char *dst, size_t size, const char *src)
{
    size_t n;

    if (size == 0)
        return 0;
    if (!src)
        src = "";
    n = strnlen(src, size - 1);
    n = utf8_valid_prefix(src, n);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

char *utf8_trim(char *s)
{
    s[utf8_valid_prefix(s, strlen(s))] = '\0';
    return s;
}
