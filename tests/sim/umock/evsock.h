/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Keeps every uevent listener reachable.
 *
 * umockdev's preload turns a client's NETLINK_KOBJECT_UEVENT socket into a Unix datagram socket
 * bound to $UMOCKDEV_DIR/event<fd>, unlinking whatever had that name before. Two processes that
 * each bind a udev monitor on the same fd number therefore steal each other's name, and the
 * first one silently stops getting uevents. A watcher thread renames each new event<N> socket
 * at once to event<N>_<serial>: still matched by the sender's "event[0-9]*" glob, never reused.
 * libstdfu-sim-preload.so binds and renames in one step, under the event lock.
 *
 * The event lock is flock() on <dir>/.event-lock. The preload takes it to bind and rename a
 * uevent socket and to close one (umockdev unlinks the name then); the harness takes it while
 * it sends uevents (sim_evsock_lock()): umockdev's sender globs the socket names and aborts the
 * harness when one is gone by the time it connects ("sendmsg_one: cannot connect to client's
 * event socket"). */

typedef struct sim_evsock sim_evsock;

int sim_evsock_start(const char *dir, sim_evsock **ret);
void sim_evsock_stop(sim_evsock *e);

/* Returns the lock's fd for sim_evsock_unlock(), or -1 when it cannot be taken (unlocked). */
int sim_evsock_lock(const char *dir);
void sim_evsock_unlock(int fd);
