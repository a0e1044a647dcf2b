/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* usb-wrap: the device on PORT as a client that did not enumerate it sees it (fwupd 2.x): open
 * its usbfs node, read() its descriptors from the fd as the kernel serves them, then hand the
 * fd to libusb_wrap_sys_device(), which reads them the same way (lseek + read), and print what
 * it found.
 *
 * usage: usb-wrap PORT
 * prints "raw LEN vid:pid" and "wrapped vid:pid bcdDevice configs N interfaces N"; exit 0 when
 * both worked and agree */
#include <errno.h>
#include <fcntl.h>
#include <libusb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int node_of(const char *port, char *path, size_t size) {
    char sys[256];
    unsigned bus, dev;
    FILE *f;
    int ok;

    snprintf(sys, sizeof sys, "/sys/bus/usb/devices/%s/busnum", port);
    if (!(f = fopen(sys, "re")))
        return -errno;
    ok = fscanf(f, "%u", &bus) == 1;
    fclose(f);
    snprintf(sys, sizeof sys, "/sys/bus/usb/devices/%s/devnum", port);
    if (!ok || !(f = fopen(sys, "re")))
        return -ENOENT;
    ok = fscanf(f, "%u", &dev) == 1;
    fclose(f);
    if (!ok)
        return -ENOENT;
    snprintf(path, size, "/dev/bus/usb/%03u/%03u", bus, dev);
    return 0;
}

int main(int argc, char **argv) {
    struct libusb_device_descriptor dd;
    struct libusb_config_descriptor *cfg;
    libusb_context *ctx = NULL;
    libusb_device_handle *h = NULL;
    unsigned char raw[4096];
    char path[64];
    ssize_t n;
    int fd, r, raw_vid, raw_pid;

    if (argc != 2) {
        fprintf(stderr, "usage: usb-wrap PORT\n");
        return 2;
    }
    if (node_of(argv[1], path, sizeof path) < 0) {
        fprintf(stderr, "usb-wrap: no device on %s\n", argv[1]);
        return 1;
    }
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "usb-wrap: %s: %s\n", path, strerror(errno));
        return 1;
    }
    n = read(fd, raw, sizeof raw);
    if (n < 18) {
        fprintf(stderr, "usb-wrap: read() of %s gave %zd bytes (%s)\n", path, n,
                n < 0 ? strerror(errno) : "short");
        return 1;
    }
    raw_vid = raw[8] | raw[9] << 8;
    raw_pid = raw[10] | raw[11] << 8;
    printf("raw %zd %04x:%04x\n", n, raw_vid, raw_pid);
    if (lseek(fd, 0, SEEK_SET) != 0) {
        fprintf(stderr, "usb-wrap: lseek() of %s: %s\n", path, strerror(errno));
        return 1;
    }

    libusb_set_option(NULL, LIBUSB_OPTION_NO_DEVICE_DISCOVERY);
    r = libusb_init(&ctx);
    if (r == 0)
        r = libusb_wrap_sys_device(ctx, (intptr_t) fd, &h);
    if (r != 0) {
        fprintf(stderr, "usb-wrap: libusb_wrap_sys_device: %s\n", libusb_error_name(r));
        return 1;
    }
    libusb_device *d = libusb_get_device(h);
    r = libusb_get_device_descriptor(d, &dd);
    if (r == 0)
        r = libusb_get_active_config_descriptor(d, &cfg);
    if (r != 0) {
        fprintf(stderr, "usb-wrap: descriptors: %s\n", libusb_error_name(r));
        return 1;
    }
    printf("wrapped %04x:%04x bcdDevice %04x configs %u interfaces %u\n", dd.idVendor,
           dd.idProduct, dd.bcdDevice, dd.bNumConfigurations, cfg->bNumInterfaces);
    libusb_free_config_descriptor(cfg);
    libusb_close(h);
    libusb_exit(ctx);
    close(fd);
    return dd.idVendor == raw_vid && dd.idProduct == raw_pid ? 0 : 1;
}
