/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Exit codes of stdfuctl, one place for all commands. Documented in `stdfuctl --help`,
 * `stdfuctl flash --help` and stdfuctl(1); scripts rely on them, so never renumber. */

enum {
    STDFU_EXIT_OK = 0,
    STDFU_EXIT_FAILURE = 1,           /* anything not listed below */
    STDFU_EXIT_USAGE = 2,             /* bad command line */
    STDFU_EXIT_BAD_FILE = 3,          /* firmware file unreadable, malformed, or not for this
                                       * device (layout, ids): refused before erasing */
    STDFU_EXIT_NO_DEVICE = 4,         /* no such device (or several matched) */
    STDFU_EXIT_TRANSFER = 5,          /* USB or DFU error while talking to the device */
    STDFU_EXIT_VERIFY = 6,            /* read back differs from the image */
    STDFU_EXIT_NEEDS_POWER_CYCLE = 7, /* the device vanished and only unplugging it helps;
                                       * status: a device waits for a power cycle */
    STDFU_EXIT_NOT_UPDATED = 8,       /* flashed, but the application did not come back
                                       * running the new firmware */
    STDFU_EXIT_CANCELLED = 9,         /* interrupted (SIGINT/SIGTERM) */
    /* The commands that ask stdfud (cli/bus.h): */
    STDFU_EXIT_NO_DAEMON = 10,        /* stdfud not running, or the bus not reachable */
    STDFU_EXIT_ACCESS_DENIED = 11,    /* the method needs root or group stdfu */
    STDFU_EXIT_BUSY = 12,             /* the device already has an update queued or running */
    STDFU_EXIT_UPDATE_FAILED = 13,    /* stdfud's update failed after its retries; status:
                                       * a device is failed */
    STDFU_EXIT_MANIFEST_ERRORS = 14,  /* status: the manifest has errors */
};

/* For --help texts. */
#define STDFU_EXIT_CODES_HELP                                                      \
    "Exit status:\n"                                                               \
    "  0  success\n"                                                               \
    "  1  other failure\n"                                                         \
    "  2  usage error\n"                                                           \
    "  3  bad or mismatched firmware file (nothing was erased)\n"                  \
    "  4  no such device, or more than one matched\n"                              \
    "  5  transfer failure (USB or DFU error)\n"                                   \
    "  6  verify failure (flash differs from the image)\n"                         \
    "  7  the device needs a power cycle (unplug and replug it)\n"                 \
    "  8  the application did not come back running the new firmware\n"          \
    "  9  cancelled\n"                                                          \
    " 10  stdfud is not running, or the bus cannot be reached\n"                  \
    " 11  permission denied (changing anything needs root or group stdfu)\n"      \
    " 12  the device already has an update queued or running\n"                   \
    " 13  stdfud's update failed (see stdfuctl status)\n"                        \
    " 14  the manifest has errors (status)\n"
