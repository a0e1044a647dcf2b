/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One device, keyed by its physical USB port path ("1-1.4") and tracked across modes: the same
 * record stays while the device jumps from its application to the bootloader and back, and
 * while it is absent in between.
 *
 * The record is opaque. The udev side (udev.c) sets its facts, the policy (policy.c) its job's
 * view; every setter marks the io.stdfu1.Device properties it changed, and the marks go out as
 * one PropertiesChanged per loop iteration (dbus-device.c serves the values). Progress is
 * throttled to about ten signals a second; a State is never folded into the next one, so a
 * client sees every state the job went through. */

#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"
#include "jobs.h"
#include "lifecycle.h"
#include "state.h"

typedef enum DeviceMode {
    DEVICE_ABSENT,
    DEVICE_APPLICATION,
    DEVICE_BOOTLOADER,
    _DEVICE_MODE_MAX,
} DeviceMode;

const char *device_mode_to_string(DeviceMode m);

/* What udev says about the USB device on a port: mode absent and the rest zero/NULL when
 * there is none. The strings of device_facts() belong to the device. */
typedef struct DeviceFacts {
    const char *port;
    DeviceMode mode;
    uint16_t vid, pid, bcd_device;
    uint8_t busnum, devnum;
    const char *product;
    const char *serial;
    const char *syspath;
} DeviceFacts;

/* What a device resumes when it is present again: the journal's record of its job and, when
 * the job ended in this run (needs-power-cycle, failed outside its application), that very
 * spec with the caller's image (spec.port NULL otherwise: rebuilt from the record). */
typedef struct DeviceResume {
    stdfu_job_record record;
    JobSpec spec;
    /* retry-wait: the next attempt waits for record.next_attempt_usec unless due is set (the
     * device re-appeared, the manifest changed). seen: the device was present since this was
     * made (the first appearance after a restart is no re-appearance). */
    bool due, seen;
    sd_event_source *timer;
} DeviceResume;

DeviceResume *device_resume_free(DeviceResume *r);

/* The properties a setter marks, for PropertiesChanged. */
typedef enum DeviceProperty {
    DEVICE_PROPERTY_PRODUCT,
    DEVICE_PROPERTY_USB_ID,
    DEVICE_PROPERTY_MODE,
    DEVICE_PROPERTY_SERIAL,
    DEVICE_PROPERTY_RUNNING_VERSION,
    DEVICE_PROPERTY_TARGET_VERSION,
    DEVICE_PROPERTY_RULE,
    DEVICE_PROPERTY_STATE,
    DEVICE_PROPERTY_PROGRESS,
    DEVICE_PROPERTY_BYTES_DONE,
    DEVICE_PROPERTY_BYTES_TOTAL,
    DEVICE_PROPERTY_ATTEMPT,
    DEVICE_PROPERTY_LAST_ERROR,
    DEVICE_PROPERTY_LAST_UPDATE,
    DEVICE_PROPERTY_NEXT_ATTEMPT,
    _DEVICE_PROPERTY_MAX,
} DeviceProperty;

const char *device_property_to_string(DeviceProperty p); /* the D-Bus name, "NextAttempt" */

/* ---- the table of devices (ListDevices, the object tree) ---------------------------------- */

int device_table_new(DeviceTable **ret, Daemon *d);
DeviceTable *device_table_free(DeviceTable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(DeviceTable *, device_table_free);

/* Sorted by port, so that ListDevices and the node enumerator are stable. */
Device *device_table_first(DeviceTable *t);
Device *device_next(Device *dev);
unsigned device_table_count(DeviceTable *t);
Device *device_table_find(DeviceTable *t, const char *port);
Device *device_table_find_path(DeviceTable *t, const char *object_path);
/* The record of a port, created absent (DeviceAdded) when there is none. -EINVAL for a port
 * stdfu_usb_port_is_valid() refuses. */
int device_table_ensure(DeviceTable *t, const char *port, Device **ret);
/* Frees a device (DeviceRemoved). */
void device_table_remove(DeviceTable *t, Device *dev);

/* ---- reading --------------------------------------------------------------------------------- */

Daemon *device_daemon(Device *dev);
const char *device_port(Device *dev);
const char *device_object_path(Device *dev);
const DeviceFacts *device_facts(Device *dev);
DeviceMode device_mode(Device *dev);
const char *device_hidraw_node(Device *dev);
const char *device_hidraw_syspath(Device *dev);
const char *device_running_version(Device *dev);
const char *device_target_version(Device *dev);
/* The name of the manifest rule that governs the device now, NULL for none (Rule). */
const char *device_rule(Device *dev);
JobState device_state(Device *dev);
unsigned device_progress(Device *dev);
uint64_t device_bytes_done(Device *dev);
uint64_t device_bytes_total(Device *dev);
unsigned device_attempt(Device *dev);
const char *device_last_error(Device *dev);
usec_t device_last_update(Device *dev);
usec_t device_next_attempt(Device *dev);

/* ---- what udev says (udev.c) ----------------------------------------------------------------- */

/* Takes f (f->port is ignored). Returns true when the device changed incarnation: another mode,
 * or another syspath (it went away and came back in between); -ENOMEM. */
int device_set_facts(Device *dev, const DeviceFacts *f);
void device_clear_facts(Device *dev);
void device_set_hidraw(Device *dev, const char *node, const char *syspath);

/* ---- what the daemon says (policy.c) --------------------------------------------------------- */

void device_set_running_version(Device *dev, const char *version);
void device_set_target_version(Device *dev, const char *version);
/* The job's rule while it has one, else the manifest's verdict (rules_governing()); NULL: none. */
void device_set_rule(Device *dev, const char *name);
void device_set_state(Device *dev, JobState state);
void device_set_progress(Device *dev, unsigned percent, uint64_t done, uint64_t total);
void device_set_attempt(Device *dev, unsigned attempt);
void device_set_error(Device *dev, const char *error);
void device_set_last_update(Device *dev, usec_t when);
void device_set_next_attempt(Device *dev, usec_t when);
/* Sends the marked properties now (before a signal that must follow them, UpdateFinished). */
void device_flush_changes(Device *dev);

/* The policy's own bookkeeping, not on D-Bus. */
Job *device_job(Device *dev);
void device_set_job(Device *dev, Job *job);
DeviceResume *device_resume(Device *dev);
/* Takes r (NULL: nothing to resume); frees the previous one. */
void device_set_resume(Device *dev, DeviceResume *r);
/* Failed or cancelled: no automatic job until the device appears again. */
bool device_blocked(Device *dev);
void device_set_blocked(Device *dev, bool blocked);
/* The device went away while its job erased, wrote or verified: when the job then fails with
 * the device back already, that is news and the job resumes at once. */
bool device_vanished_flashing(Device *dev);
void device_set_vanished_flashing(Device *dev, bool b);
/* Claimed: stdfud was updating this port, but its job record could not be read (why: the
 * record's error, for LastError); the bootloader there is the job of the rule whose bootloader
 * id and port match, adopting or not, until a job of its own or its application replaces the
 * claim. NULL: not claimed. */
const char *device_claim(Device *dev);
int device_set_claim(Device *dev, const char *why);

/* An application announced without its hidraw node yet (udev sends the USB device first):
 * its evaluation waits for the node or for timeout_usec, then calls done. */
typedef void (*DeviceSettledFn)(Device *dev);
int device_settle(Device *dev, usec_t timeout_usec, DeviceSettledFn done);
bool device_settling(Device *dev);
void device_settle_stop(Device *dev);
