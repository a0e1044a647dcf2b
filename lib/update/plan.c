/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which target goes to which alt, in which order, as written: everything the ROM would refuse
 * is found here, before the first erase. */
#include "update/plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/macro.h"

bool stdfu_layout_is_option_bytes(const stdfu_layout *l) {
    return l && strstr(l->name, "Option Bytes");
}

void stdfu_update_plan_done(stdfu_update_plan *p) {
    for (size_t i = 0; i < p->n_parts; i++)
        stdfu_target_free(p->parts[i].target);
    p->parts = mfree(p->parts);
    p->n_parts = 0;
}

const stdfu_update_part *stdfu_update_plan_find(const stdfu_update_plan *p, uint8_t alt) {
    for (size_t i = 0; i < p->n_parts; i++)
        if (p->parts[i].alt == alt)
            return &p->parts[i];
    return NULL;
}

/* The programming unit of the device's family, from its main flash's and option bytes'
 * layouts, whichever alts the image names: ROMs number their alts from 0 without gaps, so the
 * first missing one ends the search. */
static unsigned device_unit(stdfu_update_layout_fn layout_of, void *userdata) {
    const stdfu_layout *flash = NULL, *ob = NULL;

    for (unsigned alt = 0; alt <= UINT8_MAX && !(flash && ob); alt++) {
        const stdfu_layout *l;
        if (layout_of(userdata, (uint8_t) alt, &l, NULL) < 0)
            break;
        if (!l || l->n_runs == 0)
            continue;
        if (stdfu_layout_is_option_bytes(l))
            ob = ob ?: l;
        else if (!flash && strstr(l->name, "Flash"))
            flash = l;
    }
    return stdfu_image_program_unit(flash, ob);
}

static int plan_target(const stdfu_image *img, const stdfu_target *t, unsigned unit,
                       stdfu_update_layout_fn layout_of, void *userdata, stdfu_update_part *ret,
                       stdfu_error *err) {
    const stdfu_layout *layout;
    int r;

    r = layout_of(userdata, t->alt, &layout, err);
    if (r < 0) {
        stdfu_error_prefix(err, "the file's target for alt %u (%llu bytes)", t->alt,
                           (unsigned long long) stdfu_target_total_bytes(t));
        return r;
    }
    if (!layout)
        return stdfu_error_set(err, -EMEDIUMTYPE, "alt setting %u of the bootloader has no "
                               "DfuSe memory layout", t->alt);
    r = stdfu_image_check_layout(img, t, layout, err);
    if (r >= 0)
        r = stdfu_image_align_target(img, t, layout, unit, &ret->target, err);
    if (r < 0) {
        stdfu_error_prefix(err, "alt %u (%s)", t->alt, layout->name);
        return r;
    }
    ret->alt = t->alt;
    ret->option_bytes = stdfu_layout_is_option_bytes(layout);
    return 0;
}

/* Main flash first, then by alt; option bytes last: their write ends in the ROM's reset. */
static int part_cmp(const void *a, const void *b) {
    const stdfu_update_part *x = a, *y = b;
    if (x->option_bytes != y->option_bytes)
        return x->option_bytes ? 1 : -1;
    return (int) x->alt - (int) y->alt;
}

int stdfu_update_plan_make(const stdfu_image *img, stdfu_update_layout_fn layout_of,
                           void *userdata, stdfu_update_plan *ret, stdfu_error *err) {
    stdfu_update_plan p = {};
    int r = 0;

    p.parts = calloc(MAX(img->n_targets, (size_t) 1), sizeof *p.parts);
    if (!p.parts)
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    p.unit = device_unit(layout_of, userdata);
    for (size_t i = 0; i < img->n_targets && r >= 0; i++) {
        r = plan_target(img, &img->targets[i], p.unit, layout_of, userdata, &p.parts[i], err);
        if (r >= 0)
            p.n_parts++;
    }
    if (r >= 0)
        qsort(p.parts, p.n_parts, sizeof *p.parts, part_cmp);
    if (r >= 0 && p.n_parts >= 2 && p.parts[p.n_parts - 2].option_bytes)
        r = stdfu_error_set(err, -EINVAL, "the file holds option bytes for alt %u and alt %u: "
                            "each write of them resets the device, write them one at a time",
                            p.parts[p.n_parts - 2].alt, p.parts[p.n_parts - 1].alt);
    if (r < 0) {
        stdfu_update_plan_done(&p);
        return r;
    }
    *ret = p;
    return 0;
}
