/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <fcntl.h> /* AT_FDCWD */
#include <stddef.h>
#include <stdint.h>

/* Reads a regular file of at most max_size bytes, relative to dir_fd (AT_FDCWD for a path).
 * Opened with O_NONBLOCK and checked with fstat() before the first read, so that a FIFO, a
 * device (/dev/zero) or a socket is refused at once instead of blocking the main loop or being
 * read for minutes: -EISDIR for a directory, -EBADFD for anything else that is not a regular
 * file, -EFBIG when larger than max_size (by its size, before reading; again while reading, for
 * a file that grows). ret_mode (optional): its st_mode. nofollow: a symbolic link is refused (-ELOOP) rather than followed. */
int read_regular_file_at(int dir_fd, const char *path, size_t max_size, int nofollow,
                         unsigned *ret_mode, uint8_t **ret_data, size_t *ret_size);

/* A user's words for the errors above: "not a regular file", else strerror(). */
const char *read_regular_strerror(int r);
