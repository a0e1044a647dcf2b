/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The umockdev front-end of stdfu-sim: an emulated USB bus 1 with a root hub (usb1), up to
 * SIM_BUS_MAX_HUBS hubs on its first ports (1-1, 1-2) and the STM32 devices of the model, visible to unmodified libusb/libudev
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

/* Root hub ports, as many as an xHCI root hub may expose. The hubs sit on root ports 1 .. H
 * (hub N at 1-N, its devices on 1-N.1 .. 1-N.7); devices can use the other root ports,
 * 1-(H+1) .. 1-15. */
#define SIM_BUS_ROOT_PORTS 15u
#define SIM_BUS_MAX_HUBS 2u
/* At most this many devices. umockdev 0.17's preload tracks at most 50 emulated file
 * descriptors per process (its fd map; the 51st open aborts the process), and a client that opens every
 * node at once (libusb_get_device_list + open of each, or a daemon that also keeps each
 * hidraw open) needs: 2 per device (usbfs + hidraw of an application), 1 for the root hub,
 * 1 per hub and the odd /dev/null umockdev itself keeps open:
 *     2 * D + 1 + SIM_BUS_MAX_HUBS + 1 <= 50  =>  D <= (50 - 2 - 2) / 2 = 23. */
#define SIM_UMOCKDEV_MAX_FDS 50u
#define SIM_BUS_MAX_DEVICES ((SIM_UMOCKDEV_MAX_FDS - 2u - SIM_BUS_MAX_HUBS) / 2u)

/* hubs[0 .. n_hubs-1]: the kind of each hub (none of them SIM_HUB_NONE); 0 hubs: --hub none. */
int sim_bus_new(const sim_hub_kind *hubs, size_t n_hubs, sim_bus **ret);
sim_bus *sim_bus_free(sim_bus *b);

/* The first free port: the hubs' ports first (1-1.1 .. 1-1.7, 1-2.1 ..), then the free root
 * ports (1-(H+1) .. 1-15). */
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
size_t sim_bus_n_hubs(sim_bus *b);
sim_hub *sim_bus_hub(sim_bus *b, size_t i); /* hub i (at 1-(i+1)), NULL past the last */

/* Log per-request tracing (-v). */
void sim_bus_set_trace(bool on);
