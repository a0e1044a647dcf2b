/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A tmpfs for umockdev's testbed, in a mount namespace of the harness's own.
 *
 * umockdev keeps the emulated sysfs and /dev under $TMPDIR, and each enumeration writes dozens
 * of attribute files there: on a disk filesystem that was most of the harness's main-thread
 * time while a fleet re-enumerated (inode allocation), and the main thread is the only one that
 * adds and removes devices. A tmpfs in a private mount namespace needs no privilege beyond the
 * user namespace netns.c makes for non-root, is invisible to the host, and goes away with the
 * last process in the namespace. Its mount point is a new directory under /tmp (see
 * scratch.c for why not under $TMPDIR).
 *
 * sim_scratch_mount(): stage one, single-threaded, after sim_netns_isolate(). Mounts the tmpfs
 * on a new directory and points TMPDIR at it, so that the testbed is made there; the caller's
 * TMPDIR is kept for COMMAND. Returns a negative errno when it cannot (nothing changed then).
 * sim_scratch_adopt(): first thing in stage two: takes the mount point over from stage one.
 * sim_scratch_restore_tmpdir(): stage two, once the testbed exists: TMPDIR as the caller had it.
 * sim_scratch_remove(): at exit, whatever the way out, the empty mount point goes. */

int sim_scratch_mount(void);
void sim_scratch_adopt(void);
void sim_scratch_restore_tmpdir(void);
void sim_scratch_remove(void);
