/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libstdfu-sim-preload.so: gives every emulated uevent socket a name of its own.
 *
 * umockdev's preload binds a client's NETLINK_KOBJECT_UEVENT socket, turned into a Unix socket,
 * to $UMOCKDEV_DIR/event<fd> after unlinking that name: two processes whose monitors get the
 * same fd number steal each other's name, and the first one silently stops getting uevents.
 * Listed before libumockdev-preload in LD_PRELOAD, this bind() wraps umockdev's: under a lock
 * file shared by all processes it lets umockdev bind, then renames event<fd> to
 * event<fd>_<pid>_<n>, which umockdev's sender still finds (its glob is "event[0-9]*") and which
 * nobody unlinks. stdfu-sim sends uevents under the same lock (umock/evsock.h), so its sender
 * never finds a name that is renamed before it connects. Built without sanitizers: every
 * program COMMAND runs loads it. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "preload.h"

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

static bool is_event_socket(const char *dir, const char *path) {
    size_t n = strlen(dir);

    if (strncmp(path, dir, n) != 0 || strncmp(path + n, "/event", 6) != 0)
        return false;
    path += n + 6;
    return *path && strspn(path, "0123456789") == strlen(path);
}

/* The Unix socket umockdev bound for fd: rename it to a name nobody else will ever take. */
static void rename_bound(int fd, const char *dir) {
    static atomic_uint serial;
    struct sockaddr_un sun = { 0 };
    socklen_t len = sizeof sun;
    char unique[sizeof sun.sun_path];

    if (getsockname(fd, (struct sockaddr *) &sun, &len) < 0 || sun.sun_family != AF_UNIX ||
        len <= offsetof(struct sockaddr_un, sun_path) || !is_event_socket(dir, sun.sun_path))
        return;
    int k = snprintf(unique, sizeof unique, "%s_%d_%u", sun.sun_path, (int) getpid(),
                     atomic_fetch_add(&serial, 1));
    if (k > 0 && (size_t) k < sizeof unique)
        (void) rename(sun.sun_path, unique);
}

int stdfu_preload_event_lock(void) {
    const char *dir = getenv("UMOCKDEV_DIR");
    char lock_path[4096];
    int fd;

    if (!dir || (size_t) snprintf(lock_path, sizeof lock_path, "%s/.event-lock", dir) >=
                    sizeof lock_path)
        return -1;
    fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd >= 0)
        (void) flock(fd, LOCK_EX);
    return fd;
}

void stdfu_preload_event_unlock(int fd) {
    if (fd >= 0)
        close(fd); /* drops the lock */
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    bind_fn next = (bind_fn) dlsym(RTLD_NEXT, "bind");
    const char *dir = getenv("UMOCKDEV_DIR");
    int saved, r, lock_fd;

    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    if (!dir || !addr || addr->sa_family != AF_NETLINK)
        return next(fd, addr, len);

    lock_fd = stdfu_preload_event_lock();
    r = next(fd, addr, len);
    saved = errno;
    if (r == 0)
        rename_bound(fd, dir);
    stdfu_preload_event_unlock(lock_fd);
    errno = saved;
    return r;
}
