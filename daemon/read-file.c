/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "read-file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "util/fileio.h"
#include "util/macro.h"

int read_regular_file_at(int dir_fd, const char *path, size_t max_size, int nofollow,
                         unsigned *ret_mode, uint8_t **ret_data, size_t *ret_size) {
    struct stat st;
    _cleanup_close_ int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                                    (nofollow ? O_NOFOLLOW : 0));
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    if (!S_ISREG(st.st_mode))
        return -EBADFD;
    if ((uint64_t) st.st_size > max_size)
        return -EFBIG;
    if (ret_mode)
        *ret_mode = (unsigned) st.st_mode;
    return read_full_fd(fd, max_size, ret_data, ret_size);
}

const char *read_regular_strerror(int r) {
    if (r == -EBADFD)
        return "not a regular file";
    if (r == -ELOOP)
        return "a symbolic link";
    return strerror(-r);
}
