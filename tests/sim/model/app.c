/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The application in flash: a vendor HID device (hidraw node) with 64-byte input and output
 * reports, and a way into the ROM bootloader:
 *   st-hid-detach  ST's DfuSe "HID detach": feature report 0x80 (usage page 0xFF00, usage
 *                  0x55) set to [0x80, 0x55, 0...], as DfuSeDemo finds and sends it
 *   hid-feature    a custom feature report (enter_bytes, report ID first)
 *   hid-output     a custom output report
 *   detach         a DFU runtime interface (interface 1) and DFU_DETACH
 * The jump disconnects the device; it comes back as 0483:df11 on the same port. */
#include <errno.h>
#include <string.h>

#include "model/model-internal.h"
#include "util/macro.h"

#define ST_DETACH_REPORT_ID 0x80
#define ST_DETACH_COMMAND 0x55
#define HID_ECHO_REPORT_ID 0x01

static void jump_to_bootloader(sim_device *d, sim_usec at) {
    sim_device_emit(d, at, at + SIM_REENUM_US, SIM_MODE_BOOTLOADER, true);
}

static bool rest_is_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Does a report equal the configured jump report (trailing zero padding allowed)? */
static bool matches_enter_bytes(const sim_device_config *c, const uint8_t *data, size_t len) {
    return len >= c->enter_len && memcmp(data, c->enter_bytes, c->enter_len) == 0 &&
           rest_is_zero(data + c->enter_len, len - c->enter_len);
}

/* SET_REPORT(feature): returns len, or -EPIPE for a report the device does not have. */
static int feature_set(sim_device *d, const uint8_t *data, size_t len, bool *jump) {
    const sim_device_config *c = &d->config;

    *jump = false;
    if (len < 1)
        return -EINVAL;
    if (c->enter == SIM_ENTER_ST_HID_DETACH && data[0] == ST_DETACH_REPORT_ID) {
        *jump = len >= 2 && data[1] == ST_DETACH_COMMAND;
        return (int) len;
    }
    if (c->enter == SIM_ENTER_HID_FEATURE && data[0] == c->enter_bytes[0]) {
        *jump = matches_enter_bytes(c, data, len);
        return (int) len;
    }
    return -EPIPE;
}

static int feature_get(sim_device *d, uint8_t *data, size_t len) {
    const sim_device_config *c = &d->config;
    size_t n;

    if (len < 1)
        return -EINVAL;
    if (c->enter == SIM_ENTER_ST_HID_DETACH && data[0] == ST_DETACH_REPORT_ID)
        n = 2;
    else if (c->enter == SIM_ENTER_HID_FEATURE && data[0] == c->enter_bytes[0])
        n = c->enter_len;
    else
        return -EPIPE;
    n = MIN(n, len);
    memset(data + 1, 0, n - 1);
    return (int) n;
}

static void queue_input(sim_device *d, const uint8_t *data, size_t len) {
    uint8_t *slot;

    if (d->hid_count == SIM_HID_QUEUE) { /* a real device drops what nobody reads */
        d->hid_head = (d->hid_head + 1) % SIM_HID_QUEUE;
        d->hid_count--;
    }
    slot = d->hid_queue[(d->hid_head + d->hid_count) % SIM_HID_QUEUE];
    memset(slot, 0, SIM_HID_REPORT_SIZE);
    memcpy(slot, data, MIN(len, (size_t) SIM_HID_REPORT_SIZE));
    d->hid_count++;
}

static int output_report(sim_device *d, const uint8_t *data, size_t len, bool *jump) {
    const sim_device_config *c = &d->config;

    *jump = false;
    if (len < 1)
        return -EINVAL;
    if (c->enter == SIM_ENTER_HID_OUTPUT && data[0] == c->enter_bytes[0] &&
        matches_enter_bytes(c, data, len)) {
        *jump = true;
        return (int) len;
    }
    if (data[0] == HID_ECHO_REPORT_ID && len <= SIM_HID_REPORT_SIZE) {
        queue_input(d, data, len);
        return (int) len;
    }
    if (c->enter == SIM_ENTER_HID_OUTPUT && data[0] == c->enter_bytes[0])
        return (int) len; /* the jump report with other contents: ignored */
    return -EINVAL;
}

int sim_device_hid_set_feature(sim_device *d, const uint8_t *data, size_t len, sim_usec now) {
    sim_usec ready;
    bool jump;
    int r;

    if (d->mode != SIM_MODE_APPLICATION)
        return -ENODEV;
    r = feature_set(d, data, len, &jump);
    /* HIDIOCSFEATURE is a SET_REPORT control transfer */
    ready = sim_device_account(d, MAX(now, d->busy_until), r > 0 ? (size_t) r : 0, 0);
    if (jump)
        jump_to_bootloader(d, ready);
    return r;
}

int sim_device_hid_get_feature(sim_device *d, uint8_t *data, size_t len, sim_usec now) {
    int r;

    if (d->mode != SIM_MODE_APPLICATION)
        return -ENODEV;
    r = feature_get(d, data, len);
    sim_device_account(d, MAX(now, d->busy_until), r > 0 ? (size_t) r : 0, 0);
    return r;
}

int sim_device_hid_output(sim_device *d, const uint8_t *data, size_t len, sim_usec now) {
    bool jump;
    int r;

    if (d->mode != SIM_MODE_APPLICATION)
        return -ENODEV;
    r = output_report(d, data, len, &jump); /* interrupt OUT: no control transfer */
    if (jump)
        jump_to_bootloader(d, now + 1000);
    return r;
}

int sim_device_hid_read(sim_device *d, uint8_t *buf, size_t size) {
    if (d->mode != SIM_MODE_APPLICATION)
        return -ENODEV;
    if (d->hid_count == 0)
        return 0;
    if (size < SIM_HID_REPORT_SIZE)
        return -ENOBUFS;
    memcpy(buf, d->hid_queue[d->hid_head], SIM_HID_REPORT_SIZE);
    d->hid_head = (d->hid_head + 1) % SIM_HID_QUEUE;
    d->hid_count--;
    return SIM_HID_REPORT_SIZE;
}

bool sim_device_hid_input_pending(const sim_device *d) {
    return d->mode == SIM_MODE_APPLICATION && d->hid_count > 0;
}

/* ---- control requests in application mode ---- */

enum {
    HID_GET_REPORT = 0x01,
    HID_GET_IDLE = 0x02,
    HID_GET_PROTOCOL = 0x03,
    HID_SET_REPORT = 0x09,
    HID_SET_IDLE = 0x0a,
    HID_SET_PROTOCOL = 0x0b,
    HID_REPORT_INPUT = 1,
    HID_REPORT_OUTPUT = 2,
    HID_REPORT_FEATURE = 3,
};

static int hid_class(sim_device *d, const sim_setup *s, uint8_t *data, bool *jump) {
    uint8_t type = (uint8_t) (s->wValue >> 8);

    switch (s->bRequest) {
    case HID_SET_REPORT:
        if (type == HID_REPORT_FEATURE)
            return feature_set(d, data, s->wLength, jump);
        if (type == HID_REPORT_OUTPUT)
            return output_report(d, data, s->wLength, jump);
        return -EPIPE;
    case HID_GET_REPORT:
        if (s->wLength == 0)
            return -EPIPE;
        data[0] = (uint8_t) s->wValue;
        if (type == HID_REPORT_FEATURE)
            return feature_get(d, data, s->wLength);
        if (type == HID_REPORT_INPUT && data[0] == HID_ECHO_REPORT_ID) {
            size_t n = MIN((size_t) s->wLength, (size_t) SIM_HID_REPORT_SIZE);
            memset(data + 1, 0, n - 1);
            return (int) n;
        }
        return -EPIPE;
    case HID_SET_IDLE:
    case HID_SET_PROTOCOL:
        return 0;
    case HID_GET_IDLE:
    case HID_GET_PROTOCOL:
        if (s->wLength < 1)
            return -EPIPE;
        data[0] = s->bRequest == HID_GET_PROTOCOL ? 1 : 0; /* report protocol, idle 0 */
        return 1;
    default:
        return -EPIPE;
    }
}

/* DFU runtime interface (enter=detach): appIDLE until DFU_DETACH. */
static int dfu_runtime(sim_device *d, const sim_setup *s, uint8_t *data, bool *jump) {
    (void) d;
    switch (s->bRequest) {
    case 0: /* DFU_DETACH; bitWillDetach: the device detaches by itself */
        *jump = true;
        return 0;
    case 3: /* DFU_GETSTATUS */
        if (s->wLength < 6)
            return -EPIPE;
        memset(data, 0, 6);
        data[4] = SIM_DFU_APP_IDLE;
        return 6;
    case 5: /* DFU_GETSTATE */
        if (s->wLength < 1)
            return -EPIPE;
        data[0] = SIM_DFU_APP_IDLE;
        return 1;
    default:
        return -EPIPE;
    }
}

static int interface_descriptor(sim_device *d, const sim_setup *s, uint8_t *data) {
    uint8_t type = (uint8_t) (s->wValue >> 8);
    const uint8_t *src;
    size_t len;

    if (s->wIndex != 0)
        return -EPIPE;
    if (type == 0x22) {
        src = d->app_descs.report;
        len = d->app_descs.report_len;
    } else if (type == 0x21) {
        src = d->app_descs.config + 18; /* after configuration and interface descriptors */
        len = 9;
    } else
        return -EPIPE;
    len = MIN(len, (size_t) s->wLength);
    memcpy(data, src, len);
    return (int) len;
}

int sim_app_request(sim_device *d, const sim_setup *s, uint8_t *data, sim_usec start,
                    sim_usec *ready_at) {
    bool runtime = d->config.enter == SIM_ENTER_DFU_RUNTIME;
    bool jump = false;
    int r;

    if (s->bmRequestType == 0x81 && s->bRequest == 6)
        r = interface_descriptor(d, s, data);
    else if ((s->bmRequestType & 0x7f) == 0x21 && s->wIndex == 0)
        r = hid_class(d, s, data, &jump);
    else if ((s->bmRequestType & 0x7f) == 0x21 && s->wIndex == 1 && runtime)
        r = dfu_runtime(d, s, data, &jump);
    else
        r = -EPIPE;

    if (r < 0)
        return r;
    *ready_at = sim_device_account(d, start, (size_t) r, 0);
    if (jump)
        jump_to_bootloader(d, *ready_at);
    return r;
}
