/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DfuSe memory layout strings (a ROM's alt setting names, read from any USB device). */
#include <stdlib.h>
#include <string.h>

#include "image/layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = strndup((const char *) data, size);
    stdfu_layout l = {};
    stdfu_sector *sectors = NULL;
    char text[512];
    size_t n;

    if (!s)
        return 0;
    if (stdfu_layout_parse(s, &l, NULL) >= 0) {
        (void) stdfu_layout_format(&l, text, sizeof text);
        (void) stdfu_layout_total_size(&l);
        for (size_t i = 0; i < l.n_runs && i < 4; i++) {
            uint32_t a = l.runs[i].address;
            (void) stdfu_layout_find(&l, a);
            (void) stdfu_layout_sector(&l, a, NULL, NULL, NULL);
            /* a bounded range: a run can claim gigabytes of 1-byte sectors */
            if (stdfu_layout_sectors(&l, a, 4096, &sectors, &n) >= 0)
                free(sectors);
        }
        stdfu_layout_done(&l);
    }
    free(s);
    return 0;
}
