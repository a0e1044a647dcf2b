/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The umockdev front-end of stdfu-sim: an emulated USB bus 1 with a root hub (usb1), an
 * optional hub at 1-1 and the STM32 devices of the model, visible to unmodified libusb/libudev
 * programs through umockdev's preload library (sysfs records, uevents, usbfs and hidraw nodes).
 *
 * Threads: everything here is called on the main thread, which runs the default GLib main
 * context (transitions of the model are timers there). umockdev runs the ioctl handlers on its
 * own worker thread; both sides take the bus lock around every call into the model.
 *
 * The process must already run under libumockdev-preload (see main.c). */

#include <stdbool.h>
#include <stddef.h>

#include "model/model.h"

typedef struct sim_bus sim_bus;

/* Root hub ports. With a hub, it sits on root port 1 and devices can use 1-1.1 .. 1-1.7 and
 * 1-2 .. 1-8; without one, 1-1 .. 1-8. */
#define SIM_BUS_ROOT_PORTS 8u
/* At most this many devices: umockdev's preload tracks at most 50 emulated file descriptors per
 * process, and a client that opens every usbfs and hidraw node (2 per device, plus the root
 * hub, the hub and the odd /dev/null) must stay below that. */
#define SIM_BUS_MAX_DEVICES 15u

int sim_bus_new(sim_hub_kind hub, sim_bus **ret);
sim_bus *sim_bus_free(sim_bus *b);

/* The first free port in the order 1-1.1 .. 1-1.7, 1-2 .. 1-8 (with a hub) or 1-1 .. 1-8. */
int sim_bus_next_free_port(sim_bus *b, char *buf, size_t size);
/* Creates a device on c->port, powered and on the bus in its initial mode. */
int sim_bus_add_device(sim_bus *b, const sim_device_config *c, char *err, size_t err_size);

/* Cable in/out: out takes the device off the bus and cuts its power; in powers it (cold boot)
 * if its port has power. */
int sim_bus_plug(sim_bus *b, const char *port, char *err, size_t err_size);
int sim_bus_unplug(sim_bus *b, const char *port, char *err, size_t err_size);
/* Port power: on the hub as hub class CLEAR/SET_FEATURE(PORT_POWER) requests (so a ganged hub
 * ignores it like the real one), on a root port directly. */
int sim_bus_set_power(sim_bus *b, const char *port, bool on, char *err, size_t err_size);
/* Any SPEC key on a live device (faults, leave behaviour). */
int sim_bus_fault(sim_bus *b, const char *port, const char *key, const char *value, char *err,
                  size_t err_size);
/* One line per device: "PORT PROFILE MODE VERSION plugged|unplugged devnum=N". malloc'd. */
char *sim_bus_status(sim_bus *b);

/* A device is between the two halves of a transition (off the bus and due back, or due to
 * go): the report waits for that. */
bool sim_bus_settling(sim_bus *b);

/* Read access for the report, between sim_bus_lock() and sim_bus_unlock(). */
void sim_bus_lock(sim_bus *b);
void sim_bus_unlock(sim_bus *b);
size_t sim_bus_n_devices(sim_bus *b);
sim_device *sim_bus_device(sim_bus *b, size_t i, const char **ret_port, bool *ret_plugged);
sim_hub *sim_bus_hub(sim_bus *b); /* NULL with --hub none */

/* Log per-request tracing (-v). */
void sim_bus_set_trace(bool on);
