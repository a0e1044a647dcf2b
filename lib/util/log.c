/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int max_level = LOG_INFO;
static bool syslog_prefix;
static const char *ident;
static log_handler_t handler;
static void *handler_userdata;

void log_set_max_level(int level) {
    max_level = level;
}

int log_get_max_level(void) {
    return max_level;
}

void log_set_syslog_prefix(bool on) {
    syslog_prefix = on;
}

void log_set_ident(const char *s) {
    ident = s;
}

void log_set_handler(log_handler_t h, void *userdata) {
    handler = h;
    handler_userdata = userdata;
}

int log_internalv(int level, int error, const char *format, va_list ap) {
    char line[2048];
    int saved_errno = errno;
    size_t n = 0;

    if (syslog_prefix)
        n += (size_t) snprintf(line, sizeof line, "<%d>", level & LOG_PRIMASK);
    if (ident && n < sizeof line)
        n += (size_t) snprintf(line + n, sizeof line - n, "%s", ident);

    /* "%m" prints errno: make it the error we were given. */
    errno = error > 0 ? error : saved_errno;
    if (n < sizeof line)
        n += (size_t) vsnprintf(line + n, sizeof line - n, format, ap);
    n = MIN(n, sizeof line - 2);
    line[n] = '\0';

    if (handler)
        handler(level, line, handler_userdata);
    else {
        line[n++] = '\n';
        /* One write per line, so lines of concurrent threads do not interleave. */
        (void) !write(STDERR_FILENO, line, n);
    }

    errno = saved_errno;
    return error > 0 ? -error : (error < 0 ? error : -EIO);
}

int log_internal(int level, int error, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    int r = log_internalv(level, error, format, ap);
    va_end(ap);
    return r;
}
