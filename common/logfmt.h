/* logfmt.h: quoting one value of a logfmt line (key=value pairs) for every program's log. */
#ifndef TRIP_LOGFMT_H
#define TRIP_LOGFMT_H

#include <stddef.h>

/* Writes s into buf (size bytes, always NUL-terminated when size > 0) as one logfmt value and
 * returns buf: bare when it has no space, quote, '=', backslash, control or non-ASCII byte, else
 * in double quotes with \" \\ \n \t escaped, other control bytes, DEL, invalid UTF-8 and C1
 * controls (such as the 8-bit CSI) as \xNN, valid printable UTF-8 kept. NULL s is "" (quoted).
 * A value longer than buf is cut to fit. Pure, any thread. */
const char *logfmt_quote(char *buf, size_t size, const char *s);

#endif
