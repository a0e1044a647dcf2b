/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Reads a whole file (or what an fd has from its current offset) into a malloc'd buffer, with
 * a NUL after the data for convenience. Refuses files over max_size with -EFBIG. */
int read_full_file(const char *path, size_t max_size, uint8_t **ret_data, size_t *ret_size);
int read_full_fd(int fd, size_t max_size, uint8_t **ret_data, size_t *ret_size);

/* Replaces path atomically and durably: write a temporary file in the same directory, fsync,
 * rename over path, fsync the directory. After a crash either the old or the new content is
 * there, never a mix. */
int write_file_atomic(const char *path, const void *data, size_t size, unsigned mode);
