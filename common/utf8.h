/* utf8.h: copying and cutting text without splitting a UTF-8 character (JSON needs valid UTF-8). */
#ifndef TRIP_UTF8_H
#define TRIP_UTF8_H

#include <stddef.h>

/* Length of the longest prefix of s[0..len) that is valid UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF). Pure. */
size_t utf8_valid_prefix(const char *s, size_t len);

/* Copies as much of src as fits in dst (size bytes, always NUL-terminated when size > 0), cut at a
 * character boundary; invalid bytes end the copy. NULL src copies "". Returns the bytes copied.
 * Pure. */
size_t utf8_copy(char *dst, size_t size, const char *src);

/* Shortens s in place to its longest valid UTF-8 prefix (after a snprintf "%.40s" or a cut at a
 * buffer's size split a character). Returns s. */
char *utf8_trim(char *s);

#endif
