/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Logging for the daemon, the CLI and the emulator.
 *
 * log_*() write one line to stderr (or to a handler that a program installs, e.g. the CLI's
 * progress display). With log_set_syslog_prefix(true) every line starts with "<N>" so that
 * journald, reading a service's stderr, keeps the priority.
 *
 * The *_errno() variants take an errno value (sign ignored), make "%m" print it and return
 * it negated, so that an error path is a single line:
 *         return log_error_errno(r, "Failed to open %s: %m", path);
 */

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

#include "util/macro.h"

typedef void (*log_handler_t)(int level, const char *line, void *userdata);

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_syslog_prefix(bool on);
void log_set_ident(const char *ident); /* "stdfuctl: " before each line, NULL for none */
void log_set_handler(log_handler_t handler, void *userdata);

int log_internal(int level, int error, const char *format, ...) _printf_(3, 4);
int log_internalv(int level, int error, const char *format, va_list ap) _printf_(3, 0);

#define log_full_errno(level, error, ...)                                          \
    ({                                                                             \
        int _level_ = (level), _e_ = (error);                                      \
        _e_ = _e_ < 0 ? -_e_ : _e_;                                                \
        _level_ <= log_get_max_level() ? log_internal(_level_, _e_, __VA_ARGS__) \
                                       : -_e_;                                     \
    })
#define log_full(level, ...) ((void) log_full_errno((level), 0, __VA_ARGS__))

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, error, __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, error, __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, error, __VA_ARGS__)

/* For "out of memory" paths: logs and returns -ENOMEM. */
#define log_oom() log_full_errno(LOG_ERR, ENOMEM, "Out of memory.")
