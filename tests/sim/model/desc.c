/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* USB descriptors of both modes: the ROM bootloader (0483:df11, DfuSe, one alt setting per
 * memory) and the HID application (with a DFU runtime interface when enter=detach). */
#include <errno.h>
#include <string.h>

#include "model/model-internal.h"
#include "util/macro.h"

#define ST_VID 0x0483
#define ST_DFU_PID 0xdf11
#define ROM_BCD_DEVICE 0x2200

/* DFU functional descriptor as the ROM has it: bmAttributes 0x0B (willDetach, canUpload,
 * canDnload; not manifestation tolerant), wDetachTimeOut 255 ms, wTransferSize 2048,
 * bcdDFUVersion 0x011A (DfuSe). */
static const uint8_t dfu_functional[9] = { 0x09, 0x21, 0x0b, 0xff, 0x00, 0x00, 0x08, 0x1a, 0x01 };

static void device_descriptor(uint8_t *d, uint16_t vid, uint16_t pid, uint16_t bcd) {
    static const uint8_t head[8] = { 18, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 64 };
    memcpy(d, head, sizeof head);
    sim_put_le16(d + 8, vid);
    sim_put_le16(d + 10, pid);
    sim_put_le16(d + 12, bcd);
    d[14] = 1; /* iManufacturer */
    d[15] = 2; /* iProduct */
    d[16] = 3; /* iSerialNumber */
    d[17] = 1; /* bNumConfigurations */
}

static size_t put(uint8_t *buf, size_t at, const uint8_t *src, size_t n) {
    if (at + n <= SIM_DESC_MAX)
        memcpy(buf + at, src, n);
    return at + n;
}

static void config_header(uint8_t *c, size_t total, uint8_t n_interfaces, uint8_t attributes) {
    const uint8_t h[9] = { 9, 0x02, (uint8_t) total, (uint8_t) (total >> 8), n_interfaces, 1, 0,
                           attributes, 50 /* 100 mA */ };
    memcpy(c, h, sizeof h);
}

void sim_boot_descriptors(sim_device *d, sim_descs *out) {
    unsigned n_alts = 1 + d->profile->n_extra_alts;
    size_t at = 9;

    *out = (sim_descs) { 0 };
    device_descriptor(out->device, ST_VID, ST_DFU_PID, ROM_BCD_DEVICE);
    for (unsigned alt = 0; alt < n_alts; alt++) {
        const uint8_t itf[9] = { 9, 0x04, 0, (uint8_t) alt, 0, 0xfe, 0x01, 0x02,
                                 (uint8_t) (4 + alt) };
        at = put(out->config, at, itf, sizeof itf);
    }
    at = put(out->config, at, dfu_functional, sizeof dfu_functional);
    config_header(out->config, at, 1, 0xc0); /* self powered, as the ROM says */
    out->config_len = at;
}

/* HID report descriptor: a vendor collection (usage page 0xFF00) with 64-byte input and output
 * reports (ID 1) and the report that makes the application jump to the ROM. */
static size_t report_descriptor(const sim_device_config *c, uint8_t *r) {
    size_t n = 0;
    uint8_t jump_id = 0, jump_len = 0, jump_item = 0;
    static const uint8_t head[] = {
        0x06, 0x00, 0xff, /* Usage Page (Vendor 0xFF00) */
        0x09, 0x01,       /* Usage (1) */
        0xa1, 0x01,       /* Collection (Application) */
        0x15, 0x00,       /* Logical Minimum (0) */
        0x26, 0xff, 0x00, /* Logical Maximum (255) */
        0x75, 0x08,       /* Report Size (8) */
        0x85, 0x01,       /* Report ID (1) */
        0x95, 0x3f,       /* Report Count (63) */
        0x09, 0x02,       /* Usage (2) */
        0x81, 0x02,       /* Input (Data, Var, Abs) */
        0x09, 0x03,       /* Usage (3) */
        0x91, 0x02,       /* Output (Data, Var, Abs) */
    };

    memcpy(r, head, sizeof head);
    n = sizeof head;
    switch (c->enter) {
    case SIM_ENTER_ST_HID_DETACH:
        /* DfuSe "HID detach": feature report 0x80, usage 0x55, one byte */
        jump_id = 0x80;
        jump_len = 1;
        jump_item = 0xb1;
        break;
    case SIM_ENTER_HID_FEATURE:
        jump_id = c->enter_bytes[0];
        jump_len = (uint8_t) (c->enter_len - 1);
        jump_item = 0xb1;
        break;
    case SIM_ENTER_HID_OUTPUT:
        /* report 1 of up to 64 bytes is the ordinary output report: nothing to add */
        if (c->enter_bytes[0] != 1 || c->enter_len > SIM_HID_REPORT_SIZE) {
            jump_id = c->enter_bytes[0];
            jump_len = (uint8_t) (c->enter_len - 1);
            jump_item = 0x91;
        }
        break;
    case SIM_ENTER_DFU_RUNTIME:
        break;
    }
    if (jump_item) {
        const uint8_t item[] = { 0x85, jump_id, 0x95, jump_len, 0x09, 0x55, jump_item, 0x02 };
        memcpy(r + n, item, sizeof item);
        n += sizeof item;
    }
    r[n++] = 0xc0; /* End Collection */
    return n;
}

void sim_app_descriptors(sim_device *d, sim_descs *out) {
    bool runtime = d->config.enter == SIM_ENTER_DFU_RUNTIME;
    size_t at = 9;
    uint8_t hid[9] = { 9, 0x21, 0x11, 0x01, 0x00, 0x01, 0x22, 0, 0 };
    static const uint8_t ep_in[7] = { 7, 0x05, 0x81, 0x03, SIM_HID_REPORT_SIZE, 0x00, 1 };
    static const uint8_t ep_out[7] = { 7, 0x05, 0x01, 0x03, SIM_HID_REPORT_SIZE, 0x00, 1 };
    static const uint8_t hid_itf[9] = { 9, 0x04, 0, 0, 2, 0x03, 0x00, 0x00, 0 };
    static const uint8_t dfu_itf[9] = { 9, 0x04, 1, 0, 0, 0xfe, 0x01, 0x01, 4 };

    *out = (sim_descs) { 0 };
    device_descriptor(out->device, d->config.app_vid, d->config.app_pid, sim_device_app_bcd(d));
    out->report_len = report_descriptor(&d->config, out->report);
    sim_put_le16(hid + 7, (uint16_t) out->report_len);

    at = put(out->config, at, hid_itf, sizeof hid_itf);
    at = put(out->config, at, hid, sizeof hid);
    at = put(out->config, at, ep_in, sizeof ep_in);
    at = put(out->config, at, ep_out, sizeof ep_out);
    if (runtime) {
        at = put(out->config, at, dfu_itf, sizeof dfu_itf);
        at = put(out->config, at, dfu_functional, sizeof dfu_functional);
    }
    config_header(out->config, at, runtime ? 2 : 1, 0x80);
    out->config_len = at;
}

int sim_string_descriptor(uint8_t index, const char *s, uint8_t *out, size_t max) {
    static const uint8_t langids[4] = { 4, 0x03, 0x09, 0x04 }; /* en-US */
    uint8_t buf[SIM_DESC_MAX];
    size_t n;

    if (index == 0) {
        n = MIN(sizeof langids, max);
        memcpy(out, langids, n);
        return (int) n;
    }
    if (!s)
        return -EPIPE;
    n = MIN(strlen(s), (size_t) (SIM_DESC_MAX - 2) / 2);
    buf[0] = (uint8_t) (2 + 2 * n);
    buf[1] = 0x03;
    for (size_t i = 0; i < n; i++) {
        buf[2 + 2 * i] = (uint8_t) s[i];
        buf[3 + 2 * i] = 0;
    }
    n = MIN((size_t) buf[0], max);
    memcpy(out, buf, n);
    return (int) n;
}
