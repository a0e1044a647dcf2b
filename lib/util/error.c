/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int stdfu_error_setv(stdfu_error *err, int code, const char *format, va_list ap) {
    if (code > 0)
        code = -code;
    if (code == 0)
        code = -EIO;
    if (err) {
        int saved = errno;
        errno = -code; /* lets "%m" name the code */
        err->code = code;
        vsnprintf(err->message, sizeof err->message, format, ap);
        errno = saved;
    }
    return code;
}

int stdfu_error_set(stdfu_error *err, int code, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    int r = stdfu_error_setv(err, code, format, ap);
    va_end(ap);
    return r;
}

int stdfu_error_prefix(stdfu_error *err, const char *format, ...) {
    char prefix[256], old[sizeof err->message];
    va_list ap;

    if (!err)
        return -EIO;
    va_start(ap, format);
    vsnprintf(prefix, sizeof prefix, format, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    /* Truncation is fine: the start of the message is what matters. */
    size_t n = strnlen(prefix, sizeof prefix);
    n = MIN(n, sizeof err->message - 3);
    memcpy(err->message, prefix, n);
    memcpy(err->message + n, ": ", 2);
    size_t rest = sizeof err->message - n - 3;
    size_t m = MIN(strnlen(old, sizeof old), rest);
    memcpy(err->message + n + 2, old, m);
    err->message[n + 2 + m] = '\0';
    return err->code;
}

void stdfu_error_clear(stdfu_error *err) {
    if (err) {
        err->code = 0;
        err->message[0] = '\0';
    }
}
