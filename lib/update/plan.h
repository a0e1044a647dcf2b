/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What one run writes, decided before anything is erased: each target of the image on its own
 * alt setting, checked against the memory layout the bootloader reports for that alt (range,
 * writable sectors, the programming unit of the device's family), the main flash first and the
 * option bytes last, since the ROM resets the chip once they are written. A file naming an alt
 * the device lacks, or a target that does not fit its alt, is refused as a whole. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"
#include "image/layout.h"
#include "util/error.h"

/* The layout the bootloader reports for alt: 0 with *ret (NULL when the alt's name is no
 * layout), -ENOENT with err set when the device has no such alt. The layout stays valid while
 * the plan is made. */
typedef int (*stdfu_update_layout_fn)(void *userdata, uint8_t alt, const stdfu_layout **ret,
                                      stdfu_error *err);

typedef struct stdfu_update_part {
    uint8_t alt;
    bool option_bytes;        /* the alt's layout is named "Option Bytes" */
    stdfu_target *target;     /* as written: whole programming units (stdfu_image_align_target) */
} stdfu_update_part;

typedef struct stdfu_update_plan {
    stdfu_update_part *parts; /* the main flash's (not option bytes) first, in alt order */
    size_t n_parts;
    unsigned unit;            /* the programming unit used (stdfu_image_program_unit) */
} stdfu_update_plan;

bool stdfu_layout_is_option_bytes(const stdfu_layout *l);

/* -ENOENT naming the alt the device lacks, -EMEDIUMTYPE for an alt without a layout, the
 * errors of stdfu_image_check_layout()/stdfu_image_align_target() prefixed with the alt, or
 * -EINVAL for two targets that are option bytes. Release *ret with stdfu_update_plan_done(). */
int stdfu_update_plan_make(const stdfu_image *img, stdfu_update_layout_fn layout_of,
                           void *userdata, stdfu_update_plan *ret, stdfu_error *err);
void stdfu_update_plan_done(stdfu_update_plan *p);

/* The part written on alt, NULL if none. */
const stdfu_update_part *stdfu_update_plan_find(const stdfu_update_plan *p, uint8_t alt);
