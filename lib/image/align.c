/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the ROM will refuse, checked before anything is erased: the flash's programming unit
 * of the device's family. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/image-internal.h"
#include "util/macro.h"

stdfu_target *stdfu_target_free(stdfu_target *t) {
    if (!t)
        return NULL;
    for (size_t i = 0; i < t->n_elements; i++)
        free(t->elements[i].data);
    free(t->elements);
    free(t);
    return NULL;
}

/* Whether every run of l is of sectors of size (bytes). */
static bool all_sectors(const stdfu_layout *l, uint32_t size) {
    for (size_t i = 0; i < l->n_runs; i++)
        if (l->runs[i].size != size)
            return false;
    return l->n_runs > 0;
}

unsigned stdfu_image_program_unit(const stdfu_layout *flash, const stdfu_layout *option_bytes) {
    uint32_t ob;

    if (!flash || flash->n_runs == 0 || !option_bytes || option_bytes->n_runs == 0)
        return STDFU_FLASH_PROGRAM_UNIT;
    ob = option_bytes->runs[0].address;
    if (ob == 0x1ffff800 && (all_sectors(flash, 1024) || all_sectors(flash, 2048)))
        return 2;
    if (ob == 0x1fffc000 && flash->runs[0].size == 16384)
        return 4;
    if (ob == 0x1fff7800 && all_sectors(flash, 2048))
        return 8;
    return STDFU_FLASH_PROGRAM_UNIT;
}

/* Whether [lo, hi) lies in sectors that are all erasable: the erase leaves 0xff there. */
static bool range_erasable(const stdfu_layout *l, uint64_t lo, uint64_t hi, uint32_t *bad) {
    for (uint64_t a = lo; a < hi;) {
        uint32_t start, size;
        unsigned flags;
        if (a > UINT32_MAX || stdfu_layout_sector(l, (uint32_t) a, &start, &size, &flags) < 0 ||
            !(flags & STDFU_SECTOR_ERASABLE)) {
            *bad = (uint32_t) MIN(a, (uint64_t) UINT32_MAX);
            return false;
        }
        a = (uint64_t) start + size;
    }
    return true;
}

/* Appends [lo, hi) to out, holding e's bytes and 0xff around them; joins the last element of
 * out when lo falls inside it (two elements in one programming unit). */
static int append_padded(stdfu_target *out, const stdfu_element *e, uint64_t lo, uint64_t hi) {
    stdfu_element *last = out->n_elements ? &out->elements[out->n_elements - 1] : NULL;

    if (last && lo < (uint64_t) last->address + last->size) {
        uint64_t start = last->address;
        uint8_t *p = realloc(last->data, (size_t) (hi - start));
        if (!p)
            return -ENOMEM;
        memset(p + last->size, 0xff, (size_t) (hi - start - last->size));
        memcpy(p + (e->address - start), e->data, e->size);
        last->data = p;
        last->size = (uint32_t) (hi - start);
        return 0;
    }
    stdfu_element *a = reallocarray(out->elements, out->n_elements + 1, sizeof *a);
    if (!a)
        return -ENOMEM;
    out->elements = a;
    uint8_t *p = malloc((size_t) (hi - lo));
    if (!p)
        return -ENOMEM;
    memset(p, 0xff, (size_t) (hi - lo));
    memcpy(p + (e->address - lo), e->data, e->size);
    out->elements[out->n_elements++] = (stdfu_element) {
        .address = (uint32_t) lo, .size = (uint32_t) (hi - lo), .data = p };
    return 0;
}

int stdfu_image_align_target(const stdfu_image *img, const stdfu_target *target,
                             const stdfu_layout *layout, unsigned unit, stdfu_target **ret,
                             stdfu_error *err) {
    stdfu_target *out = calloc(1, sizeof *out);
    int r = 0;

    if (!out)
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    out->alt = target->alt;
    memcpy(out->name, target->name, sizeof out->name);
    for (size_t i = 0; i < target->n_elements && r >= 0; i++) {
        const stdfu_element *e = &target->elements[i];
        uint64_t lo = e->address, hi = (uint64_t) e->address + e->size;
        uint32_t bad;

        /* Only erasable flash is programmed in units; option bytes are written as given. */
        if (unit > 1 && range_erasable(layout, lo, hi, &bad)) {
            lo -= lo % unit;
            hi += (unit - hi % unit) % unit;
            if (!range_erasable(layout, lo, hi, &bad)) {
                r = stdfu_error_set(err, -EINVAL,
                                    "element at 0x%08x..0x%08x does not fill whole %u-byte "
                                    "programming units, and padding it with 0xff to "
                                    "0x%08x..0x%08x would reach 0x%08x, which is not erasable "
                                    "flash",
                                    e->address, (uint32_t) (e->address + e->size - 1), unit,
                                    (uint32_t) lo, (uint32_t) (hi - 1), bad);
                break;
            }
        }
        if (append_padded(out, e, lo, hi) < 0)
            r = stdfu_error_set(err, -ENOMEM, "Out of memory.");
    }
    if (r < 0) {
        stdfu_target_free(out);
        if (img && img->name && r != -ENOMEM)
            stdfu_error_prefix(err, "%s", img->name);
        return r;
    }
    *ret = out;
    return 0;
}
