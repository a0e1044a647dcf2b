/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What main.c hands every command. A command is one file (cmd-NAME.c) with one entry point
 * and one line in main.c's table; it parses its own options (getopt_long, argv[0] is the
 * command name) and returns an exit code from exit-codes.h. */

#include <stdbool.h>

#include "exit-codes.h"

typedef struct stdfuctl_globals {
    int verbosity; /* 0 normal, 1 -v (debug log), -1 -q */
    bool no_pager;
} stdfuctl_globals;

typedef int (*stdfuctl_command_fn)(int argc, char **argv, const stdfuctl_globals *g);

int cmd_flash(int argc, char **argv, const stdfuctl_globals *g);
int cmd_list(int argc, char **argv, const stdfuctl_globals *g);

/* "0x1234" -> "12.34": bcdDevice the way lsusb shows it. buf >= 8 bytes. */
const char *stdfuctl_format_bcd(unsigned bcd, char *buf);
