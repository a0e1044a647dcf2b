/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Opening a libusb handle for the device on a port. */
#include <errno.h>
#include <libusb.h>
#include <string.h>

#include "usb/usb.h"

int stdfu_usb_errno(int e) {
    switch (e) {
    case LIBUSB_SUCCESS:
        return 0;
    case LIBUSB_ERROR_IO:
        return -EIO;
    case LIBUSB_ERROR_INVALID_PARAM:
        return -EINVAL;
    case LIBUSB_ERROR_ACCESS:
        return -EACCES;
    case LIBUSB_ERROR_NO_DEVICE:
        return -ENODEV;
    case LIBUSB_ERROR_NOT_FOUND:
        return -ENOENT;
    case LIBUSB_ERROR_BUSY:
        return -EBUSY;
    case LIBUSB_ERROR_TIMEOUT:
        return -ETIMEDOUT;
    case LIBUSB_ERROR_OVERFLOW:
        return -EOVERFLOW;
    case LIBUSB_ERROR_PIPE:
        return -EPIPE;
    case LIBUSB_ERROR_INTERRUPTED:
        return -EINTR;
    case LIBUSB_ERROR_NO_MEM:
        return -ENOMEM;
    case LIBUSB_ERROR_NOT_SUPPORTED:
        return -EOPNOTSUPP;
    default:
        return e < 0 ? -EIO : 0;
    }
}

static bool device_on_port(libusb_device *d, unsigned bus, const uint8_t *ports, size_t n) {
    uint8_t p[STDFU_USB_PORT_DEPTH];
    int k;

    if (libusb_get_bus_number(d) != bus)
        return false;
    k = libusb_get_port_numbers(d, p, sizeof p);
    return k >= 0 && (size_t) k == n && memcmp(p, ports, n) == 0;
}

int stdfu_usb_open(libusb_context *ctx, const char *port, unsigned devnum,
                   libusb_device_handle **ret, stdfu_error *err) {
    uint8_t ports[STDFU_USB_PORT_DEPTH];
    libusb_device **list = NULL;
    libusb_device *found = NULL;
    unsigned bus, other_devnum = 0;
    ssize_t n;
    size_t n_ports;
    int r;

    if (stdfu_usb_port_parse(port, &bus, ports, &n_ports) < 0)
        return stdfu_error_set(err, -EINVAL, "invalid USB port path '%s'", strna(port));

    n = libusb_get_device_list(ctx, &list);
    if (n < 0)
        return stdfu_error_set(err, stdfu_usb_errno((int) n), "cannot list USB devices: %s",
                               libusb_strerror((int) n));
    for (ssize_t i = 0; i < n; i++) {
        if (!device_on_port(list[i], bus, ports, n_ports))
            continue;
        if (devnum != 0 && libusb_get_device_address(list[i]) != devnum) {
            other_devnum = libusb_get_device_address(list[i]);
            continue;
        }
        found = libusb_ref_device(list[i]);
        break;
    }
    libusb_free_device_list(list, 1);

    if (!found) {
        if (other_devnum)
            return stdfu_error_set(err, -ENODEV,
                                   "the device on port %s re-enumerated (device number %u, not %u)",
                                   port, other_devnum, devnum);
        return stdfu_error_set(err, -ENODEV, "no USB device on port %s", port);
    }
    r = libusb_open(found, ret);
    libusb_unref_device(found);
    if (r < 0)
        return stdfu_error_set(err, stdfu_usb_errno(r), "cannot open the USB device on port %s: %s",
                               port, libusb_strerror(r));
    return 0;
}
