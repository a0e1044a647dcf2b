/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Keeps every uevent listener reachable.
 *
 * umockdev's preload turns a client's NETLINK_KOBJECT_UEVENT socket into a Unix datagram socket
 * bound to $UMOCKDEV_DIR/event<fd>, unlinking whatever had that name before. Two processes that
 * each bind a udev monitor on the same fd number therefore steal each other's name, and the
 * first one silently stops getting uevents. A watcher thread renames each new event<N> socket
 * at once to event<N>_<serial>: still matched by the sender's "event[0-9]*" glob, never reused.
 * (The only window left is the time between a bind and the rename, a few microseconds.) */

typedef struct sim_evsock sim_evsock;

int sim_evsock_start(const char *dir, sim_evsock **ret);
void sim_evsock_stop(sim_evsock *e);
