/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "umock/evsock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macro.h"

struct sim_evsock {
    char *dir;
    int inotify_fd;
    int stop_fd;
    unsigned serial;
    pthread_t thread;
};

/* "event" followed by digits only: a freshly bound, not yet renamed socket. */
static bool fresh_event_socket(const char *name) {
    if (strncmp(name, "event", 5) != 0 || !name[5])
        return false;
    return strspn(name + 5, "0123456789") == strlen(name + 5);
}

static void rename_socket(sim_evsock *e, const char *name) {
    char from[PATH_MAX], to[PATH_MAX];

    if (!fresh_event_socket(name))
        return;
    snprintf(from, sizeof from, "%s/%s", e->dir, name);
    snprintf(to, sizeof to, "%s/%s_%u", e->dir, name, ++e->serial);
    if (rename(from, to) < 0 && errno != ENOENT)
        log_debug("rename %s: %m", from);
}

int sim_evsock_lock(const char *dir) {
    char path[PATH_MAX];
    int fd;

    snprintf(path, sizeof path, "%s/.event-lock", dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        log_debug("Cannot open %s: %m", path);
        return -1;
    }
    (void) flock(fd, LOCK_EX);
    return fd;
}

void sim_evsock_unlock(int fd) {
    if (fd >= 0)
        close(fd); /* drops the lock */
}

static void rename_all(sim_evsock *e) {
    DIR *d = opendir(e->dir);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d)))
        rename_socket(e, de->d_name);
    closedir(d);
}

static void *evsock_thread(void *userdata) {
    sim_evsock *e = userdata;
    _Alignas(struct inotify_event) char buf[4096];

    for (;;) {
        struct pollfd p[2] = { { e->inotify_fd, POLLIN, 0 }, { e->stop_fd, POLLIN, 0 } };
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        ssize_t n = read(e->inotify_fd, buf, sizeof buf);
        int lock = n > 0 ? sim_evsock_lock(e->dir) : -1;
        for (ssize_t off = 0; off < n;) {
            struct inotify_event *ev = (struct inotify_event *) (buf + off);
            if (ev->mask & IN_Q_OVERFLOW)
                rename_all(e);
            else if (ev->len > 0)
                rename_socket(e, ev->name);
            off += (ssize_t) (sizeof *ev + ev->len);
        }
        sim_evsock_unlock(lock);
    }
    return NULL;
}

static void evsock_free(sim_evsock *e) {
    if (e->inotify_fd >= 0)
        close(e->inotify_fd);
    if (e->stop_fd >= 0)
        close(e->stop_fd);
    free(e->dir);
    free(e);
}

int sim_evsock_start(const char *dir, sim_evsock **ret) {
    sim_evsock *e = calloc(1, sizeof *e);
    int r = 0;

    if (!e)
        return -ENOMEM;
    e->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    e->stop_fd = eventfd(0, EFD_CLOEXEC);
    e->dir = strdup(dir);
    if (!e->dir)
        r = -ENOMEM;
    else if (e->inotify_fd < 0 || e->stop_fd < 0 ||
             inotify_add_watch(e->inotify_fd, dir, IN_CREATE | IN_MOVED_TO) < 0)
        r = negative_errno();
    if (r == 0) {
        rename_all(e);
        r = -pthread_create(&e->thread, NULL, evsock_thread, e);
    }
    if (r < 0) {
        evsock_free(e);
        return r;
    }
    *ret = e;
    return 0;
}

void sim_evsock_stop(sim_evsock *e) {
    uint64_t one = 1;

    if (!e)
        return;
    (void) !write(e->stop_fd, &one, sizeof one);
    pthread_join(e->thread, NULL);
    evsock_free(e);
}
