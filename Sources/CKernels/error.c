/* Per-thread error text: callers on different threads (the Swift side runs
 * kernels on a pool) each see the message of their own last failure. */
#include "internal.h"
#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[512];

const char *wd_last_error(void) { return last_error; }

int wd_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}
