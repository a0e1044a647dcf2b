/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "umock/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macro.h"

static int write_proc(const char *path, const char *text) {
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return negative_errno();
    if (write(fd, text, strlen(text)) != (ssize_t) strlen(text))
        return negative_errno();
    return 0;
}

static int map_self(uid_t uid, gid_t gid) {
    char line[64];
    int r;

    snprintf(line, sizeof line, "%u %u 1\n", (unsigned) uid, (unsigned) uid);
    r = write_proc("/proc/self/uid_map", line);
    if (r < 0)
        return r;
    r = write_proc("/proc/self/setgroups", "deny");
    if (r < 0 && r != -ENOENT)
        return r;
    snprintf(line, sizeof line, "%u %u 1\n", (unsigned) gid, (unsigned) gid);
    return write_proc("/proc/self/gid_map", line);
}

static void loopback_up(void) {
    _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {};

    if (fd < 0)
        return;
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return;
    ifr.ifr_flags |= IFF_UP;
    (void) ioctl(fd, SIOCSIFFLAGS, &ifr);
}

int sim_netns_isolate(void) {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    char qlen[16];
    int r;

    if (uid == 0) {
        if (unshare(CLONE_NEWNET) < 0)
            return negative_errno();
    } else {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
            return negative_errno();
        r = map_self(uid, gid);
        if (r < 0)
            return r;
    }
    loopback_up();
    snprintf(qlen, sizeof qlen, "%d", SIM_DGRAM_QLEN);
    r = write_proc("/proc/sys/net/unix/max_dgram_qlen", qlen);
    if (r < 0)
        return log_debug_errno(r, "Cannot raise net.unix.max_dgram_qlen in the private "
                               "network namespace: %m");
    return 0;
}
