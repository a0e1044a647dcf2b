/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What main.c hands every command. A command is one file (cmd-NAME.c) with one entry point
 * and one line in main.c's table; it parses its own options (getopt_long, argv[0] is the
 * command name) and returns an exit code from exit-codes.h. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "exit-codes.h"

typedef struct stdfuctl_globals {
    int verbosity; /* 0 normal, 1 -v (debug log), -1 -q */
    bool no_pager;
} stdfuctl_globals;

typedef int (*stdfuctl_command_fn)(int argc, char **argv, const stdfuctl_globals *g);

int cmd_flash(int argc, char **argv, const stdfuctl_globals *g);
int cmd_list(int argc, char **argv, const stdfuctl_globals *g);
int cmd_read(int argc, char **argv, const stdfuctl_globals *g);
int cmd_erase(int argc, char **argv, const stdfuctl_globals *g);

/* ---- options (options.c) ---------------------------------------------------------------- */

typedef void (*stdfuctl_help_fn)(FILE *f);

/* getopt_long() codes and struct option entries of the options the commands share. */
enum { STDFUCTL_ARG_BUS = 0x1000, STDFUCTL_ARG_JSON, STDFUCTL_ARG_ADDRESS };
#define STDFUCTL_OPTION_HELP { "help", no_argument, NULL, 'h' }
#define STDFUCTL_OPTION_BUS { "bus", required_argument, NULL, STDFUCTL_ARG_BUS }
#define STDFUCTL_OPTION_JSON { "json", no_argument, NULL, STDFUCTL_ARG_JSON }
#define STDFUCTL_OPTION_ADDRESS { "address", required_argument, NULL, STDFUCTL_ARG_ADDRESS }

/* The end of the --help text of the commands that talk to stdfud: --bus, -h, exit codes. */
#define STDFUCTL_HELP_BUS_AND_HELP                                                           \
    "      --bus system|session|ADDRESS\n"                                                    \
    "                 the D-Bus where stdfud runs (default: system)\n"                        \
    "  -h, --help     show this help\n"                                                      \
    "\n" STDFU_EXIT_CODES_HELP

/* "stdfuctl CMD: MESSAGE" and "Try 'stdfuctl CMD --help'." on stderr; returns
 * STDFU_EXIT_USAGE. */
int stdfuctl_usage_error(const char *command, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Handles one getopt_long() result that no command treats on its own: -h (prints help),
 * --bus, --json (sets *ret_json), or an option getopt refused. Returns -1 when the command
 * goes on, else the exit code to return now (0 after --help). */
int stdfuctl_common_option(int c, const char *command, stdfuctl_help_fn help, bool *ret_json);

/* --address ADDR (the load address of a .bin file): -1 with *ret set, or the usage error's
 * exit code. */
int stdfuctl_parse_address(const char *command, const char *arg, uint32_t *ret);

/* The whole option loop of a command whose only options are -h and those in which. Same
 * returns; on -1 the command's arguments start at optind. ret_json may be NULL without
 * STDFUCTL_OPT_JSON. */
enum { STDFUCTL_OPT_BUS = 1 << 0, STDFUCTL_OPT_JSON = 1 << 1 };
int stdfuctl_parse_options(int argc, char **argv, const char *command, stdfuctl_help_fn help,
                           unsigned which, bool *ret_json);

/* ---- formatting (format.c) ----------------------------------------------------------------- */

/* "0x1234" -> "12.34": bcdDevice the way lsusb shows it. buf >= 8 bytes. */
const char *stdfuctl_format_bcd(unsigned bcd, char *buf);
/* "0x0102" -> "1.2": bcdDevice as the version stdfud and the manifest write it (MAJOR.MINOR,
 * two BCD digits each); a value that is not BCD as stdfuctl_format_bcd(). buf >= 8 bytes. */
const char *stdfuctl_format_version(unsigned bcd, char *buf);

/* The terminal: TERM set and not "dumb" (it can move the cursor and show colours). */
bool stdfuctl_terminal_is_smart(void);
/* Colours on fd: a terminal that can show them, and no NO_COLOR. */
bool stdfuctl_use_colors(int fd);
/* The SGR sequence for a Device.State (NULL: none); "\033[0m" ends it. */
const char *stdfuctl_state_color(const char *state);
/* Where a cell is cut: "\u2026" in a UTF-8 locale, else "~"; one column either way. */
const char *stdfuctl_ellipsis(void);
