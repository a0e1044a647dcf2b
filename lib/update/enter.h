/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Telling a running application to jump into the ROM bootloader.
 *
 *   auto           ST's DfuSe HID detach if the HID report descriptor declares it, else
 *                  DFU_DETACH if there is a DFU runtime interface, else an error
 *   st-hid-detach  a feature report in the vendor usage page 0xFF00, sent as
 *                  [report ID, 0x55, zeros up to the report size] (what DfuSeDemo does)
 *   hid-feature:HEX  those bytes (report ID first) with HIDIOCSFEATURE on the hidraw node
 *   hid-output:HEX   those bytes (report ID first) written to the hidraw node
 *   detach         DFU_DETACH on the DFU runtime interface, then a USB reset unless the
 *                  runtime's bmAttributes has bitWillDetach
 *   none           nothing: the device must already be in (or get into) the bootloader
 *
 * Sending does not wait: the caller waits for the bootloader on the same port with a watch
 * created before sending (lib/usb). */

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct libusb_context;
struct stdfu_usb_info;

typedef enum stdfu_enter_kind {
    STDFU_ENTER_AUTO,
    STDFU_ENTER_ST_HID_DETACH,
    STDFU_ENTER_HID_FEATURE,
    STDFU_ENTER_HID_OUTPUT,
    STDFU_ENTER_DETACH,
    STDFU_ENTER_NONE,
} stdfu_enter_kind;

#define STDFU_ENTER_MAX_BYTES 64

typedef struct stdfu_enter_method {
    stdfu_enter_kind kind;
    uint8_t bytes[STDFU_ENTER_MAX_BYTES]; /* HID_FEATURE, HID_OUTPUT: report ID first */
    size_t n_bytes;
} stdfu_enter_method;

const char *stdfu_enter_kind_to_string(stdfu_enter_kind k);
/* "auto", "st-hid-detach", "hid-feature:8055", "hid-output:0102", "detach", "none". */
int stdfu_enter_method_parse(const char *s, stdfu_enter_method *ret, stdfu_error *err);
int stdfu_enter_method_format(const stdfu_enter_method *m, char *buf, size_t size);

/* Sends the request that makes the application at app jump to the bootloader. AUTO is
 * resolved against the device; *ret_used (may be NULL) says which method was sent. A request
 * that fails because the device is already gone counts as sent. ctx may be NULL: DFU_DETACH,
 * the only method that needs libusb, then makes a context of its own for the request (a context
 * costs a scan of every USB device, wasted on the hidraw methods). */
int stdfu_enter_bootloader(struct libusb_context *ctx, const struct stdfu_usb_info *app,
                           const stdfu_enter_method *m, stdfu_enter_kind *ret_used,
                           stdfu_error *err);
