/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* DfuSe memory layouts, as the ROM bootloader names them in each alt setting's interface
 * string: "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg".
 *
 * A layout is a name and a list of segments (one per "/ADDR/..." part), each a list of sector
 * runs (count * size, attribute letter a..g: bit 0 readable, bit 1 erasable, bit 2 writable).
 *
 * Grammar (ST UM0290, "DfuSe USB device firmware upgrade STMicroelectronics extension",
 * alternate setting string descriptor; dfu-util reads the same). UM0290 says at most 2 digits
 * of count and 3 of size, but ROMs send "064*0002Kg" or "0512*02Kg": any number of digits is
 * accepted.
 *     layout  = "@" NAME segment { segment }
 *     segment = "/" "0x" HEX "/" run { "," run }
 *     run     = COUNT "*" SIZE [ "B" | "K" | "M" | " " ] ATTR      COUNT, SIZE decimal
 *     ATTR    = "a" .. "g"     (letter - 'a' + 1 = STDFU_SECTOR_* bits)
 * Runs of one segment follow each other in memory; runs never overlap; every run lies in the
 * 32-bit address space. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef struct stdfu_sector_run {
    uint32_t address;   /* first sector's address */
    uint32_t count;
    uint32_t size;      /* bytes per sector */
    char attr;          /* 'a'..'g' */
} stdfu_sector_run;

typedef struct stdfu_layout {
    char name[64];              /* "Internal Flash" (longer names are cut) */
    stdfu_sector_run *runs;     /* in the order of the string */
    size_t n_runs;
} stdfu_layout;

#define STDFU_SECTOR_READABLE 0x1
#define STDFU_SECTOR_ERASABLE 0x2
#define STDFU_SECTOR_WRITABLE 0x4

/* One sector: what the engine erases, one at a time. */
typedef struct stdfu_sector {
    uint32_t address;
    uint32_t size;
    unsigned flags;     /* STDFU_SECTOR_* */
} stdfu_sector;

/* Parses s into *ret (to be released with stdfu_layout_done()). Errors quote the offending
 * token, e.g. 'bad sector run "04x016Kg" in memory layout "@Internal Flash  /...": ...'. */
int stdfu_layout_parse(const char *s, stdfu_layout *ret, stdfu_error *err);
void stdfu_layout_done(stdfu_layout *l);

/* STDFU_SECTOR_* bits of an attribute letter, 0 for anything but 'a'..'g'. */
unsigned stdfu_layout_attr_flags(char attr);

/* The run holding addr, or NULL. */
const stdfu_sector_run *stdfu_layout_find(const stdfu_layout *l, uint32_t addr);
/* Sector containing addr: start, size and STDFU_SECTOR_* flags (each may be NULL).
 * -ERANGE if addr is outside. */
int stdfu_layout_sector(const stdfu_layout *l, uint32_t addr, uint32_t *start, uint32_t *size,
                        unsigned *flags);
/* Bytes in all runs (saturates at UINT32_MAX, which no real device reaches). */
uint32_t stdfu_layout_total_size(const stdfu_layout *l);

/* Calls cb once per sector that the byte range [address, address + size) touches, in
 * ascending address order, each sector once. Stops early and returns cb's value when it
 * returns non-zero. Returns -ERANGE without calling cb at all when a byte of the range lies in
 * no sector (so a caller never acts on half a range), 0 when size is 0 or all went well. */
typedef int (*stdfu_sector_cb)(const stdfu_sector *sector, void *userdata);
int stdfu_layout_for_each_sector(const stdfu_layout *l, uint32_t address, uint32_t size,
                                 stdfu_sector_cb cb, void *userdata);
/* The same as an array (malloc'd, *ret_n entries): sectors touched by [address, address+size).
 * -ERANGE when a byte lies in no sector. */
int stdfu_layout_sectors(const stdfu_layout *l, uint32_t address, uint32_t size,
                         stdfu_sector **ret, size_t *ret_n);

/* Human-readable description for `stdfuctl list`, one line per run, each ending in '\n':
 *     "0x08000000  4 x 16 KiB (readable, erasable, writable)"
 * (the layout's name is l->name, printed by the caller as it likes). snprintf() semantics:
 * returns the length of the full text; buf (if size > 0) always ends with a NUL. */
int stdfu_layout_format(const stdfu_layout *l, char *buf, size_t size);

static inline void stdfu_layout_donep(stdfu_layout *l) {
    stdfu_layout_done(l);
}
#define _cleanup_layout_ __attribute__((cleanup(stdfu_layout_donep)))
