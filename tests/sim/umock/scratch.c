/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "umock/scratch.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macro.h"

/* Stage one hands the mount point and the caller's TMPDIR to stage two through these. */
#define SCRATCH_ENV "STDFU_SIM_SCRATCH"
#define CALLER_TMPDIR_ENV "STDFU_SIM_CALLER_TMPDIR" /* "-" when the caller had none */

/* The parent of the mount point when not /tmp: a test gives each of its runs one of its own,
 * so that it sees its own mount points and not those of every stdfu-sim on the machine. */
#define MOUNT_DIR_ENV "STDFU_SIM_MOUNT_DIR"

/* Under /tmp, not $TMPDIR: umockdev's ioctl sockets live in the testbed, and a Unix socket's
 * path holds at most 107 bytes, which a deep $TMPDIR (a test's, then a demo's) plus
 * "umockdev.XXXXXX/ioctl/dev/bus/usb/001/002" exceeds. The directory only holds the mount. */
static int make_mount_point(char *dir, size_t size) {
    const char *tmp = getenv("TMPDIR"), *parent = getenv(MOUNT_DIR_ENV);

    if (parent && *parent) {
        /* Asked for: there, or nowhere (the caller looks for it there). */
        if ((size_t) snprintf(dir, size, "%s/stdfu-sim.XXXXXX", parent) >= size)
            return -ENAMETOOLONG;
        return mkdtemp(dir) ? 0 : negative_errno();
    }
    snprintf(dir, size, "/tmp/stdfu-sim.XXXXXX");
    if (mkdtemp(dir))
        return 0;
    /* No usable /tmp: $TMPDIR, unless it is below /dev/, where umockdev's preload takes every
     * path for a device node, the testbed's own files included. */
    if (!tmp || !*tmp || strncmp(tmp, "/dev/", 5) == 0)
        return -ENOENT;
    if ((size_t) snprintf(dir, size, "%s/stdfu-sim.XXXXXX", tmp) >= size)
        return -ENAMETOOLONG;
    return mkdtemp(dir) ? 0 : negative_errno();
}

int sim_scratch_mount(void) {
    const char *tmp = getenv("TMPDIR");
    char dir[4096];

    if (unshare(CLONE_NEWNS) < 0)
        return negative_errno();
    /* Nothing mounted here may reach the host's namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return negative_errno();
    int r = make_mount_point(dir, sizeof dir);
    if (r < 0)
        return r;
    /* Like /tmp: COMMAND may drop privileges (tests run parts as nobody). */
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0) {
        r = negative_errno();
        (void) rmdir(dir);
        return r;
    }
    setenv(CALLER_TMPDIR_ENV, tmp && *tmp ? tmp : "-", 1);
    setenv(SCRATCH_ENV, dir, 1);
    setenv("TMPDIR", dir, 1);
    return 0;
}

/* Stage two's copy of the mount point: COMMAND does not inherit SCRATCH_ENV. */
static char scratch_dir[4096];

void sim_scratch_adopt(void) {
    const char *dir = getenv(SCRATCH_ENV);

    if (!dir)
        return;
    snprintf(scratch_dir, sizeof scratch_dir, "%s", dir);
    unsetenv(SCRATCH_ENV);
}

void sim_scratch_restore_tmpdir(void) {
    const char *caller = getenv(CALLER_TMPDIR_ENV);

    if (!caller)
        return;
    if (streq(caller, "-"))
        unsetenv("TMPDIR");
    else
        setenv("TMPDIR", caller, 1);
    unsetenv(CALLER_TMPDIR_ENV);
}

void sim_scratch_remove(void) {
    if (!scratch_dir[0])
        return;
    if (umount2(scratch_dir, MNT_DETACH) < 0)
        log_debug("Cannot unmount %s: %m", scratch_dir);
    if (rmdir(scratch_dir) < 0)
        log_debug("Cannot remove %s: %m", scratch_dir);
    scratch_dir[0] = 0;
}
