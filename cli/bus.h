/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The D-Bus side of stdfuctl: the commands that talk to stdfud (status, update, watch, cancel,
 * reload, history), the connection chosen by the global --bus option, the mapping of D-Bus
 * errors to one clear sentence and an exit code, and readers of the daemon's properties.
 *
 * Helpers whose name ends in _or_exit print their own message (on stderr) and return an exit
 * code from exit-codes.h: 0 on success. Everything else returns 0 or a negative errno. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "stdfuctl.h"
#include "util/macro.h"

#define STDFU_BUS_NAME "io.stdfu1"
#define STDFU_MANAGER_PATH "/io/stdfu1"
#define STDFU_MANAGER_IFACE "io.stdfu1.Manager"
#define STDFU_DEVICE_PREFIX "/io/stdfu1/device"
#define STDFU_DEVICE_IFACE "io.stdfu1.Device"

#define STDFU_ERROR_NO_SUCH_DEVICE "io.stdfu1.Error.NoSuchDevice"
#define STDFU_ERROR_BUSY "io.stdfu1.Error.Busy"
#define STDFU_ERROR_NOTHING_TO_DO "io.stdfu1.Error.NothingToDo"
#define STDFU_ERROR_FAILED "io.stdfu1.Error.Failed"

/* The commands (one file each, cli/cmd-NAME.c). */
int cmd_status(int argc, char **argv, const stdfuctl_globals *g);
int cmd_update(int argc, char **argv, const stdfuctl_globals *g);
int cmd_watch(int argc, char **argv, const stdfuctl_globals *g);
int cmd_cancel(int argc, char **argv, const stdfuctl_globals *g);
int cmd_reload(int argc, char **argv, const stdfuctl_globals *g);
int cmd_history(int argc, char **argv, const stdfuctl_globals *g);

/* Logs "Out of memory." and returns STDFU_EXIT_FAILURE. */
int stdfuctl_oom(void);

/* ---- connection ------------------------------------------------------------------------- */

/* The global --bus option: "system" (default), "session" or a D-Bus address
 * ("unix:path=/run/..."). -EINVAL for an empty string. */
int stdfuctl_bus_set(const char *spec);
/* "the system bus", "the session bus" or "the bus unix:path=...", for messages. */
const char *stdfuctl_bus_describe(void);

/* Connects to the chosen bus. Fails with STDFU_EXIT_NO_DAEMON when the bus is unreachable. */
int stdfuctl_bus_open_or_exit(sd_bus **ret);

/* ---- errors ----------------------------------------------------------------------------- */

/* What a failed call means for the user. `method` is the D-Bus method ("Update"), `device` the
 * port it was about (or NULL), `r` the negative errno of the call. Prints one sentence and
 * returns the exit code:
 *   io.stdfu1 not on the bus, bus gone       -> STDFU_EXIT_NO_DAEMON
 *   AccessDenied (policy or daemon)          -> STDFU_EXIT_ACCESS_DENIED
 *   NoSuchDevice                             -> STDFU_EXIT_NO_DEVICE
 *   Busy                                     -> STDFU_EXIT_BUSY
 *   InvalidArgs of UpdateFile (the image)    -> STDFU_EXIT_BAD_FILE
 *   anything else                            -> STDFU_EXIT_FAILURE */
int stdfuctl_bus_error_or_exit(const sd_bus_error *error, int r, const char *method,
                               const char *device);
/* The same mapping without printing. */
int stdfuctl_bus_error_to_exit(const sd_bus_error *error, int r, const char *method);
/* The sentence, in buf (returned). */
const char *stdfuctl_bus_error_message(const sd_bus_error *error, int r, const char *method,
                                       const char *device, char *buf, size_t size);

/* Calls a method of the Manager; on failure prints the message and returns the exit code. */
int stdfuctl_call_manager_or_exit(sd_bus *bus, const char *method, const char *device,
                                  sd_bus_message **reply, const char *types, ...);

/* ---- device properties ------------------------------------------------------------------ */

/* Everything io.stdfu1.Device says about one device. Strings are owned ("" when the daemon
 * sent an empty string, NULL when it sent nothing yet). */
typedef struct device_props {
    char *object_path;
    char *port, *product, *usb_id, *mode, *serial;
    char *running_version, *target_version, *rule, *state, *last_error;
    uint32_t progress, attempt;
    uint64_t bytes_done, bytes_total, last_update;
} device_props;

void device_props_done(device_props *p);

/* Bits of device_props_read()'s result: what changed. */
enum {
    DEVICE_PROP_STATE = 1 << 0,    /* State */
    DEVICE_PROP_PROGRESS = 1 << 1, /* Progress, BytesDone, BytesTotal */
    DEVICE_PROP_OTHER = 1 << 2,    /* anything else */
};

/* Applies an a{sv} of io.stdfu1.Device properties (GetAll's reply or PropertiesChanged's
 * second argument) to p. Unknown names are skipped (a newer daemon may have more); a known
 * name with the wrong type is -EBADMSG. Returns the DEVICE_PROP_* bits of what changed. */
int device_props_read(sd_bus_message *m, device_props *p);

/* GetAll of one device object, synchronously. On failure prints and returns the exit code. */
int device_props_get_or_exit(sd_bus *bus, const char *object_path, device_props *p);

/* Every device stdfud knows, with its properties, sorted by port (1-1.2 before 1-1.10).
 * Devices that vanish between ListDevices and GetAll are left out. */
int device_props_list_or_exit(sd_bus *bus, device_props **ret, size_t *ret_n);
void device_props_list_free(device_props *l, size_t n);

/* Whether a Device.State means a job is still queued or running ("queued" ... "recovering"):
 * the states `watch` waits for. idle and the outcomes are settled. */
bool device_state_is_active(const char *state);

/* Matches a user's DEVICE argument: a port path or a device object path. */
bool device_props_match(const device_props *p, const char *arg);

/* Exit code for an UpdateFinished outcome: done 0, needs-power-cycle 7, cancelled 9,
 * failed STDFU_EXIT_UPDATE_FAILED, anything else STDFU_EXIT_FAILURE. */
int stdfuctl_outcome_to_exit(const char *outcome);

/* "2026-11-23 22:41:07" (local time) of a CLOCK_REALTIME value in microseconds; "-" for 0. */
const char *stdfuctl_format_timestamp(uint64_t usec, char *buf, size_t size);
/* "2026-11-23T22:41:07Z" (UTC) for JSON; NULL for 0. */
const char *stdfuctl_format_timestamp_utc(uint64_t usec, char *buf, size_t size);
