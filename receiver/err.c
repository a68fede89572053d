/* err.c: the one setter of the receiver's typed errors (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

void err_format(char *msg, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
}
