/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Strict number parsing: the whole string must be the number, no sign surprises, no overflow.
 * All return 0 or a negative errno (-EINVAL for junk, -ERANGE for overflow). */

#include <stddef.h>
#include <stdint.h>

int parse_u32(const char *s, uint32_t *ret);   /* decimal, or hex with 0x */
int parse_u16_hex(const char *s, uint16_t *ret); /* "0483": hex, no 0x needed */
int parse_u64(const char *s, uint64_t *ret);   /* decimal, or hex with 0x */
int parse_seconds(const char *s, uint64_t *ret_usec); /* "2.5" -> 2500000 */

/* "0a1b..." (even length, optional separators ':' or ' ') into bytes. Returns the count, or
 * a negative errno. */
int parse_hex_bytes(const char *s, uint8_t *buf, size_t size);
