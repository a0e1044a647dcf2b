/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* An error for the user: a negative errno for programs plus one sentence for people, e.g.
 * "element 2 at 0x08010000..0x08020fff ends past the end of flash (0x0801ffff)".
 *
 * Functions that can fail in ways a user must understand take a `stdfu_error *err` (may be
 * NULL) and return stdfu_error_set(err, -EINVAL, "...") — the negative errno — so that the
 * caller can both branch on the code and show the message. */

#include <stdarg.h>
#include <stddef.h>

#include "util/macro.h"

typedef struct stdfu_error {
    int code;          /* negative errno, 0 when unset */
    char message[512];
} stdfu_error;

int stdfu_error_set(stdfu_error *err, int code, const char *format, ...) _printf_(3, 4);
int stdfu_error_setv(stdfu_error *err, int code, const char *format, va_list ap) _printf_(3, 0);
/* Puts "context: " before an existing message, e.g. the file name. Returns err->code. */
int stdfu_error_prefix(stdfu_error *err, const char *format, ...) _printf_(2, 3);
void stdfu_error_clear(stdfu_error *err);
