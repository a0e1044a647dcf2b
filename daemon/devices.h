/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Devices, keyed by their physical USB port path ("1-1.4"), tracked across modes: the same
 * record stays while the device jumps from its application to the bootloader and back, and
 * while it is absent in between. This module owns the daemon's only udev monitor (USB devices
 * and hidraw nodes) as an sd-event io source. What a device is (application, bootloader, or
 * nothing we care about) is asked from a classifier the daemon sets (the manifest's rules). */

#include <libudev.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"
#include "jobs.h"

typedef enum DeviceMode {
    DEVICE_ABSENT,
    DEVICE_APPLICATION,
    DEVICE_BOOTLOADER,
    _DEVICE_MODE_MAX,
} DeviceMode;

const char *device_mode_to_string(DeviceMode m);

/* Says what a USB id on a port is: application, bootloader, or DEVICE_ABSENT for "not ours". */
typedef DeviceMode (*DeviceClassifier)(uint16_t vid, uint16_t pid, const char *port,
                                       void *userdata);

struct Device {
    DeviceTable *table;
    Device *next;
    char *port;
    char *object_path;

    /* What udev says; cleared when absent. */
    DeviceMode mode;
    uint16_t vid, pid, bcd_device;
    uint8_t busnum, devnum;
    char *product;
    char *serial;
    char *syspath;
    char *hidraw_node;
    char *hidraw_syspath;

    /* What the daemon says (daemon.c, dbus-device.c). */
    char *running_version;
    char *target_version;
    JobState state;
    unsigned progress;          /* percent */
    uint64_t bytes_done, bytes_total;
    unsigned attempt;
    char *last_error;
    usec_t last_update;         /* CLOCK_REALTIME of the last finished update, 0 if none */
    Job *job;
    const void *rule;           /* the manifest rule that matches it, NULL if none */
    bool resume_when_present;   /* needs-power-cycle or journal: start again when it shows up */
    struct stdfu_job_record *resume; /* the journal record to resume from, NULL if none */
    JobSpec *resume_spec;       /* needs-power-cycle in this run: the very job, to run again */
    bool auto_blocked;          /* failed or cancelled: no automatic retry until it re-appears */

    /* An application that appeared without its hidraw node yet (udev announces the USB device
     * first): its evaluation waits for the node, or for settle_timer (policy.c). */
    bool settling;
    sd_event_source *settle_timer;

    /* PropertiesChanged throttling for progress (dbus-device.c). */
    usec_t last_progress_signal;
    sd_event_source *progress_timer;
};

int device_table_new(DeviceTable **ret, Daemon *d, DeviceClassifier classify, void *userdata);
DeviceTable *device_table_free(DeviceTable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(DeviceTable *, device_table_free);

/* Starts the udev monitor on the daemon's event loop and enumerates what is there. */
int device_table_start(DeviceTable *t);
/* Enumerates again (after a manifest reload changed what is ours). */
int device_table_rescan(DeviceTable *t);

Daemon *device_table_daemon(DeviceTable *t);
Device *device_table_first(DeviceTable *t);
unsigned device_table_count(DeviceTable *t);
Device *device_table_find(DeviceTable *t, const char *port);
Device *device_table_find_path(DeviceTable *t, const char *object_path);
/* The record for a port, created absent when there is none (jobs resumed from the journal). */
int device_table_ensure(DeviceTable *t, const char *port, Device **ret);
/* Drops an absent device without a job; sends DeviceRemoved. */
void device_table_drop(DeviceTable *t, Device *dev);

/* A USB port path as the kernel names the device: "1-1", "1-1.4", "3-2.1.7". */
bool port_path_is_valid(const char *port);
