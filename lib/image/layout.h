/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* DfuSe memory layouts, as the ROM bootloader names them in each alt setting's interface
 * string: "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg".
 *
 * A layout is a name and a list of segments (one per "/ADDR/..." part), each a list of sector
 * runs (count * size, attribute letter a..g: bit 0 readable, bit 1 erasable, bit 2 writable). */

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
    char name[64];              /* "Internal Flash" */
    stdfu_sector_run *runs;
    size_t n_runs;
} stdfu_layout;

#define STDFU_SECTOR_READABLE 0x1
#define STDFU_SECTOR_ERASABLE 0x2
#define STDFU_SECTOR_WRITABLE 0x4

int stdfu_layout_parse(const char *s, stdfu_layout *ret, stdfu_error *err);
void stdfu_layout_done(stdfu_layout *l);

/* The run holding addr, or NULL. */
const stdfu_sector_run *stdfu_layout_find(const stdfu_layout *l, uint32_t addr);
/* Sector containing addr: start and size. -ERANGE if addr is outside. */
int stdfu_layout_sector(const stdfu_layout *l, uint32_t addr, uint32_t *start, uint32_t *size,
                        unsigned *flags);
uint32_t stdfu_layout_total_size(const stdfu_layout *l);
/* "0x08000000 64 x 2 KiB (erasable, writable)" lines for `stdfuctl list`. */
int stdfu_layout_format(const stdfu_layout *l, char *buf, size_t size);
