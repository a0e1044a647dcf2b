/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* The SHA-256 of data in lowercase hex. Should the digest fail, out holds 64 '?', which never
 * equals a valid hash: a comparison reports a mismatch. */
void stdfu_sha256_hex(const void *data, size_t size, char out[static 65]);
