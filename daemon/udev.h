/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's only udev monitor (USB devices and hidraw nodes), an sd-event io source. Each
 * event becomes facts of a device (device.c) and a call into the policy (policy.c); what a USB
 * id is comes from the manifest (rules_classify()). Worker threads never look at udev events
 * themselves: the policy forwards them to the device's job. */

#include "daemon.h"

typedef struct DeviceMonitor DeviceMonitor;

int device_monitor_new(DeviceMonitor **ret, Daemon *d);
DeviceMonitor *device_monitor_free(DeviceMonitor *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(DeviceMonitor *, device_monitor_free);

/* Starts the monitor on the daemon's event loop and enumerates what is there. */
int device_monitor_start(DeviceMonitor *m);
/* Enumerates again (after a manifest reload changed what is ours). */
int device_monitor_rescan(DeviceMonitor *m);
