/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udev-monitor: prints the usb, hid and hidraw uevents a libudev monitor sees, one per line:
 *     ACTION SUBSYSTEM DEVTYPE NAME [PRODUCT]
 * e.g. "add usb usb_device 1-1.2 483/df11/2200", "remove hidraw - hidraw0".
 *
 * usage: udev-monitor [--ready FILE] [--count N] [--timeout SECONDS] [--delay SECONDS]
 * --ready creates FILE once the monitor listens (tests wait for it before acting); --count
 * exits after N events; --timeout (default 10) exits anyway; --delay sleeps before reading
 * anything, like a busy client whose uevents queue up meanwhile. Kernel (not udev) events only
 * come through udev in a real system, and umockdev sends them as udev events: we listen there. */
#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    const char *ready = NULL;
    long count = -1;
    double timeout = 10, delay = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ready") == 0 && i + 1 < argc)
            ready = argv[++i];
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--delay") == 0 && i + 1 < argc)
            delay = strtod(argv[++i], NULL);
        else {
            fprintf(stderr, "usage: udev-monitor [--ready FILE] [--count N] [--timeout S] [--delay S]\n");
            return 2;
        }
    }

    struct udev *udev = udev_new();
    struct udev_monitor *mon = udev ? udev_monitor_new_from_netlink(udev, "udev") : NULL;
    if (!mon || udev_monitor_filter_add_match_subsystem_devtype(mon, "usb", NULL) < 0 ||
        udev_monitor_filter_add_match_subsystem_devtype(mon, "hid", NULL) < 0 ||
        udev_monitor_filter_add_match_subsystem_devtype(mon, "hidraw", NULL) < 0 ||
        udev_monitor_enable_receiving(mon) < 0) {
        fprintf(stderr, "udev-monitor: cannot set up the monitor\n");
        return 1;
    }
    if (ready) {
        int fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
            close(fd);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (delay > 0)
        usleep((useconds_t) (delay * 1e6));

    double end = now_s() + timeout;
    while (count != 0 && now_s() < end) {
        struct pollfd p = { udev_monitor_get_fd(mon), POLLIN, 0 };
        int r = poll(&p, 1, (int) ((end - now_s()) * 1000) + 1);
        if (r < 0 && errno != EINTR)
            return 1;
        if (r <= 0)
            continue;
        struct udev_device *d = udev_monitor_receive_device(mon);
        if (!d)
            continue;
        const char *devtype = udev_device_get_devtype(d);
        const char *product = udev_device_get_property_value(d, "PRODUCT");
        printf("%s %s %s %s%s%s\n", udev_device_get_action(d), udev_device_get_subsystem(d),
               devtype ? devtype : "-", udev_device_get_sysname(d),
               product && devtype && strcmp(devtype, "usb_device") == 0 ? " " : "",
               product && devtype && strcmp(devtype, "usb_device") == 0 ? product : "");
        udev_device_unref(d);
        if (count > 0)
            count--;
    }
    udev_monitor_unref(mon);
    udev_unref(udev);
    return 0;
}
