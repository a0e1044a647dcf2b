/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Firmware images: what to write where.
 *
 * Formats: DfuSe .dfu (prefix "DfuSe", targets per alt setting, several elements per target,
 * target names, DFU suffix), plain DFU 1.1 suffix on raw data, raw .bin at an address, Intel
 * .hex, Motorola S-records, ELF executables (read with elfutils' libelf). Whatever the format, an image is a list of targets (alt settings) each holding
 * elements (address + bytes) sorted by address and never overlapping. Targets have distinct
 * alt settings (DfuSe targets naming the same alt are merged into the first) and at least one
 * element each (targets without data are dropped); an image has at least one target.
 *
 * Loading checks the file itself (structure, CRC of the suffix, overlaps); checking against a
 * device (layout, ids) is stdfu_image_check_*(): both happen before any device is touched. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/layout.h"
#include "util/error.h"

typedef enum stdfu_image_format {
    STDFU_IMAGE_AUTO,  /* by content, in this order: DfuSe prefix; DFU suffix ("UFD" signature:
                        * its CRC must then match); Intel hex (a valid ':' record first);
                        * S-records ("S0".."S9" and hex digits first); the ELF magic;
                        * else raw binary, but only from a file named *.bin (or data that
                        * has no file name: see raw_unnamed); anything else is refused, naming
                        * what it looks like (ELF, S-records, text, ...). Never guessed. */
    STDFU_IMAGE_DFUSE,
    STDFU_IMAGE_DFU,   /* raw data + DFU 1.1 suffix */
    STDFU_IMAGE_BIN,
    STDFU_IMAGE_HEX,
    STDFU_IMAGE_SREC,  /* Motorola S-records: S1/S2/S3 data, S5/S6 counts, S7/S8/S9 start */
    STDFU_IMAGE_ELF,   /* an ELF executable: its PT_LOAD segments at their physical addresses */
} stdfu_image_format;

typedef struct stdfu_element {
    uint32_t address;
    uint32_t size;
    uint8_t *data;
} stdfu_element;

typedef struct stdfu_target {
    uint8_t alt;
    char name[256];      /* DfuSe target name, "" if none */
    stdfu_element *elements;
    size_t n_elements;
} stdfu_target;

typedef struct stdfu_image {
    char *name;                    /* for messages ("fw.dfu: ..."), NULL if none was given */
    stdfu_image_format format;
    bool has_suffix;
    uint16_t vid, pid, bcd_device; /* from the suffix; 0xffff = any (and when no suffix) */
    uint16_t bcd_dfu;              /* the suffix's bcdDFU: 0x0100, or 0x011a for DfuSe */
    bool has_start_address;        /* Intel hex start (linear) address record, S7/S8/S9, the
                                    * ELF entry point */
    uint32_t start_address;
    stdfu_target *targets;
    size_t n_targets;
    uint8_t sha256[32];            /* of the file as loaded */
    uint64_t total_bytes;          /* payload bytes in all elements */
} stdfu_image;

typedef struct stdfu_image_load_options {
    stdfu_image_format format; /* AUTO unless forced */
    bool has_address;          /* --address: required for .bin and raw DFU, refused for DfuSe
                                * and hex (they carry their own) */
    uint32_t address;
    uint8_t alt;               /* target alt setting for formats that have none (default 0) */
    bool raw_unnamed;          /* the name is a label, not a file name (data passed as an fd
                                * over D-Bus): data that no parser takes is a raw binary as if
                                * named .bin (so it needs an address) */
} stdfu_image_load_options;

/* name is only used in messages ("fw.dfu: ..."), may be NULL. Refusals (all with err set, the
 * message starting with the name):
 *   -EINVAL   malformed file (truncated: names the offset; overlapping elements: names the
 *             addresses; Intel hex: names the line), --address given to a format that has its
 *             own addresses, no address for a raw binary or raw DFU file, empty file or image
 *   -EMEDIUMTYPE  a file that no parser takes and is not a raw binary (not named .bin, or
 *             plainly something else: an ELF, S-records, ...); names what it looks like
 *   -EBADMSG  DFU suffix CRC mismatch (expected vs found)
 *   -EFBIG    file over 256 MiB
 * _fd reads from the fd's current offset to its end; _file opens path (name = path). */
int stdfu_image_load_data(const uint8_t *data, size_t size, const char *name,
                          const stdfu_image_load_options *opts, stdfu_image **ret,
                          stdfu_error *err);
int stdfu_image_load_fd(int fd, const char *name, const stdfu_image_load_options *opts,
                        stdfu_image **ret, stdfu_error *err);
int stdfu_image_load_file(const char *path, const stdfu_image_load_options *opts,
                          stdfu_image **ret, stdfu_error *err);
stdfu_image *stdfu_image_free(stdfu_image *img);

const char *stdfu_image_format_to_string(stdfu_image_format f);
/* "auto", "dfuse", "dfu", "bin", "hex", "srec", "elf" (--format); -EINVAL for anything
 * else. */
int stdfu_image_format_from_string(const char *s, stdfu_image_format *ret);
const stdfu_target *stdfu_image_find_target(const stdfu_image *img, uint8_t alt);

/* Refuses a suffix whose idVendor/idProduct (unless 0xffff) differ from the device's. */
int stdfu_image_check_ids(const stdfu_image *img, uint16_t vid, uint16_t pid, stdfu_error *err);
/* Every element of target must lie in writable sectors of layout: names the first offending
 * address (outside, read-only, over the size of flash). -EINVAL for a target the layout
 * cannot hold (out of range, over the size), -EPERM for a non-writable sector. img only names
 * the file in messages: the engine, which has no file, passes NULL. */
int stdfu_image_check_layout(const stdfu_image *img, const stdfu_target *target,
                             const stdfu_layout *layout, stdfu_error *err);

/* Sectors that the elements of target touch, ascending, each once even when several
 * elements share it: what the engine erases (only those whose flags have
 * STDFU_SECTOR_ERASABLE; option bytes are written without an erase). *ret is malloc'd.
 * Errors as stdfu_image_check_layout() for an element outside the layout. */
int stdfu_image_target_sectors(const stdfu_image *img, const stdfu_target *target,
                               const stdfu_layout *layout, stdfu_sector **ret, size_t *ret_n,
                               stdfu_error *err);

/* The programming unit of the ROMs' flash: a whole number of these is programmed at a time,
 * at an address that is a multiple of it, and a ROM refuses (errWRITE on F0/L4: PGERR/PROGERR,
 * a unit already programmed) or reports errVERIFY (F4: the bits it cannot set) when a transfer
 * starts or ends inside one, as the next transfer then reprograms it. F0 (RM0091 3.2.2):
 * half-word; F4 (RM0090 3.5.4): x8/x16/x32 set by the ROM from the supply voltage, word at
 * 2.7..3.6 V, byte below; L4 (RM0351 3.3.7): double word. 8 covers all of them: padding a
 * few more bytes with 0xff, which the erased page already holds, changes nothing. It is the
 * unit used when the family is not known (stdfu_image_program_unit). */
#define STDFU_FLASH_PROGRAM_UNIT 8u

/* The programming unit of the device's family, told from what its ROM reports: every DfuSe ROM
 * is 0483:df11 with bcdDevice 0x2200, so the layout strings are what tells the families apart:
 * the main flash's geometry (flash, may be NULL) and the option bytes' address (option_bytes,
 * may be NULL).
 *   F0/F1/F3: option bytes at 0x1FFFF800, pages of 1 or 2 KiB: half-word, 2
 *   F2/F4:    option bytes at 0x1FFFC000, 16 KiB sectors first: the ROM programs by byte,
 *             half-word or word (PSIZE from the supply voltage; x64 needs an external VPP it
 *             never assumes): 4 covers all three
 *   L4/G4:    option bytes at 0x1FFF7800, pages of 2 KiB: double word, 8
 * anything else (unknown, a layout missing): STDFU_FLASH_PROGRAM_UNIT, the largest. */
unsigned stdfu_image_program_unit(const stdfu_layout *flash, const stdfu_layout *option_bytes);

/* A copy of target as it is written: every element in erasable flash starts and ends on a
 * unit boundary, padded with 0xff (the erased value) where it does not; elements that share
 * a unit are joined with 0xff between them, so padding never overwrites data. Elements in
 * sectors that are not erasable (option bytes) are copied as they are. -EINVAL, naming the
 * element, the unit and the address, when padding would reach a sector that is not erasable
 * flash. Free the result with stdfu_target_free(). */
int stdfu_image_align_target(const stdfu_image *img, const stdfu_target *target,
                             const stdfu_layout *layout, unsigned unit, stdfu_target **ret,
                             stdfu_error *err);
stdfu_target *stdfu_target_free(stdfu_target *t);

/* Lowest element address of target (where the engine points "leave"), 0 if it has none. */
uint32_t stdfu_target_base_address(const stdfu_target *target);
/* Payload bytes of one target. */
uint64_t stdfu_target_total_bytes(const stdfu_target *target);

static inline void stdfu_image_freep(stdfu_image **p) {
    if (*p)
        stdfu_image_free(*p);
}
#define _cleanup_image_ __attribute__((cleanup(stdfu_image_freep)))
