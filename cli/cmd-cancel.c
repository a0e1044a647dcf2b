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
            STDFUCTL_HELP_BUS_AND_HELP);
}

int cmd_cancel(int argc, char **argv, const stdfuctl_globals *g) {
    sd_bus *bus = NULL;
    int code;
    (void) g;

    code = stdfuctl_parse_options(argc, argv, "cancel", help, STDFUCTL_OPT_BUS, NULL);
    if (code >= 0)
        return code;
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
