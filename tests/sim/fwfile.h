/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Firmware file writers of `stdfu-sim mkfw`: raw .bin, DfuSe .dfu and Intel .hex.
 *
 * They are written here, independently of lib/image (which reads these formats), so that the
 * emulator's files are a second opinion on the formats rather than a mirror of the loader. */

#include <stddef.h>
#include <stdint.h>

typedef enum fw_format {
    FW_FORMAT_BIN,
    FW_FORMAT_DFUSE,
    FW_FORMAT_HEX,
} fw_format;

/* By the file name's extension (.bin, .dfu, .hex, case-insensitive); -EINVAL otherwise. */
int fw_format_from_path(const char *path, fw_format *ret);

/* DfuSe file (UM0391): prefix, one target (alt 0, named "ST..."), one element at address,
 * DFU suffix (DFU 1.1a, bcdDFU 0x011A) with the given ids and its CRC. */
int fw_encode_dfuse(const uint8_t *data, size_t size, uint32_t address, uint16_t vid,
                    uint16_t pid, uint8_t **ret, size_t *ret_size);

/* Intel HEX (I32HEX): extended linear address records, 16-byte data records, a start linear
 * address record with `start` and the end-of-file record. Lines end with CR LF. */
int fw_encode_ihex(const uint8_t *data, size_t size, uint32_t address, uint32_t start,
                   uint8_t **ret, size_t *ret_size);

/* The DFU suffix CRC: CRC-32 (reflected, polynomial 0x04C11DB7) without the final inversion,
 * over every byte of the file before the CRC field. */
uint32_t fw_dfu_crc(const uint8_t *data, size_t size);
