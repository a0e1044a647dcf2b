/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What `stdfuctl read` and `erase` share: the bootloader of the device on a port, entered and
 * left as `flash` does (lib/update's access), with the same progress display and Ctrl-C. */

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "dfuse/dfuse.h"
#include "progress.h"
#include "stdfuctl.h"
#include "update/update.h"

typedef struct cli_access_args {
    const char *port;
    uint8_t alt;
    stdfu_enter_method enter;
    bool leave;
    bool json;
    bool quiet;  /* -q: no progress */
    /* --address and --size (read, erase): a range of the alt's memory */
    bool has_address, has_size;
    uint32_t address, size;
} cli_access_args;

typedef struct cli_access {
    const char *command;
    stdfu_usb_watch *watch;
    stdfu_update_options o;
    stdfu_update_result res;
    stdfu_update_access *a;
    progress prog;
} cli_access;

/* Options every such command takes: --port, --alt, --enter, --no-leave, --address, --size,
 * --json, -h. */
#define CLI_ACCESS_HELP                                                                      \
    "      --port PATH          the device on this USB port, e.g. 1-1.4 (required)\n"        \
    "      --alt N              alt setting (memory), default 0\n"                           \
    "      --enter METHOD       how the application enters the bootloader, as for flash\n"    \
    "      --no-leave           stay in the bootloader afterwards\n"

/* What a command adds to the shared options. */
typedef struct cli_access_command {
    const char *name;                /* "read" */
    const char *short_options;       /* beside -h, e.g. "o:" */
    const struct option *options;    /* beside the shared ones, ending in {} */
    stdfuctl_help_fn help;
    /* One getopt result that is none of the shared options: -1 handled (or not one of the
     * command's: *handled false), else an exit code. */
    int (*option)(int c, void *userdata, bool *handled);
    /* After the options, before --port is checked: -1, or a usage error's exit code. */
    int (*check)(const cli_access_args *a, void *userdata);
} cli_access_command;

/* Parses argv into *a (quiet with -q, from verbosity) and the command's own state
 * (userdata): -1, or the exit code to return (--help, a usage error). */
int cli_access_parse(const cli_access_command *cmd, int argc, char **argv, int verbosity,
                     cli_access_args *a, void *userdata);

/* Finds the device, enters the bootloader, opens args->alt: 0 with *ret_session, else the
 * exit code (after printing why). */
int cli_access_begin(cli_access *c, const char *command, const cli_access_args *args,
                     stdfu_dfuse **ret_session);
const stdfu_layout *cli_access_layout(cli_access *c);
/* Ends it (leaving unless --no-leave or stay). r: the command's own result (0, or negative
 * with err saying why; -EACCES from the ROM is named as read protection). Returns the exit
 * code, after printing the error (if any). */
int cli_access_end(cli_access *c, bool stay, int r, const stdfu_error *err);

/* The exit status (exit-codes.h) that tells how an update cycle, or an access, ended. */
int cli_exit_of_update(const stdfu_update_result *res);

/* lib/update reports and stdfuctl logs: a warning always, each step with -v; the progress
 * display (a progress_state, as userdata) shows the steps and the bytes. */
void cli_update_event(const stdfu_update_event *ev, void *userdata);
