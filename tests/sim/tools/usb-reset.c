/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* usb-reset: libusb_reset_device() on the device on PORT, then a standard GET_STATUS to show it
 * answers on the same handle; prints the device number before and after.
 *
 * usage: usb-reset PORT          exit 0 when the reset and the request after it succeeded */
#include <libusb.h>
#include <stdio.h>
#include <string.h>

static libusb_device *find(libusb_device **list, ssize_t n, const char *port) {
    for (ssize_t i = 0; i < n; i++) {
        uint8_t ports[8];
        char path[32];
        int k = libusb_get_port_numbers(list[i], ports, sizeof ports);
        int off = snprintf(path, sizeof path, "%u", libusb_get_bus_number(list[i]));
        for (int j = 0; j < k; j++)
            off += snprintf(path + off, sizeof path - (size_t) off, "%c%u", j ? '.' : '-', ports[j]);
        if (k > 0 && strcmp(path, port) == 0)
            return list[i];
    }
    return NULL;
}

int main(int argc, char **argv) {
    libusb_context *ctx;
    libusb_device **list;
    libusb_device_handle *h;
    unsigned char status[2];

    if (argc != 2) {
        fprintf(stderr, "usage: usb-reset PORT\n");
        return 2;
    }
    if (libusb_init(&ctx) < 0)
        return 1;
    ssize_t n = libusb_get_device_list(ctx, &list);
    libusb_device *dev = find(list, n, argv[1]);
    if (!dev || libusb_open(dev, &h) < 0) {
        fprintf(stderr, "usb-reset: cannot open the device on %s\n", argv[1]);
        return 1;
    }
    printf("before: devnum=%u\n", libusb_get_device_address(dev));
    int r = libusb_reset_device(h);
    int s = r == 0 ? libusb_control_transfer(h, 0x80, 0x00, 0, 0, status, 2, 1000) : r;
    printf("reset: %s, GET_STATUS: %d\n", libusb_error_name(r), s);
    libusb_close(h);
    libusb_free_device_list(list, 1);
    n = libusb_get_device_list(ctx, &list);
    dev = find(list, n, argv[1]);
    printf("after: devnum=%u\n", dev ? libusb_get_device_address(dev) : 0);
    libusb_free_device_list(list, 1);
    libusb_exit(ctx);
    return r == 0 && s == 2 ? 0 : 1;
}
