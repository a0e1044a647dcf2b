/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Flash memory as silicon has it: erase sets a page to 0xff, programming can only clear bits,
 * and each family refuses (or silently mangles) a program of a cell that is not erased. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model-internal.h"
#include "util/macro.h"

int sim_memory_init(sim_memory *m, const sim_profile *p) {
    *m = (sim_memory) { .profile = p };
    m->flash_size = sim_profile_flash_size(p);
    m->flash = malloc(m->flash_size);
    if (!m->flash)
        return -ENOMEM;
    memset(m->flash, SIM_FLASH_ERASED, m->flash_size);
    for (unsigned i = 0; i < p->n_extra_alts; i++) {
        const sim_alt_region *r = &p->alts[i];
        m->alt_mem[i + 1] = malloc(r->size);
        if (!m->alt_mem[i + 1]) {
            sim_memory_done(m);
            return -ENOMEM;
        }
        if (r->init)
            memcpy(m->alt_mem[i + 1], r->init, r->size);
        else
            memset(m->alt_mem[i + 1], SIM_FLASH_ERASED, r->size);
    }
    return 0;
}

void sim_memory_done(sim_memory *m) {
    free(m->flash);
    m->flash = NULL;
    for (unsigned i = 0; i < SIM_MAX_ALTS; i++) {
        free(m->alt_mem[i]);
        m->alt_mem[i] = NULL;
    }
}

uint8_t *sim_memory_region(sim_memory *m, unsigned alt, uint32_t *base, uint32_t *size) {
    if (alt == 0) {
        *base = m->profile->flash_base;
        *size = (uint32_t) m->flash_size;
        return m->flash;
    }
    if (alt > m->profile->n_extra_alts)
        return NULL;
    *base = m->profile->alts[alt - 1].base;
    *size = m->profile->alts[alt - 1].size;
    return m->alt_mem[alt];
}

bool sim_memory_contains(sim_memory *m, unsigned alt, uint32_t addr, uint32_t len) {
    uint32_t base, size;

    if (!sim_memory_region(m, alt, &base, &size))
        return false;
    if (addr < base || addr - base >= size)
        return false;
    return len <= size - (addr - base);
}

void sim_memory_erase_page(sim_memory *m, unsigned page) {
    uint32_t start = sim_profile_page_start(m->profile, page) - m->profile->flash_base;
    memset(m->flash + start, SIM_FLASH_ERASED, sim_profile_page_size(m->profile, page));
    m->generation++;
}

void sim_memory_erase_all(sim_memory *m) {
    memset(m->flash, SIM_FLASH_ERASED, m->flash_size);
    m->generation++;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

/* One program unit (half-word, word, double word) at cell, the bytes outside [lo, hi) of the
 * unit given as 0xff as the ROM pads them. */
static sim_dfu_status program_unit(sim_flash_rule rule, uint8_t *cell, const uint8_t *val,
                                   unsigned unit) {
    switch (rule) {
    case SIM_FLASH_RULE_F0:
    case SIM_FLASH_RULE_L4:
        /* RM0091 3.2.2 (PGERR) and RM0351 3.3.7 (PROGERR): the program is skipped when the
         * cell is not erased, except when the value is all zeros. */
        if (!all_bytes(cell, unit, SIM_FLASH_ERASED) && !all_bytes(val, unit, 0))
            return SIM_DFU_ERR_WRITE;
        memcpy(cell, val, unit);
        return SIM_DFU_OK;
    case SIM_FLASH_RULE_F4: {
        /* RM0090 3.5.4: programming only turns 1s into 0s; the ROM reads back and reports
         * errVERIFY when the cells do not hold what was sent. */
        bool ok = true;
        for (unsigned i = 0; i < unit; i++) {
            cell[i] &= val[i];
            ok = ok && cell[i] == val[i];
        }
        return ok ? SIM_DFU_OK : SIM_DFU_ERR_VERIFY;
    }
    }
    return SIM_DFU_ERR_UNKNOWN;
}

static sim_dfu_status program_flash(sim_memory *m, uint32_t off, const uint8_t *data,
                                    size_t len, size_t *programmed) {
    const sim_profile *p = m->profile;
    unsigned unit = p->program_unit;
    uint32_t first = off - off % unit;
    sim_dfu_status st = SIM_DFU_OK;

    *programmed = 0;
    for (uint32_t u = first; u < off + len && st == SIM_DFU_OK; u += unit) {
        uint8_t val[8];
        for (unsigned i = 0; i < unit; i++) {
            uint32_t a = u + i;
            val[i] = (a >= off && a < off + len) ? data[a - off] : SIM_FLASH_ERASED;
        }
        st = program_unit(p->rule, m->flash + u, val, unit);
        if (st == SIM_DFU_OK)
            *programmed = MIN((size_t) (u + unit - off), len);
        else if (st == SIM_DFU_ERR_VERIFY)
            *programmed = MIN((size_t) (u + unit - off), len); /* cells were touched */
    }
    m->generation++;
    return st;
}

sim_dfu_status sim_memory_program(sim_memory *m, unsigned alt, uint32_t addr,
                                  const uint8_t *data, size_t len, size_t *programmed) {
    uint32_t base, size;
    uint8_t *mem = sim_memory_region(m, alt, &base, &size);

    *programmed = 0;
    if (!mem || !sim_memory_contains(m, alt, addr, (uint32_t) len))
        return SIM_DFU_ERR_TARGET;
    if (alt == 0)
        return program_flash(m, addr - base, data, len, programmed);

    /* Option bytes are rewritten as a whole by the loader; OTP only clears bits. */
    for (size_t i = 0; i < len; i++) {
        uint8_t *cell = mem + (addr - base) + i;
        *cell = m->profile->alts[alt - 1].clear_bits_only ? (uint8_t) (*cell & data[i]) : data[i];
    }
    *programmed = len;
    return SIM_DFU_OK;
}
