/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/image's loaders on any bytes: FUZZ_FORMAT (set by fuzz.mk) picks DfuSe, DFU suffix,
 * Intel hex, or detection by content (then the first byte picks the name and options, so that
 * every path of "what is this file" is reached). Whatever loads is also aligned and checked
 * against an F4 and an F0 layout, as the update does before erasing. */
#include <stdint.h>
#include <stdlib.h>

#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_against(const stdfu_image *img, const char *layout_string) {
    stdfu_layout l = {};
    if (stdfu_layout_parse(layout_string, &l, NULL) < 0)
        abort();
    for (size_t i = 0; i < img->n_targets; i++) {
        const stdfu_target *t = &img->targets[i];
        if (stdfu_image_check_layout(img, t, &l, NULL) < 0)
            continue;
        /* every family's programming unit: half-word (F0), word (F4), double word (L4) */
        for (unsigned unit = 2; unit <= STDFU_FLASH_PROGRAM_UNIT; unit *= 2) {
            stdfu_target *aligned = NULL;
            stdfu_sector *sectors = NULL;
            size_t n;
            if (stdfu_image_align_target(img, t, &l, unit, &aligned, NULL) >= 0 &&
                stdfu_image_target_sectors(img, aligned, &l, &sectors, &n, NULL) >= 0)
                free(sectors);
            stdfu_target_free(aligned);
        }
    }
    stdfu_layout_done(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[] = { "fw.bin", "fw.hex", "fw.dfu", "firmware", NULL };
    stdfu_image_load_options o = { .format = FUZZ_FORMAT, .address = 0x08000000 };
    const char *name = "fw";
    stdfu_image *img = NULL;
    stdfu_error err = {};

    if (FUZZ_FORMAT == STDFU_IMAGE_AUTO && size > 0) {
        name = names[data[0] % 5];
        o.has_address = data[0] & 0x8;
        o.raw_unnamed = data[0] & 0x10;
        data++, size--;
    }
    if (FUZZ_FORMAT == STDFU_IMAGE_DFU)
        o.has_address = true;
    if (stdfu_image_load_data(data, size, name, &o, &img, &err) < 0)
        return 0;
    check_against(img, "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg");
    check_against(img, "@Internal Flash  /0x08000000/064*0002Kg/0x1FFFF800/01*016 e");
    stdfu_image_free(img);
    return 0;
}
