/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libstdfu-sim-preload.so, third part: read() and lseek() of an emulated usbfs node
 * (/dev/bus/usb/BBB/DDD) answer with the device's descriptors, as drivers/usb/core/devio.c
 * does: the device descriptor, then each configuration's raw descriptors, the same bytes as
 * sysfs's "descriptors" attribute. libusb reads them from the fd instead of sysfs for a device
 * it did not enumerate itself (libusb_wrap_sys_device(), which fwupd 2.x uses); umockdev 0.17
 * forwards read() to the emulator's ioctl socket and lseek() fails there, so such clients
 * found no device. The bytes are taken from the testbed's sysfs when the node is opened (an
 * emulated device's descriptors never change while it is enumerated). */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "preload.h"

#define USBFS_FDS_MAX 4096
#define USBFS_DESC_MAX 65536

typedef struct usbfs_fd {
    unsigned char *data;
    size_t len;
    off_t pos;
} usbfs_fd;

static pthread_mutex_t usbfs_lock = PTHREAD_MUTEX_INITIALIZER;
static usbfs_fd *volatile usbfs_fds[USBFS_FDS_MAX];

static bool read_number(const char *dir, const char *name, unsigned *ret) {
    char path[512];
    FILE *f;
    bool ok;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "re");
    if (!f)
        return false;
    ok = fscanf(f, "%u", ret) == 1;
    fclose(f);
    return ok;
}

static unsigned char *read_descriptors(const char *dir, size_t *ret_len) {
    char path[512];
    unsigned char *buf = malloc(USBFS_DESC_MAX);
    size_t len = 0;
    FILE *f;

    if (!buf)
        return NULL;
    snprintf(path, sizeof path, "%s/descriptors", dir);
    f = fopen(path, "re");
    if (f) {
        len = fread(buf, 1, USBFS_DESC_MAX, f);
        fclose(f);
    }
    if (len < 18) {
        free(buf);
        return NULL;
    }
    *ret_len = len;
    return buf;
}

/* The sysfs directory of the device with this bus and device number, read into a copy. */
static usbfs_fd *find_device(unsigned bus, unsigned dev) {
    DIR *d = opendir("/sys/bus/usb/devices");
    struct dirent *de;
    usbfs_fd *u = NULL;

    if (!d)
        return NULL;
    while (!u && (de = readdir(d))) {
        char dir[400];
        unsigned b, n;
        size_t len;
        unsigned char *data;

        if (de->d_name[0] == '.' || strchr(de->d_name, ':'))
            continue;
        snprintf(dir, sizeof dir, "/sys/bus/usb/devices/%s", de->d_name);
        if (!read_number(dir, "busnum", &b) || !read_number(dir, "devnum", &n) || b != bus ||
            n != dev)
            continue;
        data = read_descriptors(dir, &len);
        if (!data)
            break;
        u = calloc(1, sizeof *u);
        if (!u) {
            free(data);
            break;
        }
        u->data = data;
        u->len = len;
    }
    closedir(d);
    return u;
}

PRELOAD_INTERNAL void stdfu_preload_usbfs_opened(const char *path, int fd) {
    unsigned bus, dev;
    char tail;
    usbfs_fd *u;
    int saved = errno;

    if (fd < 0 || fd >= USBFS_FDS_MAX || !path || !getenv("UMOCKDEV_DIR") ||
        sscanf(path, "/dev/bus/usb/%3u/%3u%c", &bus, &dev, &tail) != 2)
        return;
    u = find_device(bus, dev);
    pthread_mutex_lock(&usbfs_lock);
    free(usbfs_fds[fd] ? usbfs_fds[fd]->data : NULL);
    free(usbfs_fds[fd]);
    usbfs_fds[fd] = u;
    pthread_mutex_unlock(&usbfs_lock);
    errno = saved;
}

PRELOAD_INTERNAL void stdfu_preload_usbfs_closed(int fd) {
    if (fd < 0 || fd >= USBFS_FDS_MAX || !usbfs_fds[fd])
        return;
    pthread_mutex_lock(&usbfs_lock);
    if (usbfs_fds[fd]) {
        free(usbfs_fds[fd]->data);
        free(usbfs_fds[fd]);
        usbfs_fds[fd] = NULL;
    }
    pthread_mutex_unlock(&usbfs_lock);
}

static bool tracked(int fd) {
    return fd >= 0 && fd < USBFS_FDS_MAX && usbfs_fds[fd];
}

ssize_t read(int fd, void *buf, size_t count) {
    static ssize_t (*next)(int, void *, size_t);
    ssize_t n = -1;

    if (tracked(fd)) {
        pthread_mutex_lock(&usbfs_lock);
        usbfs_fd *u = usbfs_fds[fd];
        if (u) {
            size_t pos = (size_t) u->pos;
            n = pos >= u->len ? 0 : (ssize_t) (count < u->len - pos ? count : u->len - pos);
            if (n > 0)
                memcpy(buf, u->data + pos, (size_t) n);
            u->pos += n;
        }
        pthread_mutex_unlock(&usbfs_lock);
        if (n >= 0)
            return n;
    }
    if (!next)
        next = (ssize_t (*)(int, void *, size_t)) dlsym(RTLD_NEXT, "read");
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    return next(fd, buf, count);
}

static off_t seek(int fd, off_t offset, int whence, bool *handled) {
    off_t r = -1;

    *handled = false;
    if (!tracked(fd))
        return -1;
    pthread_mutex_lock(&usbfs_lock);
    usbfs_fd *u = usbfs_fds[fd];
    if (u) {
        off_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? u->pos : (off_t) u->len;
        *handled = true;
        if ((whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) ||
            base + offset < 0)
            errno = EINVAL;
        else
            r = u->pos = base + offset;
    }
    pthread_mutex_unlock(&usbfs_lock);
    return r;
}

off_t lseek(int fd, off_t offset, int whence) {
    static off_t (*next)(int, off_t, int);
    bool handled;
    off_t r = seek(fd, offset, whence, &handled);

    if (handled)
        return r;
    if (!next)
        next = (off_t (*)(int, off_t, int)) dlsym(RTLD_NEXT, "lseek");
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    return next(fd, offset, whence);
}

off64_t lseek64(int fd, off64_t offset, int whence) {
    static off64_t (*next)(int, off64_t, int);
    bool handled;
    off_t r = seek(fd, (off_t) offset, whence, &handled);

    if (handled)
        return r;
    if (!next)
        next = (off64_t (*)(int, off64_t, int)) dlsym(RTLD_NEXT, "lseek64");
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    return next(fd, offset, whence);
}
