/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The root hub of bus 1 (usb1), as Linux's USB 2.0 root hub presents itself: 1d6b:0002 with
 * SIM_BUS_ROOT_PORTS ports. It switches no power (wHubCharacteristics LPSM = 10b), so a device
 * on a root port can only be power-cycled by hand, which is what `--hub none` is for. */
#include <errno.h>
#include <string.h>

#include "umock/internal.h"
#include "util/macro.h"

#define USB_REQ_GET_STATUS 0x00
#define USB_REQ_CLEAR_FEATURE 0x01
#define USB_REQ_SET_FEATURE 0x03
#define USB_REQ_GET_DESCRIPTOR 0x06
#define USB_REQ_GET_CONFIGURATION 0x08
#define USB_REQ_SET_CONFIGURATION 0x09
#define USB_REQ_GET_INTERFACE 0x0a
#define USB_REQ_SET_INTERFACE 0x0b

#define PORT_STAT_CONNECTION 0x0001
#define PORT_STAT_ENABLE 0x0002
#define PORT_STAT_POWER 0x0100
#define PORT_STAT_HIGH_SPEED 0x0400

static const uint8_t roothub_desc[] = {
    /* device: USB 2.0, class hub, protocol 1 (single TT), 1d6b:0002, bcdDevice 6.01 (the
     * kernel's version), iManufacturer 3, iProduct 2, iSerialNumber 1 */
    0x12, 0x01, 0x00, 0x02, 0x09, 0x00, 0x01, 0x40, 0x6b, 0x1d, 0x02, 0x00, 0x01, 0x06,
    0x03, 0x02, 0x01, 0x01,
    /* configuration: self powered, remote wakeup; one hub interface, status endpoint 0x81 */
    0x09, 0x02, 0x19, 0x00, 0x01, 0x01, 0x00, 0xe0, 0x00,
    0x09, 0x04, 0x00, 0x00, 0x01, 0x09, 0x00, 0x00, 0x00,
    0x07, 0x05, 0x81, 0x03, 0x04, 0x00, 0x0c,
};

static const char *const roothub_strings[] = {
    [1] = SIM_PCI_SLOT,
    [2] = "xHCI Host Controller",
    [3] = "Linux 6.1.0-stdfu-sim xhci-hcd",
};

const uint8_t *roothub_descriptors(size_t *len) {
    *len = sizeof roothub_desc;
    return roothub_desc;
}

const char *roothub_string(unsigned index) {
    return index < ELEMENTSOF(roothub_strings) ? roothub_strings[index] : NULL;
}

int usb_string_descriptor(const char *s, uint8_t *out, size_t max) {
    uint8_t buf[255];
    size_t n = 2;

    if (!s) {
        /* index 0: the language table, US English */
        buf[2] = 0x09;
        buf[3] = 0x04;
        n = 4;
    } else
        for (const char *p = s; *p && n + 2 <= sizeof buf - 1; p++) {
            buf[n++] = (uint8_t) *p; /* ASCII in UTF-16LE */
            buf[n++] = 0;
        }
    buf[0] = (uint8_t) n;
    buf[1] = 0x03;
    n = MIN(n, max);
    memcpy(out, buf, n);
    return (int) n;
}

/* Hub descriptor (USB 2.0 11.23.2.1): no power switching, per-port over-current. */
static int roothub_hub_descriptor(uint8_t *out, size_t max) {
    uint8_t d[16] = {};
    size_t bitmap = (SIM_BUS_ROOT_PORTS + 1 + 7) / 8;
    size_t n = 7 + 2 * bitmap;

    d[0] = (uint8_t) n;
    d[1] = 0x29;
    d[2] = SIM_BUS_ROOT_PORTS;
    d[3] = 0x0a; /* LPSM 10b: no power switching; OCPM 01b: per port */
    d[5] = 10;   /* bPwrOn2PwrGood: 20 ms */
    memset(d + 7 + bitmap, 0xff, bitmap); /* PortPwrCtrlMask, all ones for USB 1.1 compat */
    n = MIN(n, max);
    memcpy(out, d, n);
    return (int) n;
}

static uint16_t roothub_port_status(sim_bus *b, unsigned port) {
    uint16_t status = PORT_STAT_POWER;

    if (port >= 1 && port <= b->n_hubs && b->hubs[port - 1].node->live)
        return status | PORT_STAT_CONNECTION | PORT_STAT_ENABLE | PORT_STAT_HIGH_SPEED;
    for (size_t i = 0; i < b->n_slots; i++)
        if (b->slots[i]->root_port == port && b->slots[i]->node)
            return status | PORT_STAT_CONNECTION | PORT_STAT_ENABLE; /* full speed */
    return status;
}

static int roothub_standard(const sim_setup *s, uint8_t *data) {
    switch (s->bRequest) {
    case USB_REQ_GET_DESCRIPTOR:
        switch (s->wValue >> 8) {
        case 0x01:
            memcpy(data, roothub_desc, MIN((size_t) s->wLength, (size_t) 18));
            return MIN(s->wLength, 18);
        case 0x02:
            memcpy(data, roothub_desc + 18, MIN((size_t) s->wLength, sizeof roothub_desc - 18));
            return (int) MIN((size_t) s->wLength, sizeof roothub_desc - 18);
        case 0x03:
            if ((s->wValue & 0xff) == 0)
                return usb_string_descriptor(NULL, data, s->wLength);
            if (!roothub_string(s->wValue & 0xff))
                return -EPIPE;
            return usb_string_descriptor(roothub_string(s->wValue & 0xff), data, s->wLength);
        }
        return -EPIPE;
    case USB_REQ_GET_STATUS:
        memset(data, 0, MIN((size_t) s->wLength, (size_t) 2));
        if (s->wLength > 0 && (s->bmRequestType & 0x1f) == 0)
            data[0] = 0x01; /* self powered */
        return MIN(s->wLength, 2);
    case USB_REQ_GET_CONFIGURATION:
        if (s->wLength > 0)
            data[0] = 1;
        return MIN(s->wLength, 1);
    case USB_REQ_GET_INTERFACE:
        if (s->wLength > 0)
            data[0] = 0;
        return MIN(s->wLength, 1);
    case USB_REQ_SET_CONFIGURATION:
        return s->wValue <= 1 ? 0 : -EPIPE;
    case USB_REQ_SET_INTERFACE:
        return s->wValue == 0 && s->wIndex == 0 ? 0 : -EPIPE;
    case USB_REQ_CLEAR_FEATURE:
    case USB_REQ_SET_FEATURE:
        return 0;
    }
    return -EPIPE;
}

int roothub_control(sim_bus *b, const sim_setup *s, uint8_t *data) {
    if ((s->bmRequestType & 0x60) == 0x00)
        return roothub_standard(s, data);
    if ((s->bmRequestType & 0x60) != 0x20)
        return -EPIPE;

    switch (s->bRequest) {
    case USB_REQ_GET_DESCRIPTOR:
        if (s->bmRequestType == 0xa0 && (s->wValue >> 8) == 0x29)
            return roothub_hub_descriptor(data, s->wLength);
        return -EPIPE;
    case USB_REQ_GET_STATUS:
        if (s->wLength < 4)
            return -EPIPE;
        memset(data, 0, 4);
        if (s->bmRequestType == 0xa3) {
            if (s->wIndex < 1 || s->wIndex > SIM_BUS_ROOT_PORTS)
                return -EPIPE;
            uint16_t st = roothub_port_status(b, s->wIndex);
            data[0] = (uint8_t) st;
            data[1] = (uint8_t) (st >> 8);
        }
        return 4;
    case USB_REQ_CLEAR_FEATURE:
    case USB_REQ_SET_FEATURE:
        /* PORT_POWER and friends are accepted and change nothing: no power switching. */
        if (s->bmRequestType == 0x23 && (s->wIndex & 0xff) >= 1 &&
            (s->wIndex & 0xff) <= SIM_BUS_ROOT_PORTS)
            return 0;
        return s->bmRequestType == 0x20 ? 0 : -EPIPE;
    }
    return -EPIPE;
}
