/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* HID report descriptors (read from the application's hidraw node: any device can send one). */
#include "update/hid-descriptor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stdfu_hid_descriptor d;
    if (stdfu_hid_descriptor_parse(data, size, &d, NULL) < 0)
        return 0;
    for (int t = 0; t < _STDFU_HID_REPORT_TYPE_MAX; t++)
        for (unsigned id = 0; id < 256; id += 0x40)
            (void) stdfu_hid_descriptor_find(&d, (stdfu_hid_report_type) t, (uint8_t) id);
    return 0;
}
