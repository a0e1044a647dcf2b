/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "umock/fifo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/macro.h"

static int mkdir_parents(const char *path) {
    char buf[PATH_MAX];

    if (strlen(path) >= sizeof buf)
        return -ENAMETOOLONG;
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return negative_errno();
        *p = '/';
    }
    return 0;
}

/* Fills the pipe: with the smallest pipe (one page, one buffer slot) one byte already makes
 * it "full" for poll(), but writing until EAGAIN does not depend on that. */
static void fifo_fill(int fd) {
    static const uint8_t junk[4096];
    while (write(fd, junk, sizeof junk) > 0)
        ;
}

static void fifo_drain(int fd) {
    uint8_t junk[4096];
    while (read(fd, junk, sizeof junk) > 0)
        ;
}

int sim_fifo_create(sim_fifo *f, const char *path, bool writable) {
    int r;

    r = mkdir_parents(path);
    if (r < 0)
        return r;
    if (unlink(path) < 0 && errno != ENOENT)
        return negative_errno();
    if (mkfifo(path, 0666) < 0)
        return negative_errno();
    /* Read-write: opening never blocks and the pipe never sees "no readers/writers". */
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return negative_errno();
    /* As small as possible, so that filling it is one short write. */
    (void) fcntl(fd, F_SETPIPE_SZ, 4096);
    f->fd = fd;
    f->writable = true;
    if (!writable) {
        fifo_fill(fd);
        f->writable = false;
    }
    return 0;
}

void sim_fifo_close(sim_fifo *f) {
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

void sim_fifo_set_writable(sim_fifo *f, bool writable) {
    if (f->fd < 0 || f->writable == writable)
        return;
    if (writable)
        fifo_drain(f->fd);
    else
        fifo_fill(f->fd);
    f->writable = writable;
}

int sim_fifo_queued(const sim_fifo *f) {
    int n = 0;
    if (f->fd < 0 || ioctl(f->fd, FIONREAD, &n) < 0)
        return 0;
    return n;
}

int sim_fifo_push(sim_fifo *f, const void *data, size_t size) {
    if (f->fd < 0)
        return -EBADF;
    /* Up to PIPE_BUF bytes go in atomically, so a reader sees whole reports. */
    ssize_t n = write(f->fd, data, size);
    if (n < 0)
        return negative_errno();
    return n == (ssize_t) size ? 0 : -EAGAIN;
}

ssize_t sim_fifo_pop(sim_fifo *f, void *buf, size_t size) {
    if (f->fd < 0)
        return -EBADF;
    ssize_t n = read(f->fd, buf, size);
    return n < 0 ? negative_errno() : n;
}
