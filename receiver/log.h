/* log.h: one logfmt line per event on stderr (ts= level= msg= k=v ...). */
#ifndef TRIP_LOG_H
#define TRIP_LOG_H

#include <stdio.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Sets the most verbose level written (default info). Call before starting threads. */
void log_set_level(enum log_level level);
/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. Pure. */
int log_level_parse(const char *s);
/* Redirects output (default stderr; tests pass a memstream). NULL restores stderr. */
void log_set_stream(FILE *f);

/*
 * Writes `ts=<RFC 3339 UTC ms> level=<level> msg="<msg>" <fields>`, where fields is a printf format
 * of further `key=value` pairs. Every %s written right after `key=` is a value and is quoted here
 * as log_quote() does (a value the caller already passed through log_quote() is kept as is), so an
 * outside string (an alertname, a label, Docker's message) cannot add a field or a line; any
 * control byte left anywhere in the fields is written as \n or \xNN. `*` widths are not supported.
 * Lines are written whole (one fwrite under a lock): safe from any thread. Lines are cut at 2 KiB.
 */
void log_write(enum log_level level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(msg, ...) log_write(LOG_LEVEL_ERROR, msg, "" __VA_ARGS__)
#define log_warn(msg, ...) log_write(LOG_LEVEL_WARN, msg, "" __VA_ARGS__)
#define log_info(msg, ...) log_write(LOG_LEVEL_INFO, msg, "" __VA_ARGS__)
#define log_debug(msg, ...) log_write(LOG_LEVEL_DEBUG, msg, "" __VA_ARGS__)

/* logfmt_quote() (common/logfmt.h): s into buf as a logfmt value, bare when it is a plain token,
 * else double-quoted with \" \\ \n \t and \xNN escapes. Truncates to fit. Returns buf. Pure. */
const char *log_quote(char *buf, size_t size, const char *s);

#endif
