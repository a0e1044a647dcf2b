/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* usb-poke: libusb operations on the device on PORT that tests check the kernel-like answers of.
 *
 * usage: usb-poke PORT reset     libusb_reset_device(), then a standard GET_STATUS on the same
 *                                handle; prints the device number before and after
 *        usb-poke PORT claim     interface 0: claim while a kernel driver is bound (BUSY), claim
 *                                with auto-detach, release (the driver is bound again)
 * exit 0 when everything answered as expected */
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

static int claim(libusb_device_handle *h) {
    int active = libusb_kernel_driver_active(h, 0);
    int busy = libusb_claim_interface(h, 0);
    libusb_set_auto_detach_kernel_driver(h, 1);
    int claimed = libusb_claim_interface(h, 0);
    int active_after = libusb_kernel_driver_active(h, 0);
    int released = libusb_release_interface(h, 0);
    printf("driver active: %d, plain claim: %s, claim with detach: %s, driver active: %d, "
           "release: %s\n", active, libusb_error_name(busy), libusb_error_name(claimed),
           active_after, libusb_error_name(released));
    return active == 1 && busy == LIBUSB_ERROR_BUSY && claimed == 0 && active_after == 0 &&
                   released == 0
               ? 0
               : 1;
}

int main(int argc, char **argv) {
    libusb_context *ctx;
    libusb_device **list;
    libusb_device_handle *h;
    unsigned char status[2];

    if (argc != 3 || (strcmp(argv[2], "reset") != 0 && strcmp(argv[2], "claim") != 0)) {
        fprintf(stderr, "usage: usb-poke PORT reset|claim\n");
        return 2;
    }
    if (libusb_init(&ctx) < 0)
        return 1;
    ssize_t n = libusb_get_device_list(ctx, &list);
    libusb_device *dev = find(list, n, argv[1]);
    if (!dev || libusb_open(dev, &h) < 0) {
        fprintf(stderr, "usb-poke: cannot open the device on %s\n", argv[1]);
        return 1;
    }
    if (strcmp(argv[2], "claim") == 0) {
        int c = claim(h);
        libusb_close(h);
        libusb_free_device_list(list, 1);
        libusb_exit(ctx);
        return c;
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
