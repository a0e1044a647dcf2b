/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hid-detach: sends ST's DfuSe "HID detach" feature report ([0x80, 0x55, 0...], 2 bytes
 * unless given) to the hidraw node of the USB device on PORT, found with libudev like a daemon
 * would: hidraw class device whose usb_device parent is PORT. Also prints what hidraw reports.
 *
 * usage: hid-detach PORT [HEXBYTES]        exit 0 when the report was accepted
 *        hid-detach PORT --echo              instead: write() output reports 1, poll() and
 *                                            read() them back (the application echoes them) */
#include <fcntl.h>
#include <stdbool.h>
#include <libudev.h>
#include <linux/hidraw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static char *find_hidraw(const char *port) {
    struct udev *udev = udev_new();
    struct udev_enumerate *e = udev_enumerate_new(udev);
    struct udev_list_entry *entry;
    char *found = NULL;

    udev_enumerate_add_match_subsystem(e, "hidraw");
    udev_enumerate_scan_devices(e);
    udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
        struct udev_device *d = udev_device_new_from_syspath(udev, udev_list_entry_get_name(entry));
        struct udev_device *usb =
            d ? udev_device_get_parent_with_subsystem_devtype(d, "usb", "usb_device") : NULL;
        if (usb && strcmp(udev_device_get_sysname(usb), port) == 0 && !found)
            found = strdup(udev_device_get_devnode(d));
        udev_device_unref(d);
    }
    udev_enumerate_unref(e);
    udev_unref(udev);
    return found;
}

/* Two output reports out, two input reports back, one per read(), in order. */
static int echo(int fd) {
    unsigned char out[64] = { 0x01 }, in[256];

    for (int i = 0; i < 2; i++) {
        snprintf((char *) out + 1, sizeof out - 1, "ping %d", i);
        if (write(fd, out, sizeof out) != (ssize_t) sizeof out) {
            perror("write");
            return 1;
        }
    }
    for (int i = 0; i < 2; i++) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 2000) != 1) {
            fprintf(stderr, "hid-detach: no input report %d\n", i);
            return 1;
        }
        ssize_t n = read(fd, in, sizeof in);
        char want[16];
        snprintf(want, sizeof want, "ping %d", i);
        printf("input report %d: %zd bytes, id 0x%02x, \"%s\"\n", i, n, in[0], in + 1);
        if (n != 64 || in[0] != 0x01 || strcmp((char *) in + 1, want) != 0)
            return 1;
    }
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll(&p, 1, 100) != 0) {
        fprintf(stderr, "hid-detach: poll says readable with nothing queued\n");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    unsigned char report[64] = { 0x80, 0x55 };
    size_t len = 2;

    if (argc < 2) {
        fprintf(stderr, "usage: hid-detach PORT [HEXBYTES]\n");
        return 2;
    }
    bool do_echo = argc > 2 && strcmp(argv[2], "--echo") == 0;
    if (argc > 2 && !do_echo) {
        len = 0;
        for (const char *p = argv[2]; p[0] && p[1] && len < sizeof report; p += 2)
            sscanf(p, "%2hhx", &report[len++]);
    }
    char *node = find_hidraw(argv[1]);
    if (!node) {
        fprintf(stderr, "hid-detach: no hidraw device on %s\n", argv[1]);
        return 1;
    }
    int fd = open(node, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        perror(node);
        return 1;
    }
    struct hidraw_devinfo info = { 0 };
    char name[128] = "", phys[128] = "";
    int size = 0;
    if (ioctl(fd, HIDIOCGRAWINFO, &info) < 0 || ioctl(fd, HIDIOCGRAWNAME(sizeof name), name) < 0 ||
        ioctl(fd, HIDIOCGRAWPHYS(sizeof phys), phys) < 0 || ioctl(fd, HIDIOCGRDESCSIZE, &size) < 0) {
        perror("hidraw info");
        return 1;
    }
    printf("%s bus=%u %04hx:%04hx name=\"%s\" phys=%s rdesc=%d bytes\n", node, info.bustype,
           info.vendor, info.product, name, phys, size);
    if (do_echo) {
        int e = echo(fd);
        close(fd);
        free(node);
        return e;
    }
    int r = ioctl(fd, HIDIOCSFEATURE(len), report);
    if (r < 0) {
        perror("HIDIOCSFEATURE");
        return 1;
    }
    printf("feature report 0x%02x sent: %d bytes\n", report[0], r);
    close(fd);
    free(node);
    return 0;
}
