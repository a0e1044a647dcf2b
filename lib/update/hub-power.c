/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "update/hub-power.h"

#include <errno.h>
#include <libusb.h>
#include <string.h>

#include "usb/usb.h"
#include "util/macro.h"
#include "util/string-table.h"

/* USB 2.0 section 11.23.2.1 and 11.24.2; USB 3.x section 10.15.2.1. */
#define USB_DT_HUB 0x29
#define USB_DT_SS_HUB 0x2a
#define HUB_PORT_POWER 8
#define HUB_REQ_TIMEOUT_MS 1000

const char *stdfu_hub_switching_to_string(stdfu_hub_switching s) {
    static const char *const names[] = {
        [STDFU_HUB_SWITCHING_GANGED] = "ganged",
        [STDFU_HUB_SWITCHING_PER_PORT] = "per-port",
        [STDFU_HUB_SWITCHING_NONE] = "none",
    };
    return TABLE_NAME(names, s, "unknown");
}

int stdfu_hub_descriptor_switching(const uint8_t *desc, size_t len, stdfu_hub_switching *ret,
                                   unsigned *ret_power_on_ms) {
    /* bLength, bDescriptorType, bNbrPorts, wHubCharacteristics (2), bPwrOn2PwrGood, ... */
    if (len < 7 || desc[0] < 7 || (desc[1] != USB_DT_HUB && desc[1] != USB_DT_SS_HUB))
        return -EBADMSG;
    unsigned bits = desc[3] & 0x3;
    *ret = bits == 0 ? STDFU_HUB_SWITCHING_GANGED
         : bits == 1 ? STDFU_HUB_SWITCHING_PER_PORT
                     : STDFU_HUB_SWITCHING_NONE;
    if (ret_power_on_ms)
        *ret_power_on_ms = desc[5] * 2u; /* bPwrOn2PwrGood counts 2 ms units */
    return 0;
}

static void close_handlep(libusb_device_handle **h) {
    if (*h)
        libusb_close(*h);
}

/* The parent hub of port and the device's port number on it. */
static int open_parent_hub(libusb_context *ctx, const char *port, libusb_device_handle **ret,
                           uint8_t *ret_port, char *hub_name, size_t hub_name_size,
                           stdfu_error *err) {
    uint8_t ports[STDFU_USB_PORT_DEPTH];
    size_t n;
    unsigned bus;
    libusb_device **list = NULL;
    int r;

    r = stdfu_usb_port_parse(port, &bus, ports, &n);
    if (r < 0)
        return stdfu_error_set(err, r, "'%s' is not a USB port path", port);
    r = stdfu_usb_port_parent(port, hub_name, hub_name_size);
    if (r < 0)
        return stdfu_error_set(err, r, "no parent hub for port %s", port);

    ssize_t count = libusb_get_device_list(ctx, &list);
    if (count < 0)
        return stdfu_error_set(err, stdfu_usb_errno((int) count), "cannot list USB devices: %s",
                               libusb_strerror((int) count));
    r = stdfu_error_set(err, -ENODEV, "hub %s of port %s is not on the bus", hub_name, port);
    for (ssize_t i = 0; i < count; i++) {
        uint8_t dev_ports[STDFU_USB_PORT_DEPTH];
        int m = libusb_get_port_numbers(list[i], dev_ports, sizeof dev_ports);

        if (libusb_get_bus_number(list[i]) != bus || m < 0 || (size_t) m != n - 1 ||
            memcmp(dev_ports, ports, n - 1) != 0)
            continue;
        int q = libusb_open(list[i], ret);
        if (q < 0) {
            r = stdfu_error_set(err, stdfu_usb_errno(q), "cannot open hub %s: %s", hub_name,
                                libusb_strerror(q));
            break;
        }
        *ret_port = ports[n - 1];
        r = 0;
        break;
    }
    libusb_free_device_list(list, 1);
    return r;
}

static int read_switching(libusb_device_handle *h, const char *hub_name,
                          stdfu_hub_switching *ret, unsigned *ret_power_on_ms, stdfu_error *err) {
    struct libusb_device_descriptor dd;
    uint8_t desc[64];
    int r;

    r = libusb_get_device_descriptor(libusb_get_device(h), &dd);
    if (r < 0)
        return stdfu_error_set(err, stdfu_usb_errno(r), "hub %s: no device descriptor: %s",
                               hub_name, libusb_strerror(r));
    if (dd.bDeviceClass != LIBUSB_CLASS_HUB)
        return stdfu_error_set(err, -ENOTTY, "%s is not a hub (class 0x%02x)", hub_name,
                               dd.bDeviceClass);
    uint8_t type = dd.bcdUSB >= 0x0300 ? USB_DT_SS_HUB : USB_DT_HUB;
    r = libusb_control_transfer(h, LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_CLASS |
                                LIBUSB_RECIPIENT_DEVICE, LIBUSB_REQUEST_GET_DESCRIPTOR,
                                type << 8, 0, desc, sizeof desc, HUB_REQ_TIMEOUT_MS);
    if (r < 0)
        return stdfu_error_set(err, stdfu_usb_errno(r), "hub %s: cannot read its hub "
                               "descriptor: %s", hub_name, libusb_strerror(r));
    if (stdfu_hub_descriptor_switching(desc, (size_t) r, ret, ret_power_on_ms) < 0)
        return stdfu_error_set(err, -EBADMSG, "hub %s returned a malformed hub descriptor "
                               "(%d bytes)", hub_name, r);
    return 0;
}

static int set_port_power(libusb_device_handle *h, uint8_t port, bool on) {
    int r = libusb_control_transfer(h, LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_CLASS |
                                    LIBUSB_RECIPIENT_OTHER,
                                    on ? LIBUSB_REQUEST_SET_FEATURE
                                       : LIBUSB_REQUEST_CLEAR_FEATURE,
                                    HUB_PORT_POWER, port, NULL, 0, HUB_REQ_TIMEOUT_MS);
    return r < 0 ? stdfu_usb_errno(r) : 0;
}

int stdfu_hub_port_power_cycle(libusb_context *ctx, const char *port, usec_t off_usec,
                               stdfu_error *err) {
    _cleanup_(close_handlep) libusb_device_handle *h = NULL;
    stdfu_hub_switching sw = STDFU_HUB_SWITCHING_NONE;
    char hub[STDFU_USB_PORT_MAX];
    uint8_t hub_port = 0;
    unsigned power_on_ms = 0;
    int r;

    r = open_parent_hub(ctx, port, &h, &hub_port, hub, sizeof hub, err);
    if (r < 0)
        return r;
    r = read_switching(h, hub, &sw, &power_on_ms, err);
    if (r < 0)
        return r;
    if (sw != STDFU_HUB_SWITCHING_PER_PORT)
        return stdfu_error_set(err, -EOPNOTSUPP,
                               "hub %s cannot switch the power of port %u alone (power "
                               "switching: %s)", hub, hub_port, stdfu_hub_switching_to_string(sw));

    r = set_port_power(h, hub_port, false);
    if (r < 0)
        return stdfu_error_set(err, r, "hub %s: cannot switch off port %u: %s", hub, hub_port,
                               strerror(-r));
    /* Deaf to cancellation on purpose: a cancelled job must not leave the port switched off. */
    sleep_until(now_monotonic() + off_usec);
    r = set_port_power(h, hub_port, true);
    if (r < 0)
        return stdfu_error_set(err, r, "hub %s: cannot switch port %u back on: %s", hub,
                               hub_port, strerror(-r));
    /* The device may only draw current (and connect) once power is good. */
    sleep_until(now_monotonic() + power_on_ms * USEC_PER_MSEC);
    return 0;
}
