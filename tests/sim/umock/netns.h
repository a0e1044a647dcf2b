/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A private network namespace for the harness and COMMAND, with a longer datagram queue.
 *
 * umockdev delivers uevents as non-blocking datagrams to each listener's Unix socket and
 * aborts the harness when one is full (sendmsg() EAGAIN). A Unix datagram socket queues at most
 * net.unix.max_dgram_qlen datagrams (10 by default), so a client that is slow to read its udev
 * monitor during a burst (a hub power cycle re-enumerates every device on it) would kill the
 * run. The limit is per network namespace and taken when the receiving socket is created:
 * raising it in a namespace of our own, before COMMAND starts, leaves the host untouched.
 *
 * Must be called while the process is single-threaded. Root unshares the network namespace;
 * others first a user namespace that maps them to themselves. Returns 0, or a negative errno
 * when namespaces are not available (then nothing changed). Loopback is brought up, so COMMAND
 * can still reach 127.0.0.1; abstract Unix sockets and the host's network are not reachable. */

#define SIM_DGRAM_QLEN 1024

int sim_netns_isolate(void);
