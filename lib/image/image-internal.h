/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the format parsers of lib/image: building an image, little-endian reads, the DFU
 * suffix. Not installed, not for callers outside lib/image. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

#define DFU_SUFFIX_SIZE 16
#define DFU_BCD_DFUSE 0x011a
#define DFU_BCD_1_0 0x0100

static inline uint16_t get_le16(const uint8_t *p) {
    return (uint16_t) (p[0] | p[1] << 8);
}

static inline uint32_t get_le32(const uint8_t *p) {
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* The DFU suffix (DFU 1.1, appendix B), read from the end of a file. */
typedef struct dfu_suffix {
    uint16_t bcd_device, pid, vid, bcd_dfu;
    uint8_t length;        /* bLength: 16, more if the vendor put fields before it */
    uint32_t crc_found;    /* dwCRC as stored */
    uint32_t crc_expected; /* computed over everything but dwCRC */
} dfu_suffix;

/* The CRC the DFU suffix carries: CRC-32 (the zlib/IEEE 802.3 polynomial) with the 0xffffffff
 * start value but without the final complement, i.e. ~crc32(). */
uint32_t dfu_crc(const uint8_t *data, size_t size);
/* True if the file ends in something that claims to be a suffix ("UFD", bLength >= 16 and
 * within the file), whatever its CRC. */
bool dfu_suffix_present(const uint8_t *data, size_t size);
/* Reads the suffix; -EINVAL if absent or malformed, -EBADMSG on CRC mismatch (err says both
 * values). */
int dfu_suffix_parse(const uint8_t *data, size_t size, dfu_suffix *ret, stdfu_error *err);

/* For DfuSe files: parses the suffix, requires bcdDFU 0x011a, copies the ids into img and
 * returns the suffix length. */
int image_take_dfuse_suffix(stdfu_image *img, const uint8_t *data, size_t size, size_t *ret_len,
                            stdfu_error *err);

/* One target (opts->alt) holding data at opts->address. what names the file kind in the
 * message refusing a missing address ("a raw binary"). */
int image_add_raw(stdfu_image *img, const uint8_t *data, size_t size,
                  const stdfu_image_load_options *opts, const char *what, stdfu_error *err);

/* Building an image. Elements are copied in; the image is checked by image_finish(). */
int image_add_target(stdfu_image *img, uint8_t alt, const char *name, stdfu_target **ret,
                     stdfu_error *err);
int target_add_element(stdfu_target *t, uint32_t address, const uint8_t *data, size_t size,
                       stdfu_error *err);
/* Takes ownership of data (malloc'd) even on failure. */
int target_add_element_owned(stdfu_target *t, uint32_t address, uint8_t *data, size_t size,
                             stdfu_error *err);

/* The format parsers: fill img (format, targets, suffix fields) from the whole file. */
/* Data of a line-oriented record format gathered by address (records.c). */
typedef struct image_chunk {
    uint32_t address;
    size_t size, allocated;
    uint8_t *data;
    unsigned first_line, last_line;
} image_chunk;

typedef struct image_records {
    image_chunk *chunks;
    size_t n_chunks;
} image_records;

void image_records_done(image_records *r);
/* n bytes at address, from the record on line. -ENOMEM. */
int image_records_add(image_records *r, uint32_t address, const uint8_t *data, size_t n,
                      unsigned line);
/* Sorted, overlaps refused (naming the lines), contiguous chunks joined into elements of t. */
int image_records_to_target(image_records *r, stdfu_target *t, stdfu_error *err);

int image_parse_dfuse(stdfu_image *img, const uint8_t *data, size_t size, stdfu_error *err);
int image_parse_dfu(stdfu_image *img, const uint8_t *data, size_t size,
                    const stdfu_image_load_options *opts, stdfu_error *err);
int image_parse_bin(stdfu_image *img, const uint8_t *data, size_t size,
                    const stdfu_image_load_options *opts, stdfu_error *err);
int image_parse_hex(stdfu_image *img, const uint8_t *data, size_t size,
                    const stdfu_image_load_options *opts, stdfu_error *err);
int image_parse_srec(stdfu_image *img, const uint8_t *data, size_t size,
                     const stdfu_image_load_options *opts, stdfu_error *err);
int image_parse_elf(stdfu_image *img, const uint8_t *data, size_t size,
                    const stdfu_image_load_options *opts, stdfu_error *err);
/* True if data starts like S-records: optional blanks, 'S', a type digit, hex digits. */
bool srec_looks_like(const uint8_t *data, size_t size);
/* True if data starts with the ELF magic. */
bool elf_looks_like(const uint8_t *data, size_t size);
/* True if data starts like Intel hex: optional blanks, then one well-formed record line. */
bool hex_looks_like(const uint8_t *data, size_t size);

/* What data that no parser takes looks like ("a gzip archive", "text"), NULL if nothing
 * known. *ret_strong says whether it is something no raw binary ever is (a hex file with a
 * byte order mark, an archive): refused even from a file named .bin; *ret_advice is then what
 * the user should do about it ("remove the mark ..."), else NULL. */
const char *image_sniff(const uint8_t *data, size_t size, bool *ret_strong,
                        const char **ret_advice);
/* Whether name ends in suffix (".bin"), ignoring case; false for NULL. */
bool image_name_has_suffix(const char *name, const char *suffix);
