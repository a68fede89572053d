/* err.h: the one setter of the receiver's typed errors: every module's `struct X_err { X_code code;
 * char msg[256]; }` is filled through ERR_SET, the first error wins. */
#ifndef TRIP_ERR_H
#define TRIP_ERR_H

#include <stddef.h>

/* vsnprintf into msg (size bytes). Any thread. */
void err_format(char *msg, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fills *err (a pointer to a struct X_err, may be NULL) with ecode and the printf-style message,
 * unless it is NULL or already holds an error (code != 0). Evaluates to ecode, so a failing call
 * can `return ERR_SET(err, X_E_..., "what: %s", why);`. err is evaluated more than once. */
#define ERR_SET(err, ecode, ...)                                                                   \
    ((err) && (err)->code == 0                                                                     \
         ? ((err)->code = (ecode), err_format((err)->msg, sizeof((err)->msg), __VA_ARGS__),        \
            (ecode))                                                                               \
         : (ecode))

#endif
