/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the parts of libstdfu-sim-preload.so.
 *
 * The event lock: flock() on $UMOCKDEV_DIR/.event-lock (see umock/evsock.h), taken by every
 * process that creates, renames or removes a uevent socket, and by stdfu-sim while it sends
 * uevents. Returns the lock's fd, or -1 when there is no testbed or the file cannot be opened
 * (then nothing is locked). The fd is opened anew each time: flock() excludes open file
 * descriptions, not threads, so threads sharing one fd would not exclude each other. */
#define PRELOAD_INTERNAL __attribute__((visibility("hidden")))

PRELOAD_INTERNAL int stdfu_preload_event_lock(void);
PRELOAD_INTERNAL void stdfu_preload_event_unlock(int fd);

/* usbfs nodes (usbfs-preload.c): after open() of /dev/bus/usb/BBB/DDD, read() and lseek() of
 * that fd answer with the device's descriptors, as the kernel does; close() forgets it. */
PRELOAD_INTERNAL void stdfu_preload_usbfs_opened(const char *path, int fd);
PRELOAD_INTERNAL void stdfu_preload_usbfs_closed(int fd);
