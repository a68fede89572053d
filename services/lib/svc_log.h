/* svc_log.h: one logfmt line per event on stderr (ts= level= svc= msg= k=v ...). */
#ifndef SVC_LOG_H
#define SVC_LOG_H

#include <stddef.h>

enum svc_log_level { SVC_LOG_ERROR, SVC_LOG_WARN, SVC_LOG_INFO, SVC_LOG_DEBUG };

/* Sets the service name written as svc= and the most verbose level. Call before starting threads.
 */
void svc_log_init(const char *service, enum svc_log_level level);
/* Parses "error", "warn", "info", "debug"; -1 for anything else. Pure. */
int svc_log_level_parse(const char *s);

/* Writes one whole line (safe from any thread; cut at 2 KiB). Values given with %s that may hold
 * spaces or quotes must go through svc_log_quote(). */
void svc_log_write(enum svc_log_level level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define svc_log_error(msg, ...) svc_log_write(SVC_LOG_ERROR, msg, "" __VA_ARGS__)
#define svc_log_warn(msg, ...) svc_log_write(SVC_LOG_WARN, msg, "" __VA_ARGS__)
#define svc_log_info(msg, ...) svc_log_write(SVC_LOG_INFO, msg, "" __VA_ARGS__)
#define svc_log_debug(msg, ...) svc_log_write(SVC_LOG_DEBUG, msg, "" __VA_ARGS__)

/* logfmt_quote() (common/logfmt.h), the receiver's quoting: s into buf as a logfmt value, bare
 * when a plain token, else quoted and escaped. Truncates to fit. Returns buf. Pure. */
const char *svc_log_quote(char *buf, size_t size, const char *s);

#endif
