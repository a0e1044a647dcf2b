/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util/macro.h"

int read_full_fd(int fd, size_t max_size, uint8_t **ret_data, size_t *ret_size) {
    _cleanup_free_ uint8_t *buf = NULL;
    size_t size = 0, allocated = 0;

    for (;;) {
        if (allocated - size < 4096 + 1) {
            size_t want = MAX(allocated * 2, (size_t) 16384);
            uint8_t *p = realloc(buf, want);
            if (!p)
                return -ENOMEM;
            buf = p;
            allocated = want;
        }
        ssize_t k = read(fd, buf + size, allocated - size - 1);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return negative_errno();
        }
        if (k == 0)
            break;
        size += (size_t) k;
        if (size > max_size)
            return -EFBIG;
    }
    buf[size] = 0;
    *ret_data = TAKE_PTR(buf);
    *ret_size = size;
    return 0;
}

int read_full_file(const char *path, size_t max_size, uint8_t **ret_data, size_t *ret_size) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;

    if (fd < 0)
        return negative_errno();
    if (fstat(fd, &st) < 0)
        return negative_errno();
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    return read_full_fd(fd, max_size, ret_data, ret_size);
}

static int fsync_directory_of(const char *path) {
    _cleanup_free_ char *dir = strdup(path);
    if (!dir)
        return -ENOMEM;
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return negative_errno();
    return fsync(fd) < 0 ? negative_errno() : 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, unsigned mode) {
    char tmp[PATH_MAX];
    const uint8_t *p = data;

    if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int) sizeof tmp)
        return -ENAMETOOLONG;
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return negative_errno();

    int r = 0;
    if (fchmod(fd, mode) < 0)
        r = negative_errno();
    while (r == 0 && size > 0) {
        ssize_t k = write(fd, p, size);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            r = negative_errno();
            break;
        }
        p += k;
        size -= (size_t) k;
    }
    if (r == 0 && fsync(fd) < 0)
        r = negative_errno();
    if (r == 0 && rename(tmp, path) < 0)
        r = negative_errno();
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    return fsync_directory_of(path);
}
