/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small D-Bus helpers shared by the Manager and Device objects: object paths of ports, the
 * sender check of mutating methods, and strict a{sv} option parsing. */

#include <stdbool.h>
#include <systemd/sd-bus.h>

#define STDFU_GROUP "stdfu"
#define STDFU_ERROR_NO_SUCH_DEVICE "io.stdfu1.Error.NoSuchDevice"
#define STDFU_ERROR_BUSY "io.stdfu1.Error.Busy"
#define STDFU_ERROR_NOTHING_TO_DO "io.stdfu1.Error.NothingToDo"
#define STDFU_ERROR_FAILED "io.stdfu1.Error.Failed"

/* "/io/stdfu1/device/1_2d1_2e4" for "1-1.4" (sd_bus_path_encode), and back. */
int device_object_path_of_port(const char *port, char **ret);
int device_port_from_object_path(const char *path, char **ret);

/* 0 when the sender is root or in group "stdfu"; otherwise -EACCES with an AccessDenied error
 * set. The policy file says the same; this is the second lock. */
int bus_check_privileged(sd_bus_message *m, sd_bus_error *error);

/* One accepted option of an a{sv} argument. `type` is a basic D-Bus type: 'b', 's', 'u', 't'.
 * `ptr` points to a bool, a const char* (valid while the message lives), a uint32_t or a
 * uint64_t. */
typedef struct BusOption {
    const char *name;
    char type;
    void *ptr;
} BusOption;

/* Reads an a{sv}. Unknown keys, duplicate keys and values of the wrong type give InvalidArgs
 * naming the key. */
int bus_read_options(sd_bus_message *m, const BusOption *options, sd_bus_error *error);

/* ---- the objects (dbus-manager.c, dbus-device.c) ----------------------------------------- */
typedef struct Daemon Daemon;
typedef struct Device Device;

/* Registers /io/stdfu1 and the device subtree on d->bus. */
int bus_manager_register(Daemon *d);
int bus_device_register(Daemon *d);

void bus_manager_emit_device_added(Daemon *d, Device *dev);
void bus_manager_emit_device_removed(Daemon *d, Device *dev);
void bus_manager_emit_update_finished(Daemon *d, const char *port, const char *outcome,
                                      const char *error);
/* PropertiesChanged of the manager's properties (NULL-terminated names). */
void bus_manager_emit_changed(Daemon *d, const char *property, ...);

/* PropertiesChanged of the device object at path (names NULL-terminated). device.c decides
 * when: it coalesces and throttles. */
void bus_device_emit_changed(Daemon *d, const char *path, char **names);
