/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfuctl: dispatch to one command per file; global options come before the command. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "stdfuctl.h"
#include "util/config.h"
#include "util/log.h"
#include "util/macro.h"

typedef struct command {
    const char *name;
    stdfuctl_command_fn run;
    const char *summary;
} command;

/* Later commands (status, update, watch, cancel, reload, history) are one line each here. */
static const command commands[] = {
    { "flash", cmd_flash, "write a firmware file to a device and bring it back running it" },
    { "read", cmd_read, "read a device's memory into a file (.bin, .hex, .srec)" },
    { "erase", cmd_erase, "erase a device's memory, or sectors of it" },
    { "list", cmd_list, "show application and bootloader devices with their flash layout" },
    { "status", cmd_status, "show what stdfud knows of each device" },
    { "update", cmd_update, "ask stdfud to update devices (by the manifest or from a file)" },
    { "watch", cmd_watch, "follow stdfud's updates live until none is running" },
    { "cancel", cmd_cancel, "cancel a device's queued or running update" },
    { "reload", cmd_reload, "make stdfud reload its manifests" },
    { "history", cmd_history, "show stdfud's finished updates" },
};

static void help(FILE *f) {
    fprintf(f,
            "Usage: stdfuctl [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "Update the firmware of STM32 USB devices through their DfuSe ROM bootloader.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < ELEMENTSOF(commands); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "Global options:\n"
            "  -v, --verbose  log every step (debug messages) to standard error\n"
            "  -q, --quiet    print only errors and results\n"
            "      --bus system|session|ADDRESS\n"
            "                 the D-Bus where stdfud runs (default: system)\n"
            "  -h, --help     show this help; COMMAND --help shows a command's\n"
            "      --version  show the version\n"
            "\n" STDFU_EXIT_CODES_HELP
            "\nSee stdfuctl(1).\n");
}

static bool is_global_flag(const char *a) {
    return streq(a, "-v") || streq(a, "--verbose") || streq(a, "-q") || streq(a, "--quiet");
}

/* Options before or after the command: "stdfuctl status --json -q" and "stdfuctl -q --json
 * status" mean the same. The global flags (-v, -q) move before the command wherever they are;
 * the command's options given before it move after it. --bus is both, and stays where it is
 * (before the command it is the global one). Stops at "--". Fills out (argc + 1 entries). */
static int reorder_args(int argc, char **argv, char **out) {
    int n = 0, cmd = -1;
    char **before = out + argc; /* scratch: out has room for 2 * argc + 1 */
    int n_before = 0;

    out[n++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cmd < 0 && a[0] != '-') {
            cmd = i;
            continue;
        }
        if (cmd < 0 && streq(a, "--bus") && i + 1 < argc) {
            out[n++] = argv[i++];
            out[n++] = argv[i];
        } else if (cmd < 0 && (streq(a, "-h") || streq(a, "--help") || streq(a, "--version") ||
                               strncmp(a, "--bus=", 6) == 0 || is_global_flag(a)))
            out[n++] = argv[i];
        else if (cmd < 0)
            before[n_before++] = argv[i];
        else if (streq(a, "--"))
            break;
        else if (is_global_flag(a))
            out[n++] = argv[i];
    }
    if (cmd < 0) {
        for (int k = 0; k < n_before; k++)
            out[n++] = before[k];
        out[n] = NULL;
        return n;
    }
    out[n++] = argv[cmd];
    for (int k = 0; k < n_before; k++)
        out[n++] = before[k];
    bool dashdash = false;
    for (int i = cmd + 1; i < argc; i++) {
        dashdash = dashdash || streq(argv[i], "--");
        if (dashdash || !is_global_flag(argv[i]))
            out[n++] = argv[i];
    }
    out[n] = NULL;
    return n;
}

int main(int argc, char **argv) {
    static const struct option options[] = {
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "bus", required_argument, NULL, 'B' },
        {},
    };
    stdfuctl_globals g = {};
    int c;

    log_set_ident("stdfuctl: ");
    _cleanup_free_ char **args = calloc(2 * (size_t) argc + 1, sizeof *args);
    if (!args)
        return STDFU_EXIT_FAILURE;
    argc = reorder_args(argc, argv, args);
    argv = args;
    /* '+': stop at the command, its options are its own. */
    while ((c = getopt_long(argc, argv, "+vqh", options, NULL)) >= 0)
        switch (c) {
        case 'v':
            g.verbosity = 1;
            break;
        case 'q':
            g.verbosity = -1;
            break;
        case 'h':
            help(stdout);
            return STDFU_EXIT_OK;
        case 'V':
            printf("stdfuctl %s\n", STDFU_VERSION);
            return STDFU_EXIT_OK;
        case 'B':
            if (stdfuctl_bus_set(optarg) < 0) {
                fprintf(stderr, "stdfuctl: --bus needs system, session or a D-Bus address.\n");
                return STDFU_EXIT_USAGE;
            }
            break;
        default:
            fprintf(stderr, "Try 'stdfuctl --help'.\n");
            return STDFU_EXIT_USAGE;
        }
    log_set_max_level(g.verbosity > 0 ? LOG_DEBUG : g.verbosity < 0 ? LOG_ERR : LOG_WARNING);

    if (optind >= argc) {
        help(stderr);
        return STDFU_EXIT_USAGE;
    }
    for (size_t i = 0; i < ELEMENTSOF(commands); i++)
        if (streq(argv[optind], commands[i].name)) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0; /* reset getopt for the command's own parsing */
            return commands[i].run(sub_argc, sub_argv, &g);
        }
    fprintf(stderr, "stdfuctl: unknown command '%s'. Try 'stdfuctl --help'.\n", argv[optind]);
    return STDFU_EXIT_USAGE;
}
