/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfuctl watch: stdfud's updates live, until none is queued or running any more. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "monitor.h"
#include "util/log.h"

static void help(FILE *f) {
    fprintf(f,
            "Usage: stdfuctl [--bus BUS] watch [DEVICE...] [--json]\n"
            "\n"
            "Follow stdfud's updates of every device (or of the DEVICEs given, by port path\n"
            "such as 1-1.4) live. On a terminal each device has a line with a progress bar,\n"
            "redrawn in place; otherwise a line is printed when a device's state changes and\n"
            "for every 10%% of a phase's bytes. Ends when no shown device has an update queued\n"
            "or running (at once if none has), or on Ctrl-C; the updates go on in stdfud.\n"
            "\n"
            "Options:\n"
            "      --json     JSON lines of events instead: a \"device\" event with the device\n"
            "                 object where a line would be printed, an \"update-finished\" event\n"
            "                 for each finished update (stdfuctl(1), JSON OUTPUT)\n"
            STDFUCTL_HELP_BUS_AND_HELP);
}

int cmd_watch(int argc, char **argv, const stdfuctl_globals *g) {
    _cleanup_(monitor_freep) monitor *m = NULL;
    sd_event *event = NULL;
    sd_bus *bus = NULL;
    bool json = false;
    int code, r;

    code = stdfuctl_parse_options(argc, argv, "watch", help, STDFUCTL_OPT_BUS | STDFUCTL_OPT_JSON,
                                  &json);
    if (code >= 0)
        return code;

    code = stdfuctl_bus_open_or_exit(&bus);
    if (code != STDFU_EXIT_OK)
        return code;
    r = sd_event_default(&event);
    if (r >= 0)
        r = monitor_new(bus, event, g->verbosity < 0 && !json ? NULL : stdout,
                        isatty(STDOUT_FILENO), &m);
    if (r >= 0)
        monitor_set_json(m, json);
    for (int i = optind; r >= 0 && i < argc; i++)
        r = monitor_show(m, argv[i]);
    if (r < 0) {
        log_error("Cannot set up watching: %s", strerror(-r));
        code = STDFU_EXIT_FAILURE;
    }
    if (code == STDFU_EXIT_OK)
        code = monitor_subscribe_or_exit(m);
    if (code == STDFU_EXIT_OK)
        code = monitor_start_or_exit(m);
    if (code == STDFU_EXIT_OK) {
        r = sd_event_loop(event);
        if (r < 0) {
            log_error("The event loop failed: %s", strerror(-r));
            code = STDFU_EXIT_FAILURE;
        } else
            code = r;
    }
    m = monitor_free(m);
    sd_event_unref(event);
    sd_bus_flush_close_unref(bus);
    return code;
}
