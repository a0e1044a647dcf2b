/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libstdfu-sim-preload.so, second part: keeps umockdev's per-process fd tables sound in
 * multi-threaded programs such as stdfud.
 *
 * umockdev 0.17's preload records each emulated device fd (and each uevent socket) in a fixed
 * table of 50 slots, unlocked, and aborts the program when the table is full:
 *  - two threads opening devices at once can take the same slot, and one fd's entry is lost;
 *  - a failed open() of a device node (one just unplugged) is still recorded, as fd -1, with a
 *    connected ioctl socket, and nothing ever removes it: a fleet's worth of such opens fills
 *    the table ("fd_map_add(): overflow") and aborts the daemon.
 * The wrappers here, listed before libumockdev-preload in LD_PRELOAD, take one process-wide
 * lock around the calls that add or remove entries (opening and closing), and after an open
 * that failed they close fd -1 through umockdev, which drops the bogus entry and its socket.
 * Lookups (read, write, ioctl) stay unlocked: with additions and removals serialised, a lookup
 * of an open fd finds its own entry first. Closing a uevent socket also takes the event lock
 * (preload.h), since umockdev unlinks the socket's name then. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "preload.h"

/* Recursive: umockdev's wrappers call libc directly, but a lock taken twice must not hang. */
static pthread_mutex_t table_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void lock_table(void) {
    pthread_mutex_lock(&table_lock);
}

static void unlock_table(void) {
    pthread_mutex_unlock(&table_lock);
}

/* A fork waits for the lock, so that no other thread holds it in the child; the child starts
 * with a fresh one, since the lock it inherits belongs to the parent's thread id. */
static void reset_table_lock(void) {
    pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
    table_lock = fresh;
}

static void register_atfork(void) {
    pthread_atfork(lock_table, unlock_table, reset_table_lock);
}

static void *next_fn(const char *name) {
    pthread_once(&atfork_once, register_atfork);
    return dlsym(RTLD_NEXT, name);
}

/* After a failed open: umockdev recorded fd -1; closing it through umockdev removes that. */
static void forget_failed_open(void) {
    static int (*next_close)(int);
    int saved = errno;

    if (!next_close)
        next_close = (int (*)(int)) next_fn("close");
    if (next_close)
        (void) next_close(-1);
    errno = saved;
}

/* open(path, flags[, mode]) and its aliases; mode is passed only with O_CREAT or O_TMPFILE. */
#define WRAP_OPEN(name)                                                                         \
    int name(const char *path, int flags, ...) {                                               \
        static int (*next)(const char *, int, ...);                                            \
        mode_t mode = 0;                                                                       \
        int fd;                                                                                \
                                                                                               \
        if (flags & (O_CREAT | O_TMPFILE)) {                                                   \
            va_list ap;                                                                        \
            va_start(ap, flags);                                                               \
            mode = va_arg(ap, mode_t);                                                         \
            va_end(ap);                                                                        \
        }                                                                                      \
        if (!next)                                                                             \
            next = (int (*)(const char *, int, ...)) next_fn(#name);                           \
        if (!next) {                                                                           \
            errno = ENOSYS;                                                                    \
            return -1;                                                                         \
        }                                                                                      \
        lock_table();                                                                          \
        fd = next(path, flags, mode);                                                          \
        if (fd < 0)                                                                            \
            forget_failed_open();                                                              \
        unlock_table();                                                                        \
        stdfu_preload_usbfs_opened(path, fd);                                                  \
        return fd;                                                                             \
    }

/* The fortified __open_2(path, flags), which never creates (glibc declares it internally). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);

#define WRAP_OPEN_2(name)                                                                       \
    int name(const char *path, int flags) {                                                    \
        static int (*next)(const char *, int);                                                 \
        int fd;                                                                                \
                                                                                               \
        if (!next)                                                                             \
            next = (int (*)(const char *, int)) next_fn(#name);                                \
        if (!next) {                                                                           \
            errno = ENOSYS;                                                                    \
            return -1;                                                                         \
        }                                                                                      \
        lock_table();                                                                          \
        fd = next(path, flags);                                                                \
        if (fd < 0)                                                                            \
            forget_failed_open();                                                              \
        unlock_table();                                                                        \
        stdfu_preload_usbfs_opened(path, fd);                                                  \
        return fd;                                                                             \
    }

#define WRAP_FOPEN(name)                                                                        \
    FILE *name(const char *path, const char *mode) {                                           \
        static FILE *(*next)(const char *, const char *);                                      \
        FILE *f;                                                                               \
                                                                                               \
        if (!next)                                                                             \
            next = (FILE * (*) (const char *, const char *)) next_fn(#name);                   \
        if (!next) {                                                                           \
            errno = ENOSYS;                                                                    \
            return NULL;                                                                       \
        }                                                                                      \
        lock_table();                                                                          \
        f = next(path, mode);                                                                  \
        unlock_table();                                                                        \
        return f;                                                                              \
    }

WRAP_OPEN(open)
WRAP_OPEN(open64)
WRAP_OPEN_2(__open_2)
WRAP_OPEN_2(__open64_2)
WRAP_FOPEN(fopen)
WRAP_FOPEN(fopen64)

/* Uevent sockets (umockdev's Unix stand-ins for NETLINK_KOBJECT_UEVENT sockets), by fd: umockdev
 * unlinks a socket's name when it is closed, which must not happen while stdfu-sim is sending a
 * uevent (see preload.h). Guarded by table_lock. */
#define EVENT_FDS_MAX 4096
static unsigned char event_fds[EVENT_FDS_MAX];

static bool is_event_socket(int fd) {
    bool r;

    if (fd < 0 || fd >= EVENT_FDS_MAX)
        return false;
    lock_table();
    r = event_fds[fd];
    unlock_table();
    return r;
}

int close(int fd) {
    static int (*next)(int);
    int r, event_lock = -1;

    if (!next)
        next = (int (*)(int)) next_fn("close");
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    /* The event lock before the table lock, as everywhere. */
    if (is_event_socket(fd))
        event_lock = stdfu_preload_event_lock();
    lock_table();
    r = next(fd);
    if (fd >= 0 && fd < EVENT_FDS_MAX)
        event_fds[fd] = 0;
    unlock_table();
    stdfu_preload_usbfs_closed(fd);
    stdfu_preload_event_unlock(event_lock);
    return r;
}

int fclose(FILE *f) {
    static int (*next)(FILE *);
    int r;

    if (!next)
        next = (int (*)(FILE *)) next_fn("fclose");
    if (!next) {
        errno = ENOSYS;
        return EOF;
    }
    lock_table();
    r = next(f);
    unlock_table();
    return r;
}

/* umockdev records a uevent (netlink) socket when it is created; so do we, for close(). */
int socket(int domain, int type, int protocol) {
    static int (*next)(int, int, int);
    int fd;

    if (!next)
        next = (int (*)(int, int, int)) next_fn("socket");
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    lock_table();
    fd = next(domain, type, protocol);
    if (fd >= 0 && fd < EVENT_FDS_MAX)
        event_fds[fd] = domain == AF_NETLINK && protocol == NETLINK_KOBJECT_UEVENT;
    unlock_table();
    return fd;
}
