/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Follows stdfud's devices live, event driven (signal matches on an sd-event loop, no polling),
 * and shows them: on a terminal one line per device with a progress bar, redrawn in place;
 * otherwise one plain line per change (a new state, every 10% of a phase's bytes), so logs stay
 * short. Used by `stdfuctl watch` and `stdfuctl update --wait`.
 *
 * It ends the event loop (sd_event_exit) itself:
 *  - when ports to wait for were given (monitor_wait_for): once each has sent UpdateFinished,
 *    with the exit code of the first one (in the order given) that did not end "done";
 *  - otherwise: once no shown device has a job queued or running any more, with 0;
 *  - with STDFU_EXIT_NO_DAEMON when stdfud leaves the bus or the bus goes away;
 *  - with STDFU_EXIT_NO_DEVICE when a port given to monitor_show() is not known to stdfud;
 *  - with STDFU_EXIT_CANCELLED on SIGINT/SIGTERM (the daemon's jobs go on). */

#include <stdbool.h>
#include <stdio.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus.h"
#include "util/macro.h"
#include "util/time-util.h"

typedef struct monitor monitor;

/* out: where to draw (NULL: nothing is shown, e.g. --json). tty: draw in place with ANSI
 * sequences. The bus is attached to the event loop. */
int monitor_new(sd_bus *bus, sd_event *event, FILE *out, bool tty, monitor **ret);
monitor *monitor_free(monitor *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(monitor *, monitor_free);

/* JSON lines instead of text (`watch --json`): a "device" event with the device object
 * where a text line would be printed, an "update-finished" event for each UpdateFinished. */
void monitor_set_json(monitor *m, bool json);

/* Shows only this device (port path or object path); may be called several times. Without
 * any call every device is shown. */
int monitor_show(monitor *m, const char *device);
/* Waits for this port's UpdateFinished (and shows it). */
int monitor_wait_for(monitor *m, const char *port);

/* Installs the signal matches. Call before asking the daemon for anything whose signals must
 * not be missed (Update). Synchronous; on failure prints and returns an exit code. */
int monitor_subscribe_or_exit(monitor *m);
/* Asks for the devices and their properties (asynchronously: the replies are handled in order
 * with the signals) and catches SIGINT/SIGTERM. Then run sd_event_loop(). */
int monitor_start_or_exit(monitor *m);

/* After the loop: the outcome and error a waited port finished with (NULL if it did not). */
const char *monitor_outcome(monitor *m, const char *port, const char **ret_error);

/* What a device is doing, in words: "writing  45%  29.0/64.0 KiB  120.3 KiB/s  0:03 left",
 * "done, runs 1.3", "failed: REASON". phase_elapsed: how long the current state has lasted,
 * 0 when unknown (then no rate is shown). */
void monitor_format_detail(const device_props *p, usec_t phase_elapsed, char *buf, size_t size);
/* One line of the terminal view: port (padded to port_width), product (cut or padded to
 * product_width; left out when 0), a bar of the whole update's progress and the detail. */
void monitor_format_line(const device_props *p, int port_width, int product_width,
                         usec_t phase_elapsed, char *buf, size_t size);
