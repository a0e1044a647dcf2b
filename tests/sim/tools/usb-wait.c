/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* usb-wait: waits until the USB device on PORT is VID:PID (or gone, with "none"), as libusb
 * sees the bus, and prints what it found.
 *
 * usage: usb-wait PORT VID:PID|none [TIMEOUT_SECONDS]      exit 0 found, 1 timeout */
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* "1-1.2" of a libusb device, as libusb_get_port_numbers gives it */
static void port_path(libusb_device *dev, char *buf, size_t size) {
    uint8_t ports[8];
    int n = libusb_get_port_numbers(dev, ports, sizeof ports);
    int off = snprintf(buf, size, "%u", libusb_get_bus_number(dev));
    for (int i = 0; i < n && off > 0 && (size_t) off < size; i++)
        off += snprintf(buf + off, size - (size_t) off, "%c%u", i ? '.' : '-', ports[i]);
}

/* 1: PORT holds vid:pid (or nothing when want_none), 0: not yet */
static int check(libusb_context *ctx, const char *port, unsigned vid, unsigned pid,
                 int want_none) {
    libusb_device **list;
    ssize_t n = libusb_get_device_list(ctx, &list);
    int found = 0, any = 0;

    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor dd;
        char path[32];
        port_path(list[i], path, sizeof path);
        if (strcmp(path, port) != 0 || libusb_get_device_descriptor(list[i], &dd) < 0)
            continue;
        any = 1;
        if (!want_none && dd.idVendor == vid && dd.idProduct == pid) {
            printf("%s %04x:%04x devnum=%u\n", port, dd.idVendor, dd.idProduct,
                   libusb_get_device_address(list[i]));
            found = 1;
        }
    }
    libusb_free_device_list(list, 1);
    if (want_none && !any)
        printf("%s none\n", port);
    return want_none ? !any : found;
}

int main(int argc, char **argv) {
    unsigned vid = 0, pid = 0;
    int want_none;
    double timeout = argc > 3 ? strtod(argv[3], NULL) : 10;
    libusb_context *ctx;

    if (argc < 3) {
        fprintf(stderr, "usage: usb-wait PORT VID:PID|none [TIMEOUT_SECONDS]\n");
        return 2;
    }
    want_none = strcmp(argv[2], "none") == 0;
    if (!want_none && sscanf(argv[2], "%x:%x", &vid, &pid) != 2) {
        fprintf(stderr, "usb-wait: bad VID:PID '%s'\n", argv[2]);
        return 2;
    }
    if (libusb_init(&ctx) < 0)
        return 1;
    for (double waited = 0; waited <= timeout; waited += 0.02) {
        if (check(ctx, argv[1], vid, pid, want_none)) {
            libusb_exit(ctx);
            return 0;
        }
        usleep(20000);
    }
    fprintf(stderr, "usb-wait: %s is not %s after %.1f s\n", argv[1], argv[2], timeout);
    libusb_exit(ctx);
    return 1;
}
