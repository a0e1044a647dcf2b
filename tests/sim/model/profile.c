/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The STM32 families the emulator knows: memory layout strings as their ROM bootloaders
 * report them, flash geometry and the datasheet's flash timings. */
#include <stdio.h>
#include <string.h>

#include "model/model-internal.h"
#include "util/macro.h"

/* Option byte reset contents, read through alt setting 1. */

/* RM0091 4.1: nRDP|RDP = 0x55AA (level 0), nUSER|USER = 0x00FF, Data0/1 and WRP0..3 0x00FF. */
static const uint8_t f072_option_bytes[16] = {
    0xaa, 0x55, 0xff, 0x00, 0xff, 0x00, 0xff, 0x00,
    0xff, 0x00, 0xff, 0x00, 0xff, 0x00, 0xff, 0x00,
};
/* RDP = 0xBB: any value but 0xAA and 0xCC is level 1. */
static const uint8_t f072_option_bytes_rdp1[16] = {
    0xbb, 0x44, 0xff, 0x00, 0xff, 0x00, 0xff, 0x00,
    0xff, 0x00, 0xff, 0x00, 0xff, 0x00, 0xff, 0x00,
};
/* RM0090 3.7.1: USER 0xEF / RDP 0xAA at 0x1FFFC000, nWRP 0x0FFF at 0x1FFFC008. */
static const uint8_t f407_option_bytes[16] = {
    0xef, 0xaa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};
static const uint8_t f407_option_bytes_rdp1[16] = {
    0xef, 0x55, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};
/* RM0351 3.4.1: FLASH_OPTR reset value 0xFFEFF8AA, then PCROP/WRP registers erased. */
static const uint8_t l476_option_bytes[40] = {
    0xaa, 0xf8, 0xef, 0xff, 0x55, 0x07, 0x10, 0x00,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
    0xff, 0x00, 0xff, 0x00, 0x00, 0xff, 0x00, 0xff,
    0xff, 0x00, 0xff, 0x00, 0x00, 0xff, 0x00, 0xff,
};
static const uint8_t l476_option_bytes_rdp1[40] = {
    0xbb, 0xf8, 0xef, 0xff, 0x44, 0x07, 0x10, 0x00,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
    0xff, 0x00, 0xff, 0x00, 0x00, 0xff, 0x00, 0xff,
    0xff, 0x00, 0xff, 0x00, 0x00, 0xff, 0x00, 0xff,
};

static const sim_profile profiles[] = {
    {
        /* STM32F072xB, 128 KiB in 64 pages of 2 KiB (RM0091 table 5).
         * DS9826 "Flash memory characteristics": tPROG 16-bit programming time 40/53.5/60 us
         * (min/typ/max); tERASE page (2 KB) 20..40 ms and tME mass erase 20..40 ms, no typical
         * value given: the minimum is used, close to what parts measure. */
        .name = "f072",
        .flash_layout = "@Internal Flash  /0x08000000/064*0002Kg",
        .flash_base = 0x08000000,
        .groups = { { 64, 2048, 20000 } },
        .n_groups = 1,
        .rule = SIM_FLASH_RULE_F0,
        .program_unit = 2,
        .program_ns = 53500,
        .mass_erase_us = 20000,
        .alts = {
            { "@Option Bytes  /0x1FFFF800/01*016 e", 0x1ffff800, 16, f072_option_bytes, false },
        },
        .n_extra_alts = 1,
        .option_bytes_rdp1 = f072_option_bytes_rdp1,
        /* AN2606: the F04x/F07x ROM reports the same serial on every unit. */
        .fixed_serial = true,
        .set_address_poll_ms = -1,
        .mass_erase_poll_ms = -1,
    },
    {
        /* STM32F407xG, 1 MiB: 4 x 16 KiB, 1 x 64 KiB, 7 x 128 KiB sectors (RM0090 table 5).
         * DS8626 "Flash memory programming", x32 parallelism (VDD 2.7..3.6 V, as the ROM runs):
         * tPROG word programming 16 us typ; tERASE16KB 250 ms, tERASE64KB 550 ms,
         * tERASE128KB 1 s typ; tME mass erase 8 s typ. */
        .name = "f407",
        .flash_layout = "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
        .flash_base = 0x08000000,
        .groups = { { 4, 16384, 250000 }, { 1, 65536, 550000 }, { 7, 131072, 1000000 } },
        .n_groups = 3,
        .rule = SIM_FLASH_RULE_F4,
        .program_unit = 4,
        .program_ns = 16000,
        .mass_erase_us = 8000000,
        .alts = {
            { "@Option Bytes  /0x1FFFC000/01*016 e", 0x1fffc000, 16, f407_option_bytes, false },
            { "@OTP Memory /0x1FFF7800/01*512 e,01*016 e", 0x1fff7800, 528, NULL, true },
            { "@Device Feature/0xFFFF0000/01*004 e", 0xffff0000, 4, NULL, false },
        },
        .n_extra_alts = 3,
        .option_bytes_rdp1 = f407_option_bytes_rdp1,
        .rdp_offset = 1,
        .starts_in_error = true,
        /* The F4 ROM reports 104 ms after Set Address and 100 ms for a mass erase that takes
         * seconds (dfu-util special-cases the latter). */
        .set_address_poll_ms = 104,
        .mass_erase_poll_ms = 100,
    },
    {
        /* STM32L476xG, 1 MiB in two banks of 256 pages of 2 KiB (DS10198 3.4), reported as
         * one run of 512 pages. DS10198 "Flash memory characteristics": tPROG 64-bit
         * programming 81.69 us typ; tERASE page (2 KB) 22.02 ms typ; tME 22.13 ms typ. */
        .name = "l476",
        .flash_layout = "@Internal Flash  /0x08000000/512*0002Kg",
        .flash_base = 0x08000000,
        .groups = { { 512, 2048, 22020 } },
        .n_groups = 1,
        .rule = SIM_FLASH_RULE_L4,
        .program_unit = 8,
        .program_ns = 81690,
        .mass_erase_us = 22130,
        .alts = {
            { "@Option Bytes  /0x1FFF7800/01*040 e", 0x1fff7800, 40, l476_option_bytes, false },
            { "@OTP Memory /0x1FFF7000/01*0001Ke", 0x1fff7000, 1024, NULL, true },
            { "@Device Feature/0xFFFF0000/01*004 e", 0xffff0000, 4, NULL, false },
        },
        .n_extra_alts = 3,
        .option_bytes_rdp1 = l476_option_bytes_rdp1,
        .set_address_poll_ms = -1,
        .mass_erase_poll_ms = -1,
    },
};

static const char *const profile_names[] = { "f072", "f407", "l476", NULL };

const sim_profile *sim_profile_find(const char *name) {
    if (!name)
        return NULL;
    for (size_t i = 0; i < ELEMENTSOF(profiles); i++)
        if (streq(profiles[i].name, name))
            return &profiles[i];
    return NULL;
}

const char *sim_profile_name(const sim_profile *p) {
    return p->name;
}

const char *const *sim_profile_names(void) {
    return profile_names;
}

uint32_t sim_profile_flash_base(const sim_profile *p) {
    return p->flash_base;
}

uint32_t sim_profile_flash_size(const sim_profile *p) {
    uint32_t size = 0;
    for (unsigned i = 0; i < p->n_groups; i++)
        size += p->groups[i].count * p->groups[i].size;
    return size;
}

unsigned sim_profile_n_pages(const sim_profile *p) {
    unsigned n = 0;
    for (unsigned i = 0; i < p->n_groups; i++)
        n += p->groups[i].count;
    return n;
}

/* Finds the group of a page and the page's offset in flash. */
static const sim_sector_group *locate_page(const sim_profile *p, unsigned page, uint32_t *off) {
    uint32_t o = 0;
    for (unsigned i = 0; i < p->n_groups; i++) {
        const sim_sector_group *g = &p->groups[i];
        if (page < g->count) {
            *off = o + page * g->size;
            return g;
        }
        page -= g->count;
        o += g->count * g->size;
    }
    return NULL;
}

int sim_profile_page_of(const sim_profile *p, uint32_t addr) {
    uint32_t off, start = 0;
    int page = 0;

    if (addr < p->flash_base || addr - p->flash_base >= sim_profile_flash_size(p))
        return -1;
    off = addr - p->flash_base;
    for (unsigned i = 0; i < p->n_groups; i++) {
        const sim_sector_group *g = &p->groups[i];
        if (off < start + g->count * g->size)
            return page + (int) ((off - start) / g->size);
        start += g->count * g->size;
        page += (int) g->count;
    }
    return -1;
}

uint32_t sim_profile_page_start(const sim_profile *p, unsigned page) {
    uint32_t off = 0;
    return locate_page(p, page, &off) ? p->flash_base + off : 0;
}

uint32_t sim_profile_page_size(const sim_profile *p, unsigned page) {
    uint32_t off;
    const sim_sector_group *g = locate_page(p, page, &off);
    return g ? g->size : 0;
}

sim_usec sim_profile_page_erase_us(const sim_profile *p, unsigned page) {
    uint32_t off;
    const sim_sector_group *g = locate_page(p, page, &off);
    return g ? g->erase_us : 0;
}

sim_usec sim_profile_program_us(const sim_profile *p, uint32_t addr, size_t len) {
    uint64_t first, last;

    if (len == 0)
        return 0;
    first = addr / p->program_unit;
    last = ((uint64_t) addr + len - 1) / p->program_unit;
    return DIV_ROUND_UP((last - first + 1) * p->program_ns, 1000);
}

bool sim_profile_protected(const sim_profile *p, unsigned protect, uint32_t addr, uint32_t len) {
    unsigned n = MIN(protect, sim_profile_n_pages(p));
    uint32_t end;

    if (n == 0 || len == 0)
        return false;
    end = sim_profile_page_start(p, n - 1) + sim_profile_page_size(p, n - 1);
    return addr < end && (uint64_t) addr + len > p->flash_base;
}

/* "@Internal Flash  /0x08000000/" then the runs, the protected pages first as 'a'. */
void sim_profile_protected_layout(const sim_profile *p, unsigned protect, char *buf,
                                  size_t size) {
    const char *runs = strchr(p->flash_layout + 1, '/');
    size_t len;

    runs = runs ? strchr(runs + 1, '/') : NULL;
    if (protect == 0 || !runs) {
        snprintf(buf, size, "%s", p->flash_layout);
        return;
    }
    len = (size_t) (runs + 1 - p->flash_layout);
    snprintf(buf, size, "%.*s", (int) len, p->flash_layout);
    for (unsigned i = 0; i < p->n_groups; i++) {
        const sim_sector_group *g = &p->groups[i];
        unsigned ro = MIN(protect, g->count);
        char *end = buf + strlen(buf);
        size_t left = size - (size_t) (end - buf);

        protect -= ro;
        if (ro > 0)
            snprintf(end, left, "%s%02u*%03uKa", end == buf + len ? "" : ",", ro, g->size / 1024);
        end = buf + strlen(buf);
        left = size - (size_t) (end - buf);
        if (g->count > ro)
            snprintf(end, left, "%s%02u*%03uKg", end == buf + len ? "" : ",", g->count - ro,
                     g->size / 1024);
    }
}
