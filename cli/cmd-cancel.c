/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfuctl cancel DEVICE: stop a device's queued or running update. */
#include <getopt.h>
#include <stdio.h>

#include "bus.h"

static void help(FILE *f) {
    fprintf(f,
            "Usage: stdfuctl [--bus BUS] cancel DEVICE\n"
            "\n"
            "Cancel the update stdfud has queued or running for DEVICE (a port path such as\n"
            "1-1.4, or its object path). A queued update is dropped at once; a running one stops\n"
            "at its next transfer and the device is brought back to its application where it\n"
            "can be. Needs root or group stdfu.\n"
            "\n"
            "Options:\n"
            "      --bus system|session|ADDRESS\n"
            "                 the D-Bus where stdfud runs (default: system)\n"
            "  -h, --help     show this help\n"
            "\n" STDFU_EXIT_CODES_HELP);
}

int cmd_cancel(int argc, char **argv, const stdfuctl_globals *g) {
    enum { ARG_BUS = 0x100 };
    static const struct option options[] = {
        { "bus", required_argument, NULL, ARG_BUS },
        { "help", no_argument, NULL, 'h' },
        {},
    };
    sd_bus *bus = NULL;
    int c, code;
    (void) g;

    while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
        switch (c) {
        case 'h':
            help(stdout);
            return STDFU_EXIT_OK;
        case ARG_BUS:
            if (stdfuctl_bus_set(optarg) < 0)
                return stdfuctl_usage_error("cancel", "--bus needs system, session or an address.");
            break;
        default:
            fprintf(stderr, "Try 'stdfuctl cancel --help'.\n");
            return STDFU_EXIT_USAGE;
        }
    if (optind >= argc)
        return stdfuctl_usage_error("cancel", "which device? Give its port path, e.g. 1-1.4.");
    if (argc - optind > 1)
        return stdfuctl_usage_error("cancel", "one device at a time ('%s' is one too many).",
                                    argv[optind + 1]);

    code = stdfuctl_bus_open_or_exit(&bus);
    if (code == STDFU_EXIT_OK)
        code = stdfuctl_call_manager_or_exit(bus, "Cancel", argv[optind], NULL, "s",
                                             argv[optind]);
    sd_bus_flush_close_unref(bus);
    return code;
}
